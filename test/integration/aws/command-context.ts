import { silentLogger } from "../../../src/base/logger.js";
import type { CommandContext, Output } from "../../../src/cli/command.js";

/** A command context whose output is recorded, for calling a CommandSpec's handler directly. */
export interface RecordedOutput extends Output {
  infos: string[];
  warns: string[];
}

export function commandContext(home: string, json = true): { ctx: CommandContext; out: RecordedOutput } {
  const infos: string[] = [];
  const warns: string[] = [];
  const out: RecordedOutput = {
    json,
    infos,
    warns,
    info: (m) => void infos.push(m),
    warn: (m) => void warns.push(m),
    line: () => {},
  };
  return { ctx: { home, json, debug: false, out, logger: silentLogger, signal: new AbortController().signal }, out };
}
