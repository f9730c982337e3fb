import { Option } from "commander";
import { usageError } from "../../base/errors.js";
import { InstanceId } from "../../base/ids.js";
import { PROVIDERS, type ProviderKind } from "../../spec/task-schema.js";
import type { CommandSpec } from "../command.js";
import { table } from "../output.js";
import { asUserError } from "./launch.js";

/** `spotrun terminate ID…`: end instances started by `spotrun launch` (or any the provider can reach). */
export const terminateCommand: CommandSpec = {
  name: "terminate <ids...>",
  summary: "Terminate instances by id",
  examples: ["spotrun terminate i-0abc123def4567890", "spotrun terminate i-0abc123def4567890 i-0fed --region eu-west-1 --json"],
  options: (cmd) =>
    cmd
      .addOption(new Option("--provider <provider>", "where the instances live").choices([...PROVIDERS]).default("aws"))
      .option("--region <region>", "AWS region of the instances (default: AWS_REGION or the profile's)"),
  async run(ctx, args, opts) {
    const kind = String(opts.provider ?? "aws") as ProviderKind;
    if (args.length === 0) throw usageError("no instance ids given", "spotrun terminate i-0abc123def4567890");
    // Instance ids are regional: the provider's default client follows the standard chain.
    if (opts.region !== undefined) process.env.AWS_REGION = String(opts.region);
    const { createProvider } = await import("../../providers/registry.js");
    const provider = await createProvider(kind, { home: ctx.home, logger: ctx.logger });
    try {
      const ids = args.map(InstanceId);
      await provider.terminate(ids);
      const seen = new Map((await provider.describe(ids)).map((i) => [i.id as string, i.status as string]));
      const rows = ids.map((id) => ({ id, state: seen.get(id) ?? "gone" }));
      return {
        data: { terminated: rows },
        human: table(
          ["INSTANCE", "STATE"],
          rows.map((r) => [r.id, r.state]),
        ),
      };
    } catch (e) {
      throw asUserError(e);
    } finally {
      await provider.close?.();
    }
  },
};
