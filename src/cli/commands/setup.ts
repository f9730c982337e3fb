import { existsSync } from "node:fs";
import { join } from "node:path";
import { ExitCode, usageError } from "../../base/errors.js";
import { PROVIDERS, type ProviderKind } from "../../spec/task-limits.js";
import type { CommandSpec } from "../command.js";

export const setupCommand: CommandSpec = {
  name: "setup",
  summary: "Check what spotrun and the providers need (SSH key, rsync, ssh, tmux, credentials) and fix what can be fixed safely",
  examples: ["spotrun setup", "spotrun setup --fix", "spotrun setup --provider local,aws --json"],
  options: (cmd) =>
    cmd
      .option("--fix", "apply the safe automatic fixes (e.g. generate the SSH key), then check again")
      .option("--provider <kinds>", `comma-separated providers to check, or "all" (default: the configured ones)`),
  async run(ctx, _args, opts) {
    const kinds = opts.provider === undefined ? configuredProviders(process.env) : parseKinds(opts.provider);
    ctx.out.info(
      `checking: spotrun, ${kinds.join(", ")}${opts.provider === undefined ? " (the configured providers; --provider all checks every one)" : ""}`,
    );
    const { coreSetupChecks } = await import("../setup/core-setup-checks.js");
    const { providerSetupChecks } = await import("../../providers/provider-setup-checks.js");
    const { runSetupChecks } = await import("../setup/run-setup-checks.js");
    const { renderSetupReport, setupReportJson } = await import("../setup/render-setup-report.js");
    const groups = [
      { source: "spotrun", checks: coreSetupChecks({ home: ctx.home }) },
      ...(await providerSetupChecks(kinds, ctx.home)).map((g) => ({ source: g.kind, checks: g.checks })),
    ];
    const reports = await runSetupChecks(groups, { fix: Boolean(opts.fix) });
    const data = setupReportJson(reports);
    return { data, human: await renderSetupReport(reports), exitCode: data.ok ? ExitCode.ok : ExitCode.failed };
  },
};

/**
 * The providers this machine is set up to use: local always, a cloud when its own configuration
 * says so (the variables and files its CLI and SDK read), so a local-only user sees no cloud noise.
 */
export function configuredProviders(env: NodeJS.ProcessEnv): ProviderKind[] {
  const home = env.HOME ?? "";
  const has = (p: string) => existsSync(join(home, p));
  const kinds: ProviderKind[] = ["local"];
  if (env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_ENDPOINT_URL || has(".aws/credentials") || has(".aws/config"))
    kinds.push("aws");
  if (
    env.GOOGLE_APPLICATION_CREDENTIALS ||
    env.GOOGLE_CLOUD_PROJECT ||
    has(".config/gcloud/application_default_credentials.json")
  )
    kinds.push("gcp");
  if (env.VAST_API_KEY || has(".config/vastai/vast_api_key") || has(".vast_api_key")) kinds.push("vast");
  return kinds;
}

function parseKinds(v: unknown): ProviderKind[] {
  if (v === "all") return [...PROVIDERS];
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
