import { type CommandSpec, lazyRun } from "../command.js";

export const logsCommand: CommandSpec = {
  name: "logs <job>",
  summary: "Print a job's output, collected from every attempt; --follow streams until it ends",
  examples: [
    "spotrun logs j-lx2k9f3a1b2c",
    "spotrun logs my-training --follow",
    "spotrun logs j-lx2k9f3a1b2c --tail 20",
    "spotrun logs j-lx2k9f3a1b2c --since 4096 --json   # what came after byte 4096; next_offset says where to go on",
  ],
  options: (cmd) =>
    cmd
      .option("-f, --follow", "keep streaming until the job ends (progress on stderr)")
      .option("-n, --tail <lines>", "only the last N lines")
      .option("--since <offset>", "only what came after this byte offset (a previous --json read's next_offset)"),
  run: lazyRun(
    () => import("./logs-actions.js"),
    (m) => m.logs,
  ),
};
