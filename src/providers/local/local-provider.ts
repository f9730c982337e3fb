import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../../base/atomic-file.js";
import { type Clock, systemClock } from "../../base/clock.js";
import { SpotrunError, usageError } from "../../base/errors.js";
import { InstanceId } from "../../base/ids.js";
import type { Logger } from "../../base/logger.js";
import { exponential, seededRandom } from "../../base/random.js";
import { distFile } from "../../base/self.js";
import type { LocalMarket, Resources } from "../../spec/task-schema.js";
import { LocalTransport } from "../../transport/local/local-transport.js";
import type { SshTarget } from "../../transport/ssh/ssh-target.js";
import type { Transport } from "../../transport/transport.js";
import { type ApiCallCounts, type ApiCallListener, ApiCallMeter, type ApiOutcome } from "../api-calls.js";
import { type CallBudget, processCallBudget } from "../call-budget.js";
import {
  type InstanceInfo,
  type LaunchRequest,
  type LaunchResult,
  type Offer,
  type Provider,
  TAG,
  type TickedMarket,
} from "../provider.js";
import { LOCAL_TYPES, LOCAL_ZONE, localType } from "./catalog.js";
import {
  endedBecause,
  endedStatus,
  hostPidPath,
  type LocalInstanceRecord,
  readHost,
  readHostPid,
  readRecord,
  readStatus,
  writeStatus,
} from "./instance-record.js";
import {
  endInstanceProcesses,
  INSTANCE_MARKER,
  instancePids,
  isAlive,
  killInstanceProcesses,
} from "./kill-instance-processes.js";
import { claimToken, type LaunchClaim, readClaim, reclaimToken } from "./launch-claim.js";
import { loadTraceAvailability, replayClock, type TraceAvailability, type TraceReplay } from "./trace-availability.js";

export interface LocalProviderOptions {
  home: string;
  logger: Logger;
  clock?: Clock;
  /** Told of every control-plane call (launch, describe, list, terminate), as a cloud's provider does. */
  onApiCall?: ApiCallListener;
  budget?: CallBudget;
}

/** The budget's scope of the local "cloud": this machine. */
const LOCAL_SCOPE = "local";
/** A local call fails for local reasons (a file, a process); there is nothing to throttle. */
const localOutcome = (): ApiOutcome => "error";

const DEFAULT_MARKET: LocalMarket = {
  interrupt_after: [],
  seed: 1,
  notice: 120_000,
  refuse_spot: 0,
  boot_failures: 0,
  provisioning_delay: 0,
  time_scale: 1,
  trace_start: 0,
};

/**
 * The built-in provider: an instance is a process group with its own directory (its disk) and a
 * host process that serves an IMDSv2 endpoint and reclaims spot instances as the market says.
 * Not a mock: the same controller, agent and transport code paths run against it.
 */
export class LocalProvider implements Provider {
  readonly kind = "local" as const;
  readonly noticeSource = "aws-imds" as const;
  /** Instances are processes on this machine: reading their records is cheap, and the tests' markets move in seconds. */
  readonly pollIntervalMs = 250;
  private readonly root: string;
  private readonly clock: Clock;
  private readonly meter: ApiCallMeter;

  constructor(private readonly opts: LocalProviderOptions) {
    this.root = join(opts.home, "local");
    this.clock = opts.clock ?? systemClock;
    this.meter = new ApiCallMeter("local", opts.budget ?? processCallBudget(), opts.onApiCall);
  }

  apiCalls(): ApiCallCounts {
    return this.meter.counts();
  }

  launch(req: LaunchRequest): Promise<LaunchResult> {
    return this.meter.run(LOCAL_SCOPE, "launch", "write", () => this.launchNow(req), localOutcome);
  }

  describe(ids: InstanceId[]): Promise<InstanceInfo[]> {
    return this.meter.run(LOCAL_SCOPE, "describe", "read", () => this.describeNow(ids), localOutcome);
  }

  list(tags: Record<string, string>): Promise<InstanceInfo[]> {
    return this.meter.run(LOCAL_SCOPE, "list", "read", () => this.listNow(tags), localOutcome);
  }

  terminate(ids: InstanceId[]): Promise<void> {
    return this.meter.run(LOCAL_SCOPE, "terminate", "write", () => this.terminateNow(ids), localOutcome);
  }

  private dir(id: string): string {
    return join(this.root, "instances", id);
  }

  async offers(resources: Resources): Promise<Offer[]> {
    const wanted =
      resources.instance_types ?? (resources.instance_type ? [resources.instance_type] : LOCAL_TYPES.map((t) => t.name));
    return wanted.flatMap((name) => {
      const t = this.type(name);
      const base = {
        provider: "local" as const,
        instanceType: t.name,
        region: "local",
        zone: LOCAL_ZONE,
        onDemandPricePerHour: t.onDemandPerHour,
      };
      const offers: Offer[] = [{ ...base, id: `${t.name}/on-demand`, spot: false, pricePerHour: t.onDemandPerHour }];
      if (resources.spot) {
        const mtbi = resources.market?.mtbi;
        offers.unshift({
          ...base,
          id: `${t.name}/spot`,
          spot: true,
          pricePerHour: t.spotPerHour,
          ...(mtbi ? { interruptionRiskPerHour: 3_600_000 / mtbi } : {}),
        });
      }
      return offers;
    });
  }

  validateResources(resources: Resources): void {
    const field = resources.instance_types ? "resources.instance_types" : "resources.instance_type";
    for (const name of resources.instance_types ?? (resources.instance_type ? [resources.instance_type] : []))
      this.type(name, field);
    if (resources.market?.trace) loadTraceAvailability(resources.market.trace);
  }

  tickedMarket(resources: Resources): TickedMarket | undefined {
    const replay = this.replay(resources.market);
    if (!replay) return undefined;
    const avail = this.traceOf(replay.file);
    const clock = replayClock(replay, avail);
    return {
      epochMs: replay.startedAt,
      tickMs: clock.tickMs,
      marketTickMs: avail.gapSeconds * 1000,
      firstTraceTick: clock.firstTraceTick,
      spotAvailableAt: clock.availableAt,
    };
  }

  private readonly traces = new Map<string, TraceAvailability>();

  /** Read once per provider: the controller asks for the market's clock on every visit. */
  private traceOf(file: string): TraceAvailability {
    let t = this.traces.get(file);
    if (!t) {
      t = loadTraceAvailability(file);
      this.traces.set(file, t);
    }
    return t;
  }

  /** The trace a market replays, on the clock every job of this provider shares. */
  private replay(market: Partial<LocalMarket> | undefined): TraceReplay | undefined {
    if (!market?.trace) return undefined;
    return {
      file: market.trace,
      timeScale: market.time_scale ?? 1,
      startedAt: this.traceStart(market.trace),
      traceStartMs: market.trace_start ?? 0,
    };
  }

  private type(name: string, field?: string) {
    const t = localType(name);
    if (!t)
      throw new SpotrunError("usage", `unknown instance type ${JSON.stringify(name)} for provider local`, {
        fix: `use one of ${LOCAL_TYPES.map((x) => x.name).join(", ")}`,
        code: "UnknownInstanceType",
        ...(field ? { field } : {}),
      });
    return t;
  }

  private async launchNow(req: LaunchRequest): Promise<LaunchResult> {
    const typeName = req.instanceTypes[0] ?? "local.small";
    const t = this.type(typeName);
    const market = { ...DEFAULT_MARKET, ...req.resources.market };
    const seq = req.spotSequence ?? 0;
    const existing = await Promise.all(Array.from({ length: req.count }, (_, n) => this.adopt(`${req.token}-${n}`)));
    if (existing.every((e) => e !== undefined)) return { kind: "launched", instances: existing as InstanceInfo[] };
    if (req.spot) {
      if (seq < market.refuse_spot)
        return {
          kind: "refused",
          refusal: "capacity",
          code: "InsufficientInstanceCapacity",
          message: `no spot capacity for ${typeName} (market refuses ${market.refuse_spot} spot launches)`,
        };
      const replay = this.replay(market);
      if (replay) {
        const clock = replayClock(replay, this.traceOf(replay.file));
        const tick = clock.tickAt(this.clock.now());
        if (!clock.availableAt(tick))
          return {
            kind: "refused",
            refusal: "capacity",
            code: "InsufficientInstanceCapacity",
            message: `trace: no spot capacity for ${typeName} at trace tick ${clock.firstTraceTick + tick}`,
          };
      }
    }
    const instances: InstanceInfo[] = [];
    for (let n = 0; n < req.count; n++) {
      const prior = existing[n];
      if (prior) {
        instances.push(prior);
        continue;
      }
      const interruptAfterMs = req.spot ? this.plannedInterruption(market, seq) : undefined;
      instances.push(await this.create(`${req.token}-${n}`, t.name, req, market, interruptAfterMs));
    }
    return { kind: "launched", instances };
  }

  /** When spot instance number `seq` of a job is interrupted, if at all. */
  private plannedInterruption(market: LocalMarket, seq: number): number | undefined {
    const scheduled = market.interrupt_after[seq];
    if (scheduled !== undefined) return scheduled;
    if (market.mtbi) return exponential(seededRandom(market.seed * 7919 + seq), market.mtbi);
    return undefined;
  }

  /** A replayed trace's tick 0 is the first time any job used it, so every launch reads the same clock. */
  private readonly epochs = new Map<string, number>();

  private traceStart(trace: string): number {
    // Once set an epoch never moves: the controller asks on every visit, the file is read once.
    const known = this.epochs.get(trace);
    if (known !== undefined) return known;
    const file = join(this.root, "trace-epochs.json");
    let epochs: Record<string, number> = {};
    try {
      epochs = JSON.parse(readFileSync(file, "utf8"));
    } catch {}
    if (epochs[trace] === undefined) {
      epochs[trace] = this.clock.now();
      mkdirSync(this.root, { recursive: true });
      writeFileSync(`${file}.tmp`, JSON.stringify(epochs));
      renameSync(`${file}.tmp`, file);
    }
    this.epochs.set(trace, epochs[trace] as number);
    return epochs[trace] as number;
  }

  private tokenFile(token: string): string {
    return join(this.root, "tokens", token);
  }

  private async adopt(token: string): Promise<InstanceInfo | undefined> {
    const claim = readClaim(this.tokenFile(token));
    // A launcher that died before the instance started left only its claim: launch it again.
    if (!claim || this.abandoned(token, claim)) return undefined;
    return (await this.describeNow([InstanceId(claim.id)]))[0];
  }

  /** Tokens this process is launching right now. */
  private readonly launching = new Set<string>();

  /** A claim whose instance never started (no host, no process of it) and whose launcher is gone. */
  private abandoned(token: string, claim: LaunchClaim): boolean {
    const dir = this.dir(claim.id);
    if (readHost(dir) || readStatus(dir)?.status === "terminated" || instancePids(claim.id).length > 0) return false;
    if (claim.pid === process.pid) return !this.launching.has(token);
    return claim.pid === undefined || !isAlive(claim.pid);
  }

  private async create(
    token: string,
    typeName: string,
    req: LaunchRequest,
    market: LocalMarket,
    interruptAfterMs: number | undefined,
  ): Promise<InstanceInfo> {
    let id = `i-${randomBytes(9).toString("hex").slice(0, 17)}`;
    await mkdir(join(this.root, "tokens"), { recursive: true });
    // The token is claimed exclusively: a second launch with the same token adopts, never duplicates.
    const file = this.tokenFile(token);
    let abandoned: LaunchClaim | undefined;
    if (claimToken(file, id)) this.launching.add(token);
    else {
      const claim = readClaim(file);
      if (claim && this.abandoned(token, claim)) {
        this.launching.add(token);
        abandoned = claim;
        id = claim.id;
      } else {
        // Another process is launching it this moment: its instance appears shortly.
        for (let i = 0; i < 100; i++) {
          const again = await this.adopt(token);
          if (again) return again;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error(`local launch ${token} is held by process ${claim?.pid ?? "?"}, whose instance did not appear`);
      }
    }
    try {
      if (abandoned) await reclaimToken(file, abandoned);
      return await this.start(id, token, typeName, req, market, interruptAfterMs);
    } finally {
      this.launching.delete(token);
    }
  }

  private async start(
    id: string,
    token: string,
    typeName: string,
    req: LaunchRequest,
    market: LocalMarket,
    interruptAfterMs: number | undefined,
  ): Promise<InstanceInfo> {
    const t = this.type(typeName);
    // A bare host boots from a cached Debian root: made once per machine, minutes the first time.
    if (market.ssh === "bare") {
      const { ensureBareRootfs } = await import("./bare-root/bare-rootfs.js");
      await ensureBareRootfs({ progress: (line) => this.opts.logger.warn({}, line) });
    }
    const dir = this.dir(id);
    const disk = join(dir, "disk");
    await mkdir(disk, { recursive: true });
    const rec: LocalInstanceRecord = {
      id,
      token,
      instanceType: t.name,
      spot: req.spot,
      pricePerHour: req.spot ? t.spotPerHour : t.onDemandPerHour,
      onDemandPricePerHour: t.onDemandPerHour,
      zone: LOCAL_ZONE,
      launchedAt: this.clock.now(),
      tags: req.tags,
      disk,
      provisioningDelayMs: market.provisioning_delay,
      noticeMs: market.notice,
      ...(interruptAfterMs !== undefined ? { interruptAfterMs } : {}),
      ...(interruptAfterMs !== undefined && market.rebalance_before !== undefined
        ? { rebalanceBeforeMs: market.rebalance_before }
        : {}),
      ...(market.trace ? { trace: this.replay(market) as TraceReplay } : {}),
      ...(Number(req.tags[TAG.attempt] ?? 0) < market.boot_failures ? { failBoot: true } : {}),
    };
    if (market.ssh)
      rec.ssh = {
        mode: market.ssh,
        authorizedKey: this.sshPublicKey(),
        index: this.nextSubnetIndex(),
        // A bare host has its own root. What stands in for the cloud's shared services is mounted
        // into it at the same path: the local file store (a bucket), sessions' volumes (a
        // persistent disk that follows the session) and their tmux sockets (stable across instances).
        ...(market.ssh === "bare" ? { shared: ["checkpoints", "volumes", "sessions"].map((d) => join(this.opts.home, d)) } : {}),
      };
    await writeFileAtomic(join(dir, "instance.json"), JSON.stringify(rec, null, 1));
    await writeStatus(dir, { status: "pending" });
    const log = openSync(join(dir, "host.log"), "a");
    const child = spawn(process.execPath, [distFile("providers/local/instance-host-main.js"), dir], {
      detached: true,
      stdio: ["ignore", log, log],
      env: { ...process.env, [INSTANCE_MARKER]: id },
    });
    child.unref();
    let exited = false;
    child.once("exit", () => {
      exited = true;
    });
    if (child.pid !== undefined) await writeFileAtomic(hostPidPath(dir), String(child.pid));
    // The metadata port (and in SSH mode the sshd) is only known once the host is up; wait for it.
    const waitMs = rec.ssh ? 20_000 : 3000;
    for (let i = 0; i < waitMs / 10 && !readHost(dir) && !exited; i++) await new Promise((r) => setTimeout(r, 10));
    if (!readHost(dir)) await this.failedToBoot(rec, child.pid, exited);
    const info = this.info(rec);
    if (!info) throw new Error(`local instance ${id} did not start (see ${join(dir, "host.log")})`);
    return info;
  }

  /**
   * The host never came up (it failed, or hung past the wait): the instance is rented and ended at
   * once, as a cloud machine that fails to boot goes straight to terminated. Left "pending", nobody
   * would ever see it end (a host's death is told by the pid in host.json, which it never wrote).
   */
  private async failedToBoot(rec: LocalInstanceRecord, pid: number | undefined, exited: boolean): Promise<void> {
    const dir = this.dir(rec.id);
    if (pid !== undefined && !exited) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    await endInstanceProcesses(rec.id);
    const why = lastLine(join(dir, "host.log"));
    this.opts.logger.warn({ instance: rec.id }, `local instance ${rec.id} did not boot${why ? `: ${why}` : ""}`);
    await writeStatus(dir, { status: "terminated", endedAt: this.clock.now(), reason: "host-died" });
    await rm(rec.disk, { recursive: true, force: true });
  }

  private info(rec: LocalInstanceRecord): InstanceInfo | undefined {
    const dir = this.dir(rec.id);
    const status = readStatus(dir) ?? { status: "pending" as const };
    const host = readHost(dir);
    const base = {
      id: InstanceId(rec.id),
      provider: "local" as const,
      instanceType: rec.instanceType,
      zone: rec.zone,
      region: "local",
      spot: rec.spot,
      pricePerHour: rec.pricePerHour,
      onDemandPricePerHour: rec.onDemandPricePerHour,
      launchedAt: rec.launchedAt,
      tags: rec.tags,
      ...(host ? { address: host.ssh ? `${host.ssh.address}:${host.ssh.port}` : `127.0.0.1:${host.imdsPort}` } : {}),
    };
    if (status.status === "terminated") return { ...base, status: "terminated", endedAt: status.endedAt };
    // A host that died without recording an end left its instance dead all the same.
    const hostPid = host?.pid ?? readHostPid(dir);
    if (hostPid !== undefined && !isAlive(hostPid)) {
      killInstanceProcesses(rec.id);
      const endedAt = this.clock.now();
      void writeStatus(dir, { status: "terminated", endedAt, reason: "host-died" });
      void rm(rec.disk, { recursive: true, force: true });
      return { ...base, status: "terminated", endedAt };
    }
    return { ...base, status: status.status };
  }

  private async describeNow(ids: InstanceId[]): Promise<InstanceInfo[]> {
    return ids.flatMap((id) => {
      const rec = readRecord(this.dir(id));
      const info = rec && this.info(rec);
      return info ? [info] : [];
    });
  }

  private async listNow(tags: Record<string, string>): Promise<InstanceInfo[]> {
    let ids: string[];
    try {
      ids = readdirSync(join(this.root, "instances"));
    } catch {
      return [];
    }
    const out: InstanceInfo[] = [];
    for (const id of ids) {
      const rec = readRecord(this.dir(id));
      if (!rec || !Object.entries(tags).every(([k, v]) => rec.tags[k] === v)) continue;
      const info = this.info(rec);
      if (info) out.push(info);
    }
    return out;
  }

  private async terminateNow(ids: InstanceId[]): Promise<void> {
    await Promise.all(
      ids.map(async (id) => {
        const dir = this.dir(id);
        const rec = readRecord(dir);
        if (!rec || readStatus(dir)?.status === "terminated") return;
        const host = readHost(dir);
        if (host && isAlive(host.pid)) {
          try {
            await fetch(`http://${host.imdsHost ?? "127.0.0.1"}:${host.imdsPort}/spotrun/terminate`, {
              method: "POST",
              signal: AbortSignal.timeout(2000),
            });
            for (let i = 0; i < 300 && isAlive(host.pid); i++) await new Promise((r) => setTimeout(r, 10));
            if (!isAlive(host.pid)) return;
          } catch {
            // The host is wedged; end it from here.
          }
          try {
            process.kill(host.pid, "SIGKILL");
          } catch {}
        }
        await endInstanceProcesses(id);
        // A host killed here could not take its namespace and sshd down: sweep what dead hosts left.
        if (rec.ssh) await import("./ssh-hosts/index.js").then((m) => m.sweepSshHosts()).catch(() => {});
        await writeStatus(dir, endedStatus(readStatus(dir), "terminated", this.clock.now()));
        // As the host does: what a transport started just before that status is swept too.
        await endInstanceProcesses(id);
        await rm(rec.disk, { recursive: true, force: true });
      }),
    );
  }

  /** Chaos: a spot notice now, reclaim after `noticeMs` (default: the market's notice length). */
  async interrupt(id: InstanceId, noticeMs?: number): Promise<{ action: string; time: number }> {
    const dir = this.dir(id);
    const host = readHost(dir);
    const rec = readRecord(dir);
    if (!rec || !host || !isAlive(host.pid)) throw usageError(`local instance ${id} is not running`, "see `spotrun list`");
    if (!rec.spot) throw usageError(`instance ${id} is on-demand; only spot instances are interrupted`);
    const q = noticeMs !== undefined ? `?notice_ms=${noticeMs}` : "";
    const res = await fetch(`http://${host.imdsHost ?? "127.0.0.1"}:${host.imdsPort}/spotrun/interrupt${q}`, {
      method: "POST",
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json()) as { notice?: { action: string; time: number } };
    if (!body.notice) throw new Error(`instance ${id} did not accept the interruption`);
    return body.notice;
  }

  async transport(instance: InstanceInfo): Promise<Transport> {
    const target = await this.sshTarget(instance);
    if (target) {
      const { connectSsh } = await import("../../transport/ssh/connect.js");
      return connectSsh(target);
    }
    const dir = this.dir(instance.id);
    const rec = readRecord(dir) as LocalInstanceRecord;
    return new LocalTransport(`local:${instance.id}`, rec.disk, { [INSTANCE_MARKER]: rec.id, ...this.agentEnv(instance) }, () =>
      endedBecause(dir),
    );
  }

  /** In SSH mode, the instance's own sshd; otherwise none (its processes are plain local ones). */
  async sshTarget(instance: InstanceInfo): Promise<SshTarget | undefined> {
    const dir = this.dir(instance.id);
    const rec = readRecord(dir);
    if (!rec) throw new Error(`no local instance ${instance.id}`);
    const host = readHost(dir);
    if (!host?.ssh) return undefined;
    return {
      host: host.ssh.address,
      port: host.ssh.port,
      user: host.ssh.user,
      privateKeyPath: this.sshKeyPath(),
      // Pinned per instance: subnet addresses are reused by later instances with new host keys.
      knownHostsPath: join(dir, "known_hosts"),
      label: `ssh:${instance.id}`,
      home: host.ssh.home ?? rec.disk,
    };
  }

  agentEnv(instance: InstanceInfo): Record<string, string> {
    const host = readHost(this.dir(instance.id));
    return host ? { AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://${host.imdsHost ?? "127.0.0.1"}:${host.imdsPort}` } : {};
  }

  private sshKeyPath(): string {
    return join(this.opts.home, "keys", "local_ed25519");
  }

  /** The key the controller logs in to SSH-mode instances with; made once per state directory. */
  private sshPublicKey(): string {
    const key = this.sshKeyPath();
    if (!existsSync(key)) {
      mkdirSync(dirname(key), { recursive: true });
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "spotrun-local", "-f", key]);
    }
    return readFileSync(`${key}.pub`, "utf8").trim();
  }

  /** Namespaced hosts take subnet 10.213.<index>.0/24; start each search past the last one used. */
  private nextSubnetIndex(): number {
    const file = join(this.root, "subnet-index");
    let last = 0;
    try {
      last = Number(readFileSync(file, "utf8")) || 0;
    } catch {}
    const next = (last % 250) + 1;
    writeFileSync(file, String(next));
    return next;
  }
}

/** The last line of a log that is not a stack frame (an error's message, not where it was thrown). */
function lastLine(path: string): string | undefined {
  try {
    const lines = readFileSync(path, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "" && !/^\s/.test(l));
    return lines.at(-1)?.slice(0, 300);
  } catch {
    return undefined;
  }
}
