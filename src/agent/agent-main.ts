import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { isAlive } from "../base/process.js";
import { Agent } from "./agent.js";
import { agentConfigSchema } from "./protocol.js";
import { createWatcher } from "./watchers/create-watcher.js";

/** One agent per instance: a pid file taken exclusively, so a repeated bootstrap cannot start a second. */
function takePidFile(path: string): boolean {
  for (let i = 0; i < 2; i++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number(readFileSync(path, "utf8"));
      if (pid && isAlive(pid)) return false;
      unlinkSync(path);
    }
  }
  return false;
}

/**
 * `spotrun agent run --config FILE`. bin/spotrun.js comes straight here, without the CLI's command
 * table, because every millisecond of agent start-up is recovery time.
 */
export async function runAgent(configPath: string): Promise<number> {
  // The config sits in `<home>/.spotrun/`; relative paths are from where the controller started us.
  const file = isAbsolute(configPath) ? configPath : resolve(process.cwd(), configPath);
  const home = dirname(dirname(file));
  const cfg = agentConfigSchema.parse(JSON.parse(readFileSync(file, "utf8")));
  if (!takePidFile(join(dirname(file), "agent.pid"))) {
    process.stderr.write("an agent is already running here\n");
    return 0;
  }
  const agent = new Agent(cfg, home, createWatcher);
  const outcome = await agent.run();
  await agent.cleanup();
  return outcome === "succeeded" || outcome === "preempted" || outcome === "stopped" ? 0 : 1;
}
