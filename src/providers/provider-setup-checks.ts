import { importCloud } from "../base/cloud-sdk.js";
import type { ProviderKind } from "../spec/task-limits.js";
import type { SetupCheck } from "./setup-check.js";

type ChecksModule = { setupChecks(opts: { home: string }): SetupCheck[] };

/**
 * The providers that bring `providers/<kind>/setup-checks.ts`; one without has nothing to check.
 * Each import is named in full, so a module that fails to load is reported (a missing cloud SDK
 * as the one line that says what to install), never mistaken for an absent one.
 */
const CHECKS: Partial<Record<ProviderKind, () => Promise<ChecksModule>>> = {
  local: () => import("./local/setup-checks.js"),
  aws: () => importCloud("aws", "the aws setup checks", () => import("./aws/setup-checks.js")),
  gcp: () => importCloud("gcp", "the gcp setup checks", () => import("./gcp/setup-checks.js")),
  vast: () => import("./vast/setup-checks.js"),
};

export async function providerSetupChecks(
  kinds: readonly ProviderKind[],
  home: string,
): Promise<{ kind: ProviderKind; checks: SetupCheck[] }[]> {
  const out: { kind: ProviderKind; checks: SetupCheck[] }[] = [];
  for (const kind of kinds) {
    const load = CHECKS[kind];
    if (load) out.push({ kind, checks: (await load()).setupChecks({ home }) });
  }
  return out;
}
