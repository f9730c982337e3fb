import { table } from "../output.js";
import type { CheckReport } from "./run-setup-checks.js";

/** ✓/✗ per check, what is wrong and what to do; the summary line says whether anything is left. */
export async function renderSetupReport(reports: CheckReport[]): Promise<string> {
  const rows = reports.map((r) => [
    r.ok ? "✓" : "✗",
    r.source,
    r.title,
    r.ok ? `${r.fixed ? "fixed; " : ""}${r.detail ?? ""}` : (r.problem ?? ""),
    r.ok ? "" : (r.fix ?? ""),
  ]);
  const failed = reports.filter((r) => !r.ok).length;
  const summary = failed === 0 ? `all ${reports.length} checks passed` : `${failed} of ${reports.length} checks failed`;
  return `${await table(["", "from", "check", "status / problem", "fix"], rows)}\n\n${summary}`;
}

/** The `--json` document: snake_case, every check named by `id`. */
export const setupReportJson = (reports: CheckReport[]) => ({
  ok: reports.every((r) => r.ok),
  checks: reports.map((r) => ({
    id: r.id,
    title: r.title,
    source: r.source,
    ok: r.ok,
    fixed: r.fixed,
    detail: r.detail ?? null,
    problem: r.problem ?? null,
    fix: r.fix ?? null,
  })),
});
