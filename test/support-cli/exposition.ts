import { spawnSync } from "node:child_process";

/** Samples of a Prometheus text exposition: name, labels and value of each line that is not a comment. */
export function parseExposition(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of a metric's samples whose labels include `where`. */
export const metricSum = (text: string, name: string, where: Record<string, string> = {}): number =>
  parseExposition(text)
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);

/** `promtool check metrics` on an exposition: its complaints, or "" when it is clean. */
export function promtoolProblems(text: string): string {
  const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  if (r.error) throw r.error;
  return r.status === 0 ? "" : `${r.stdout}${r.stderr}`.trim() || `promtool exited ${r.status}`;
}
