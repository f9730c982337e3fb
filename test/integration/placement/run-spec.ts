import { Command } from "commander";
import { offersCommand } from "../../../src/cli/commands/offers.js";
import { simulateCommand } from "../../../src/cli/commands/simulate.js";
import { globalOptions, mount } from "../../../src/cli/run-command.js";

/**
 * Runs one of this folder's command specs through the real CLI wrapper (rendering, --json, exit
 * codes) in a child process, before the specs are registered in main.ts:
 * `node run-spec.js simulate --trace … --json`.
 */
const program = globalOptions(new Command("spotrun"));
for (const spec of [simulateCommand, offersCommand]) mount(program, spec);
await program.parseAsync(process.argv);
