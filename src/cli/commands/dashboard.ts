import { DEFAULT_DASHBOARD_PORT } from "../../config/effective-settings.js";
import { type CommandSpec, lazyRun } from "../command.js";

export const dashboardCommand: CommandSpec = {
  name: "dashboard",
  summary: "A local web page of jobs, their attempt timelines, instances, sessions and cost, live; prints its URL (with a token)",
  examples: [
    "spotrun dashboard                    # http://127.0.0.1:8042/?token=…",
    "spotrun dashboard --port 9000",
    'spotrun dashboard --listen 0.0.0.0:8042 --token "$(cat ~/.spotrun/dashboard-token)"   # reachable from other machines',
    'curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8042/metrics',
  ],
  options: (cmd) =>
    cmd
      .option(
        "--port <n>",
        `port on 127.0.0.1 (default: the config's dashboard.port, else ${DEFAULT_DASHBOARD_PORT}; 0 picks one)`,
      )
      .option("--listen <host:port>", "listen elsewhere than loopback; needs --token")
      .option("--token <secret>", "the access token (default: a random one, printed in the URL)"),
  run: lazyRun(
    () => import("./dashboard-actions.js"),
    (m) => m.dashboard,
  ),
};
