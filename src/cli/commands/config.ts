import { effectiveSettings } from "../../config/effective-settings.js";
import { loadUserConfig } from "../../config/load-user-config.js";
import type { CommandSpec } from "../command.js";
import { table } from "../output.js";

const show = (v: unknown): string =>
  v === null || v === undefined ? "-" : typeof v === "string" ? v : Array.isArray(v) && v.length === 0 ? "[]" : JSON.stringify(v);

export const configShowCommand: CommandSpec = {
  name: "config show",
  summary: "Print the effective settings (home, state store, defaults from ~/.spotrun/config.yaml) and where each came from",
  examples: [
    "spotrun config show",
    "spotrun config show --json",
    "SPOTRUN_CONFIG=./team.yaml spotrun config show",
    `# ~/.spotrun/config.yaml:
  #   resources: {provider: aws, region: us-east-1, spot: true, max_price: 0.5}
  #   checkpoint: {store: s3://my-bucket/ckpt}
  #   dashboard: {port: 8042}`,
  ],
  async run(ctx, _args, opts) {
    const loaded = loadUserConfig(ctx.home);
    const homeSource = opts.home !== undefined ? "--home" : process.env.SPOTRUN_HOME ? "SPOTRUN_HOME" : "default";
    const settings = effectiveSettings({ dir: ctx.home, source: homeSource }, loaded);
    return {
      data: { config_file: loaded.file, found: loaded.found, settings },
      human: table(
        ["SETTING", "VALUE", "FROM"],
        settings.map((s) => [s.key, show(s.value), s.source]),
      ),
    };
  },
};
