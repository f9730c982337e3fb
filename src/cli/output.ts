import type { Output } from "./command.js";

/** Human text and progress to stderr; data to stdout. With --json, streams are one object per line. */
export function createOutput(json: boolean): Output {
  const color = !process.env.NO_COLOR && process.stderr.isTTY;
  const yellow = (s: string) => (color ? `\x1b[33m${s}\x1b[0m` : s);
  return {
    json,
    info: (m) => process.stderr.write(`${m}\n`),
    warn: (m) => process.stderr.write(`${yellow("warning:")} ${m}\n`),
    line: (human, value) => {
      if (json) process.stdout.write(`${JSON.stringify(value ?? { line: human })}\n`);
      else process.stdout.write(`${human}\n`);
    },
  };
}

/** A plain aligned table; no colours or box drawing so it pastes well and diffs well. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ")).join("\n");
}
