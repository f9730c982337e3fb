import { type CommandSpec, lazyRun } from "../command.js";

export const controllerRunCommand: CommandSpec = {
  name: "controller run",
  summary: "Run the controller for this state store in the foreground (normally started for you)",
  examples: [
    "spotrun controller run",
    "spotrun controller run --exit-when-idle",
    "SPOTRUN_STATE_URL=postgres://spotrun@db.internal/spotrun spotrun controller run --max-jobs 200   # one of a team's controllers",
    "spotrun controller run --metrics 127.0.0.1:9464   # Prometheus scrapes http://127.0.0.1:9464/metrics",
  ],
  options: (cmd) =>
    cmd
      .option("--exit-when-idle", "stop when no job is active")
      .option(
        "--max-jobs <n>",
        "on a shared (PostgreSQL) store: lease at most this many jobs, leaving the rest to other controllers",
      )
      .option("--metrics <host:port>", "serve Prometheus metrics at http://HOST:PORT/metrics while it runs (:PORT is loopback)"),
  run: lazyRun(
    () => import("./controller-actions.js"),
    (m) => m.controllerRun,
  ),
};
