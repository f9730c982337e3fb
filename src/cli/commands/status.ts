import { type CommandSpec, lazyRun } from "../command.js";

export const statusCommand: CommandSpec = {
  name: "status [job]",
  summary: "Show managed jobs (active, and finished in the last 24 h), one job, or one job array",
  examples: [
    "spotrun status",
    "spotrun status j-lx2k9f3a1b2c --json",
    "spotrun status arr-lx2k9f3a1b2c        # the members of a job array",
    "spotrun status --all",
    "spotrun status --since 7d",
    "spotrun status --watch                 # redraw every 2 s until Ctrl-C",
  ],
  options: (cmd) =>
    cmd
      .option("-a, --all", "every job, however long ago it finished")
      .option("--since <when>", "finished jobs since this long ago (6h, 2d) or this time (RFC 3339); default 24h")
      .option("--array <id>", "only the members of this job array")
      .option("-w, --watch", "redraw every 2 seconds until Ctrl-C (with --json: one document per redraw)"),
  run: lazyRun(
    () => import("./status-actions.js"),
    (m) => m.status,
  ),
};
