import { Command } from "commander";
import { packageVersion } from "../base/package-version.js";
import { commands } from "./commands/index.js";
import { globalOptions, mount } from "./run-command.js";

/** The whole command tree, every definition mounted: what `main` parses and `completion` describes. */
export function buildProgram(argv: readonly string[] = [], opts: { json?: boolean } = {}): Command {
  const program = globalOptions(new Command("spotrun"))
    .description(
      "Run long, fault-tolerant work on spot capacity: launch, checkpoint before the reclaim, resume, and account for every cent.",
    )
    .version(packageVersion())
    .addHelpText(
      "after",
      `
Examples:
  $ spotrun run examples/quickstart/task.yaml      run a managed job, surviving interruptions
  $ spotrun status --json                          jobs as one JSON document
  $ spotrun logs my-job --follow                   stream a job's output
  $ spotrun cost                                   spend, on-demand baseline, savings

Environment: SPOTRUN_HOME (state directory, default ~/.spotrun), SPOTRUN_STATE_URL (a team's postgres:// store instead of SQLite), NO_COLOR.
Exit codes: 0 ok, 1 failed, 2 bad usage or input, 3 not found, 4 provider refused, 5 interrupted.`,
    );
  // Commander's own errors become ours (one line, or one JSON object, exit 2); under --json it
  // prints nothing itself, not even the help it shows for a missing command. Set before the
  // commands are mounted: each copies its parent's output settings when it is made.
  program.configureOutput({
    outputError: () => {},
    ...(opts.json ? { writeErr: () => {} } : {}),
  });
  for (const spec of commands) mount(program, spec, argv);
  return program;
}
