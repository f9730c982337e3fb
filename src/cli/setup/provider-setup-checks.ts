import { access } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { ProviderKind } from "../../spec/task-schema.js";
import type { SetupCheck } from "../setup-check.js";

type ChecksModule = { setupChecks?: (opts: { home: string }) => SetupCheck[] };

/**
 * Each provider may bring `providers/<kind>/setup-checks.ts`; a provider without one has nothing
 * to check. Whether the module exists is asked of the file system, so a module that exists but
 * fails to load is reported rather than mistaken for an absent one.
 */
export async function providerSetupChecks(
  kinds: readonly ProviderKind[],
  home: string,
): Promise<{ kind: ProviderKind; checks: SetupCheck[] }[]> {
  const out: { kind: ProviderKind; checks: SetupCheck[] }[] = [];
  for (const kind of kinds) {
    const url = new URL(`../../providers/${kind}/setup-checks.js`, import.meta.url);
    try {
      await access(fileURLToPath(url));
    } catch {
      continue;
    }
    const mod = (await import(url.href)) as ChecksModule;
    if (typeof mod.setupChecks === "function") out.push({ kind, checks: mod.setupChecks({ home }) });
  }
  return out;
}
