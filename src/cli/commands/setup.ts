import { ExitCode, usageError } from "../../base/errors.js";
import { PROVIDERS, type ProviderKind } from "../../spec/task-schema.js";
import type { CommandSpec } from "../command.js";

export const setupCommand: CommandSpec = {
  name: "setup",
  summary: "Check what spotrun and the providers need (SSH key, rsync, ssh, tmux, credentials) and fix what can be fixed safely",
  examples: ["spotrun setup", "spotrun setup --fix", "spotrun setup --provider local,aws --json"],
  options: (cmd) =>
    cmd
      .option("--fix", "apply the safe automatic fixes (e.g. generate the SSH key), then check again")
      .option("--provider <kinds>", `comma-separated providers to check (default: all of ${PROVIDERS.join(", ")})`),
  async run(ctx, _args, opts) {
    const kinds = parseKinds(opts.provider);
    const { coreSetupChecks } = await import("../setup/core-setup-checks.js");
    const { providerSetupChecks } = await import("../setup/provider-setup-checks.js");
    const { runSetupChecks } = await import("../setup/run-setup-checks.js");
    const { renderSetupReport, setupReportJson } = await import("../setup/render-setup-report.js");
    const groups = [
      { source: "spotrun", checks: coreSetupChecks({ home: ctx.home }) },
      ...(await providerSetupChecks(kinds, ctx.home)).map((g) => ({ source: g.kind, checks: g.checks })),
    ];
    const reports = await runSetupChecks(groups, { fix: Boolean(opts.fix) });
    const data = setupReportJson(reports);
    return { data, human: renderSetupReport(reports), exitCode: data.ok ? ExitCode.ok : ExitCode.failed };
  },
};

function parseKinds(v: unknown): ProviderKind[] {
  if (v === undefined) return [...PROVIDERS];
  const kinds = String(v)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const k of kinds) {
    if (!(PROVIDERS as readonly string[]).includes(k))
      throw usageError(`unknown provider ${JSON.stringify(k)} in --provider`, `use some of ${PROVIDERS.join(", ")}`);
  }
  return kinds as ProviderKind[];
}
