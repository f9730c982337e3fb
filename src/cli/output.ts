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

/**
 * A plain aligned table; no box drawing so it pastes well and diffs well. Columns are measured
 * in terminal columns, not UTF-16 units: ⚡ takes two, and colour codes none. The measure is
 * imported when a table is drawn, so `--json` and `--help` never load its Unicode tables.
 */
export async function table(headers: string[], rows: (string | number)[][]): Promise<string> {
  const { default: stringWidth } = await import("string-width");
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => stringWidth(r[i] ?? ""))));
  return cells
    .map((r) =>
      r.map((c, i) => (i === r.length - 1 ? c : c + " ".repeat(Math.max(0, (widths[i] ?? 0) - stringWidth(c))))).join("  "),
    )
    .join("\n");
}

/** Whether stdout may carry colour: a terminal, and NO_COLOR unset (https://no-color.org). */
export const stdoutColor = (): boolean => !process.env.NO_COLOR && Boolean(process.stdout.isTTY);

const STATE_COLOR: Record<string, string> = {
  PENDING: "36",
  PROVISIONING: "36",
  SETTING_UP: "36",
  RUNNING: "32",
  RECOVERING: "33",
  SUCCEEDED: "32;1",
  FAILED: "31;1",
  CANCELLED: "2",
  OVER_BUDGET: "35",
};

/** A job state as a person reads it on a terminal: green running, yellow recovering, red failed. */
export const paintState = (state: string, color: boolean): string =>
  color && STATE_COLOR[state] ? `\x1b[${STATE_COLOR[state]}m${state}\x1b[0m` : state;
