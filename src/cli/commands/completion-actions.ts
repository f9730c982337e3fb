/** What `spotrun completion` does, imported only when it runs (its definition is in completion.ts). */

import type { CommandContext, CommandResult } from "../command.js";
import { completionScript } from "../completion.js";
import type { Shell } from "../completion-shells.js";
import { buildProgram } from "../program.js";

export async function completion(_ctx: CommandContext, args: string[]): Promise<CommandResult> {
  const shell = args[0] as Shell;
  const script = completionScript(shell, buildProgram());
  // The script is what is asked for, with or without --json (as `schema` prints its document).
  return { data: { shell, script }, human: script };
}
