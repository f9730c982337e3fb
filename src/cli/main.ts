import { Command } from "commander";
import { commands } from "./commands/index.js";
import { globalOptions, mount, reportError } from "./run-command.js";

export async function main(argv: string[]): Promise<void> {
  const program = globalOptions(new Command("spotrun"))
    .description(
      "Run long, fault-tolerant work on spot capacity: launch, checkpoint before the reclaim, resume, and account for every cent.",
    )
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage and examples)")
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
  program.exitOverride();
  for (const spec of commands) mount(program, spec);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const code = (e as { code?: string; exitCode?: number }).code;
    if (code === "commander.helpDisplayed" || code === "commander.version" || code === "commander.help") {
      process.exitCode = 0;
      return;
    }
    if (typeof code === "string" && code.startsWith("commander.")) {
      process.exitCode = 2;
      return;
    }
    process.exitCode = reportError(e, argv.includes("--debug"));
  }
}
