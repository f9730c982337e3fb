import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { resolve } from "node:path";
import { usageError } from "../../base/errors.js";
import type { CommandSpec } from "../command.js";

/** Runs on the instance as the session job's `run`; not for people. */
export const sessionSuperviseCommand: CommandSpec = {
  name: "session supervise",
  hidden: true,
  summary: "(internal) the session supervisor the session's job runs on its instance",
  examples: [`SPOTRUN_SESSION_SPEC='{…}' spotrun session supervise`],
  options: (cmd) => cmd.option("--spec <file>", "the supervisor spec (default: $SPOTRUN_SESSION_SPEC)"),
  async run(ctx, _args, opts) {
    const [{ SessionEvents }, { SessionSupervisor }, { parseSupervisorSpec, SPEC_ENV }] = await Promise.all([
      import("../../sessions/session-events.js"),
      import("../../sessions/session-supervisor.js"),
      import("../../sessions/supervisor-spec.js"),
    ]);
    const text = opts.spec ? await readFile(String(opts.spec), "utf8") : process.env[SPEC_ENV];
    if (!text) throw usageError(`no session spec: neither --spec nor $${SPEC_ENV}`, "this command runs on a session's instance");
    const spec = parseSupervisorSpec(text, opts.spec ? String(opts.spec) : `$${SPEC_ENV}`);
    const home = process.env.HOME ?? homedir();
    const checkpointDir = process.env.SPOT_CHECKPOINT_DIR;
    if (!checkpointDir) throw usageError("$SPOT_CHECKPOINT_DIR is not set", "this command runs under the spotrun agent");
    if (spec.volume.path.startsWith("~/")) spec.volume = { ...spec.volume, path: resolve(home, spec.volume.path.slice(2)) };
    const sup = new SessionSupervisor(spec, { home, checkpointDir, cwd: process.cwd() }, SessionEvents.forHome(home));
    const started = await sup.start();
    process.stdout.write(
      `[session] ${spec.session}: ${started.map((a) => `${a.name} ${a.resumed ? "resumed" : "started"}: ${a.command}`).join("; ")}\n`,
    );
    await sup.runUntil(ctx.signal);
    const report = await sup.save();
    process.stdout.write(`[session] ${spec.session}: saved in ${report.total_ms} ms (${report.snapshot_bytes} bytes)\n`);
    return {};
  },
};
