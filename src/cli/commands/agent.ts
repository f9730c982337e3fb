import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseDuration } from "../../base/duration.js";
import { ExitCode, SpotrunError, usageError } from "../../base/errors.js";
import type { CommandSpec } from "../command.js";

export const agentRunCommand: CommandSpec = {
  name: "agent run",
  summary: "On an instance: supervise a job's run, watch for interruption notices, checkpoint (started by the controller)",
  examples: ["spotrun agent run --config ~/.spotrun/agent.json"],
  options: (cmd) => cmd.requiredOption("--config <file>", "agent configuration written by the controller"),
  async run(_ctx, _args, opts) {
    const { runAgent } = await import("../../agent/agent-main.js");
    // Exit at once: the instance may be reclaimed any moment and nothing else is left to do.
    process.exit(await runAgent(String(opts.config)));
  },
};

export const agentSaveCommand: CommandSpec = {
  name: "agent save",
  summary: "On an instance whose agent died: run the checkpoint hook and upload one generation (GCE shutdown script path)",
  examples: ["spotrun agent save --config ~/.spotrun/agent.json --reason shutdown"],
  options: (cmd) =>
    cmd
      .requiredOption("--config <file>", "the agent configuration the controller wrote")
      .option("--reason <why>", "recorded in the generation's manifest", "shutdown")
      .option("--window <duration>", "time until the machine goes", "25s"),
  async run(_ctx, _args, opts) {
    const { saveOnce } = await import("../../agent/save-once.js");
    const windowMs = parseDuration(String(opts.window));
    if (windowMs === undefined) throw usageError(`--window ${opts.window} is not a duration`);
    const generation = await saveOnce(String(opts.config), String(opts.reason), windowMs);
    return { data: { generation }, human: generation ? `uploaded ${generation}` : "nothing to upload" };
  },
};

export const agentWatchCommand: CommandSpec = {
  name: "agent watch",
  summary: "Print each interruption notice as one JSON line the moment it is seen (rehearse against a metadata mock)",
  examples: [
    "spotrun agent watch --provider aws",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT=http://localhost:1338 spotrun agent watch --provider aws --json",
    "GCE_METADATA_HOST=localhost:8080 spotrun agent watch --provider gcp --once",
  ],
  options: (cmd) =>
    cmd
      .option("--provider <kind>", "aws | gcp | local (local speaks IMDSv2)", "aws")
      .option("--endpoint <url>", "metadata endpoint (default: as the SDKs resolve it)")
      .option("--poll <duration>", "poll interval", "250ms")
      .option("--once", "exit after the first interruption notice"),
  async run(ctx, _args, opts) {
    const pollMs = parseDuration(String(opts.poll));
    if (pollMs === undefined) throw usageError(`--poll ${opts.poll} is not a duration`);
    let watcher: import("../../agent/notice.js").NoticeWatcher;
    const kind = String(opts.provider);
    if (kind === "aws" || kind === "local") {
      const { ImdsWatcher } = await import("../../agent/watchers/imds-watcher.js");
      watcher = new ImdsWatcher({ pollMs, ...(opts.endpoint ? { endpoint: String(opts.endpoint) } : {}) });
    } else if (kind === "gcp") {
      const { createWatcher } = await import("../../agent/watchers/create-watcher.js");
      const w = await createWatcher({ notice: { source: "gce-metadata", poll_ms: pollMs } } as never);
      if (!w) throw new Error("no GCE watcher");
      watcher = w;
    } else
      throw usageError(
        `--provider ${kind} has no on-instance notice`,
        "use aws, gcp or local (Vast.ai interruptions are seen by the controller)",
      );
    await new Promise<void>((done) => {
      watcher.start((n) => {
        const value = {
          kind: n.kind,
          source: n.source,
          seen_at: new Date(n.seenAt).toISOString(),
          ...(n.kind === "interruption" ? { action: n.action, time: new Date(n.deadline).toISOString() } : {}),
          ...(n.kind === "maintenance" ? { code: n.code } : {}),
        };
        process.stdout.write(`${JSON.stringify(value)}\n`);
        if (opts.once && n.kind === "interruption") done();
      });
      ctx.signal.addEventListener("abort", () => done(), { once: true });
      process.once("SIGINT", () => done());
    });
    await watcher.stop();
    return {};
  },
};

export const agentFollowCommand: CommandSpec = {
  name: "agent follow",
  summary:
    "On an instance: stream the agent's events and run log from byte offsets as framed lines, until stdin closes (the controller's channel)",
  examples: [
    "spotrun agent follow --events-offset 0 --log-offset 0",
    "spotrun agent follow --events-offset 1234 --log-offset 56789 --dir ~/.spotrun",
  ],
  options: (cmd) =>
    cmd
      .option("--events-offset <bytes>", "byte offset in events.jsonl to start from", "0")
      .option("--log-offset <bytes>", "byte offset in run.log to start from", "0")
      .option("--dir <dir>", "the agent's state directory", ".spotrun")
      .option("--heartbeat-ms <ms>", "heartbeat interval when idle", "2000"),
  async run(_ctx, _args, opts) {
    // Same parser as instance-main's fast path, so both spell errors the same way.
    const { followMain, parseFollowArgs } = await import("../../agent/follow.js");
    const parsed = parseFollowArgs([
      "--events-offset",
      String(opts.eventsOffset),
      "--log-offset",
      String(opts.logOffset),
      "--dir",
      String(opts.dir),
      "--heartbeat-ms",
      String(opts.heartbeatMs),
    ]);
    if (typeof parsed === "string") throw usageError(parsed);
    return { exitCode: await followMain(parsed) };
  },
};

export const agentGuardCommand: CommandSpec = {
  name: "agent guard",
  summary: "On a `spotrun launch` instance: on a notice run the checkpoint script once, within its timeout, then exit",
  examples: ["spotrun agent guard --provider aws --config /etc/spotrun/spot.json"],
  options: (cmd) =>
    cmd
      .option("--provider <kind>", "aws | gcp | local", "aws")
      .option("--config <file>", "spot configuration: {checkpoint_script, hook_timeout_ms, on_interruption}")
      .option("--checkpoint-script <path>", "script or s3:// URL to run on a notice")
      .option("--hook-timeout <duration>", "how long the script may run", "90s")
      .option("--log-file <file>", "where the script's output goes (default /var/log/spotrun-checkpoint.log)")
      .option("--state-dir <dir>", "where handled notices are remembered across restarts (default /var/lib/spotrun)"),
  async run(_ctx, _args, opts) {
    const { guard } = await import("../../agent/guard.js");
    const fileCfg = opts.config
      ? (JSON.parse(readFileSync(resolve(String(opts.config)), "utf8")) as Record<string, unknown>)
      : {};
    const timeout = parseDuration(String(opts.hookTimeout)) ?? 90_000;
    // spot.json (the user data's) says checkpoint_timeout_s; a hand-written config may say hook_timeout_ms.
    const fileTimeout =
      fileCfg.hook_timeout_ms ??
      (fileCfg.checkpoint_timeout_s === undefined ? undefined : Number(fileCfg.checkpoint_timeout_s) * 1000);
    const cfg = {
      hook_timeout_ms: Number(fileTimeout ?? timeout),
      on_interruption: String(fileCfg.on_interruption ?? "checkpoint"),
      ...((fileCfg.checkpoint_script ?? opts.checkpointScript)
        ? { checkpoint_script: String(fileCfg.checkpoint_script ?? opts.checkpointScript) }
        : {}),
      ...(opts.logFile !== undefined ? { log_file: String(opts.logFile) } : {}),
      ...(opts.stateDir !== undefined ? { state_dir: String(opts.stateDir) } : {}),
    };
    const { createWatcher } = await import("../../agent/watchers/create-watcher.js");
    const watcher = await createWatcher({
      notice: { source: opts.provider === "gcp" ? "gce-metadata" : "aws-imds", poll_ms: 250 },
    } as never);
    if (!watcher) throw new SpotrunError("usage", `no notice watcher for ${opts.provider}`);
    const res = await guard(cfg, watcher, (e) => process.stdout.write(`${JSON.stringify(e)}\n`));
    return { exitCode: res && res.outcome !== "ok" ? ExitCode.failed : ExitCode.ok };
  },
};
