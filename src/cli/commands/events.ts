import { type CommandSpec, lazyRun } from "../command.js";

export const eventsCommand: CommandSpec = {
  name: "events <job>",
  summary: "Print a job's event log (every state change, notice, checkpoint and launch); --follow streams it",
  examples: [
    "spotrun events j-lx2k9f3a1b2c",
    "spotrun events my-training --json            # one document: {id, state, events: [...], next_seq}",
    "spotrun events my-training --follow --json   # one event per line until the job ends",
    "spotrun events my-training --kind notice,attempt_ended",
  ],
  options: (cmd) =>
    cmd
      .option("-f, --follow", "keep printing new events until the job ends")
      .option("--kind <kinds>", "only events of these kinds (comma-separated)"),
  run: lazyRun(
    () => import("./events-actions.js"),
    (m) => m.events,
  ),
};
