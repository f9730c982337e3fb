import { errorMessage } from "../../base/errors.js";
import type { SetupCheck } from "../../providers/setup-check.js";

export interface CheckReport {
  id: string;
  title: string;
  /** `spotrun` for the core checks, otherwise the provider kind. */
  source: string;
  ok: boolean;
  detail?: string;
  problem?: string;
  fix?: string;
  /** An automatic fix ran (and the check was run again after it). */
  fixed: boolean;
}

/**
 * Run every check; with `fix`, apply the automatic fix of each failing one and check again, so
 * the report says how things stand after the fixes. A check that throws is a failed check.
 */
export async function runSetupChecks(
  groups: { source: string; checks: SetupCheck[] }[],
  opts: { fix: boolean },
): Promise<CheckReport[]> {
  const reports: CheckReport[] = [];
  for (const { source, checks } of groups) {
    for (const check of checks) {
      let outcome = await safeRun(check);
      let fixed = false;
      if (!outcome.ok && opts.fix && outcome.autoFix) {
        const failing = outcome;
        try {
          await failing.autoFix!();
          fixed = true;
          outcome = await safeRun(check);
        } catch (e) {
          outcome = { ok: false, problem: `${failing.problem}; the automatic fix failed: ${errorMessage(e)}`, fix: failing.fix };
        }
      }
      const base = { id: check.id, title: check.title, source, fixed };
      if (outcome.ok) reports.push({ ...base, ok: true, ...(outcome.detail ? { detail: outcome.detail } : {}) });
      else reports.push({ ...base, ok: false, problem: outcome.problem, fix: outcome.fix });
    }
  }
  return reports;
}

async function safeRun(check: SetupCheck) {
  try {
    return await check.run();
  } catch (e) {
    return {
      ok: false as const,
      problem: `the check itself failed: ${errorMessage(e)}`,
      fix: "rerun with --debug and report it as a bug",
    };
  }
}
