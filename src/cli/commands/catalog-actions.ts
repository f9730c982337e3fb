/** What `spotrun catalog update` does, imported only when it runs (its flags are defined in catalog.ts). */
import { usageError } from "../../base/errors.js";
import { catalogUpdater } from "../../providers/catalog-update.js";
import type { ProviderKind } from "../../spec/task-limits.js";
import type { CommandContext, CommandResult } from "../command.js";
import { asUserError } from "./launch-actions.js";

export async function catalogUpdate(ctx: CommandContext, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const list = (v: unknown) =>
    v === undefined
      ? undefined
      : String(v)
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
  const regions = list(opts.regions);
  const types = list(opts.types);
  if (regions?.length === 0) throw usageError("--regions is empty", "write it as us-east-1,eu-west-1");
  if (types?.length === 0) throw usageError("--types is empty", "write it as m7i.large,g5.xlarge");
  const update = await catalogUpdater((opts.provider ?? "aws") as ProviderKind);
  try {
    const r = await update({ home: ctx.home, regions, types, warn: (m) => ctx.out.warn(m) });
    return { data: r.data, human: r.summary };
  } catch (e) {
    throw asUserError(e);
  }
}
