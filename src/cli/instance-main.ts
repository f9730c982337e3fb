import { Command } from "commander";
import { packageVersion } from "../base/package-version.js";
import type { CommandSpec } from "./command.js";
import { agentFollowCommand, agentGuardCommand, agentRunCommand, agentSaveCommand, agentWatchCommand } from "./commands/agent.js";
import { sessionSuperviseCommand } from "./commands/session-supervise.js";
import { globalOptions, mount, reportError } from "./run-command.js";

/**
 * The commands that run on an instance, and nothing else: this is the entry of the agent artifact
 * the controller ships (scripts/build-agent.mjs bundles it), so it must not reach the state store,
 * the providers or anything with a native addon.
 */
export const instanceCommands: CommandSpec[] = [
  agentRunCommand,
  agentSaveCommand,
  agentGuardCommand,
  agentWatchCommand,
  agentFollowCommand,
  sessionSuperviseCommand,
];

export async function instanceMain(argv: string[]): Promise<void> {
  const args = argv.slice(2);
  const config = args[0] === "agent" && args[1] === "run" ? args.indexOf("--config") : -1;
  if (config > 0 && args[config + 1] && !args.includes("--help")) {
    // The agent skips the command table: its start-up time is recovery time.
    const { runAgent } = await import("../agent/agent-main.js");
    process.exit(await runAgent(args[config + 1] as string));
  }
  if (args[0] === "agent" && args[1] === "follow" && !args.includes("--help")) {
    // The controller opens a follow on every instance and again after every drop: no command table.
    const { followMain, parseFollowArgs } = await import("../agent/follow.js");
    const parsed = parseFollowArgs(args.slice(2).filter((a) => a !== "--debug"));
    if (typeof parsed === "string") {
      process.stderr.write(`spotrun: ${parsed}\n`);
      process.exit(2);
    }
    process.exit(
      await followMain(parsed).catch((e: unknown) => {
        process.stderr.write(
          `spotrun: agent follow stopped: ${(e as Error)?.message ?? e} — look at the agent's state directory\n`,
        );
        return 1;
      }),
    );
  }
  const program = globalOptions(new Command("spotrun"))
    .description("spotrun on an instance: the agent the controller shipped here")
    .version(packageVersion());
  program.exitOverride();
  for (const spec of instanceCommands) mount(program, spec);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (typeof code === "string" && code.startsWith("commander.")) {
      process.exitCode = code === "commander.helpDisplayed" || code === "commander.version" ? 0 : 2;
      return;
    }
    process.exitCode = reportError(e, { debug: argv.includes("--debug"), json: argv.includes("--json") });
  }
}
