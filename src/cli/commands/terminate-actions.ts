/** What `spotrun terminate` does, imported only when it runs (its flags are defined in terminate.ts). */
import { usageError } from "../../base/errors.js";
import { InstanceId } from "../../base/ids.js";
import type { ProviderKind } from "../../spec/task-limits.js";
import { openApp } from "../app.js";
import type { CommandContext, CommandResult } from "../command.js";
import { table } from "../output.js";
import { asUserError } from "./launch-actions.js";

export async function terminate(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  if (args.length === 0) throw usageError("no instance ids given", "spotrun terminate i-0abc123def4567890");
  const told = opts.provider === undefined ? undefined : (String(opts.provider) as ProviderKind);
  // Instance ids are regional: the provider's default client follows the standard chain.
  if (opts.region !== undefined) process.env.AWS_REGION = String(opts.region);
  const app = await openApp(ctx);
  try {
    const known = await app.store.providersOf(args);
    const groups = new Map<ProviderKind, string[]>();
    for (const id of args) {
      const recorded = known.get(id) as ProviderKind | undefined;
      if (told && recorded && told !== recorded)
        throw usageError(
          `instance ${id} was started on ${recorded}, not ${told}`,
          `drop --provider, or give --provider ${recorded}`,
        );
      const kind = recorded ?? told ?? "aws";
      groups.set(kind, [...(groups.get(kind) ?? []), id]);
    }
    const state = new Map<string, { provider: ProviderKind; state: string }>();
    for (const [kind, group] of groups) {
      const provider = await app.providers.get(kind);
      const ids = group.map(InstanceId);
      await provider.terminate(ids);
      await app.store.endLaunched(group, app.clock.now());
      const seen = new Map((await provider.describe(ids)).map((i) => [i.id as string, i.status as string]));
      for (const id of group) state.set(id, { provider: kind, state: seen.get(id) ?? "gone" });
    }
    const rows = args.map((id) => ({ id, ...(state.get(id) as { provider: ProviderKind; state: string }) }));
    return {
      data: { terminated: rows },
      human: await table(
        ["INSTANCE", "PROVIDER", "STATE"],
        rows.map((r) => [r.id, r.provider, r.state]),
      ),
    };
  } catch (e) {
    throw asUserError(e);
  } finally {
    await app.close();
  }
}
