import { rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { writeFileAtomic } from "../../base/atomic-file.js";
import { ImdsServer } from "./imds-server.js";
import {
  endedStatus,
  type HostInfo,
  hostPath,
  type LocalInstanceRecord,
  type LocalStatus,
  readRecord,
  writeStatus,
} from "./instance-record.js";
import { endInstanceProcesses } from "./kill-instance-processes.js";
import type { SshHost } from "./ssh-hosts/ssh-host.js";
import { replayClock } from "./trace-availability.js";

/**
 * The "hypervisor" of one local instance: a small detached process that serves the instance's
 * metadata endpoint, issues spot notices on the market's schedule or on command, and when the
 * grace period ends SIGKILLs everything on the instance and deletes its disk — a real reclaim.
 * It outlives the controller, so instances keep behaving like cloud machines when it dies.
 */
export async function runInstanceHost(dir: string): Promise<void> {
  const rec = readRecord(dir);
  if (!rec) throw new Error(`no instance record in ${dir}`);
  if (rec.failBoot) throw new Error("this instance does not boot (resources.market.boot_failures)");
  let status: LocalStatus = { status: "pending" };
  let noticeTimer: NodeJS.Timeout | undefined;
  let ending = false;

  const setStatus = async (s: LocalStatus) => {
    status = s;
    await writeStatus(dir, s);
  };

  const reclaim = async (reason: "spot-reclaim" | "terminated") => {
    if (ending) return;
    ending = true;
    // The namespace's processes (everything sshd started) die with it. Only then is it
    // "terminated": a cloud says so once the machine is gone, and whoever reads the status next
    // (the controller, a test counting what is left) must find nothing of it running.
    await sshHost?.stop().catch(() => {});
    await endInstanceProcesses(rec.id);
    await setStatus(endedStatus(status, reason, Date.now()));
    // A transport refuses to start anything once it reads that status (LocalTransport's `ended`);
    // one that read it just before may have started a process since the sweep: sweep once more.
    await endInstanceProcesses(rec.id);
    await rm(rec.disk, { recursive: true, force: true });
    await imds.close();
    process.exit(0);
  };

  const notice = (noticeMs: number) => {
    if (status.status !== "running" || status.notice || ending) return;
    const now = Date.now();
    // IMDS gives the reclaim time to the second; reclaim exactly then, never before what it said.
    const time = Math.ceil((now + noticeMs) / 1000) * 1000;
    imds.setNotice("terminate", time);
    void setStatus({ status: "running", notice: { action: "terminate", time, seenAt: now } });
    noticeTimer = setTimeout(() => void reclaim("spot-reclaim"), time - now);
  };

  const control = (path: string, req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://host");
    if (req.method === "POST" && path === "/spotrun/interrupt") {
      const ms = Number(url.searchParams.get("notice_ms") ?? rec.noticeMs);
      if (!rec.spot) return reply(res, 409, { error: "not a spot instance" });
      notice(Number.isFinite(ms) && ms >= 0 ? ms : rec.noticeMs);
      return reply(res, 200, status);
    }
    if (req.method === "POST" && path === "/spotrun/terminate") {
      reply(res, 200, { status: "terminating" });
      setImmediate(() => void reclaim("terminated"));
      return;
    }
    if (path === "/spotrun/status") return reply(res, 200, status);
    reply(res, 404, { error: "unknown control path" });
  };

  const imds = new ImdsServer({
    identity: {
      instanceId: rec.id,
      instanceType: rec.instanceType,
      availabilityZone: rec.zone,
      lifecycle: rec.spot ? "spot" : "on-demand",
    },
    control,
  });
  let sshHost: SshHost | undefined;
  if (rec.ssh) {
    const { createSshHost, createLoopbackSshHost, createBareSshHost } = await import("./ssh-hosts/index.js");
    const opts = { id: rec.id.slice(2, 12), home: rec.disk, authorizedKeys: [rec.ssh.authorizedKey] };
    sshHost =
      rec.ssh.mode === "netns"
        ? await createSshHost({ ...opts, index: rec.ssh.index })
        : rec.ssh.mode === "bare"
          ? await createBareSshHost({ ...opts, index: rec.ssh.index, shared: rec.ssh.shared ?? [] })
          : await createLoopbackSshHost(opts);
  }
  // Inside a namespace the instance reaches us through its gateway, as an EC2 VM reaches 169.254.169.254.
  const imdsHost = sshHost && sshHost.kind !== "loopback" ? sshHost.gateway : "127.0.0.1";
  const imdsPort = await imds.listen(0, imdsHost);
  const info: HostInfo = {
    pid: process.pid,
    imdsPort,
    imdsHost,
    ...(sshHost
      ? {
          ssh: {
            address: sshHost.address,
            port: sshHost.port,
            user: sshHost.user,
            fingerprint: sshHost.hostKeyFingerprint,
            ...(sshHost.kind === "bare" ? { home: sshHost.home } : {}),
          },
        }
      : {}),
  };
  await writeFileAtomic(hostPath(dir), JSON.stringify(info));
  process.on("SIGTERM", () => void reclaim("terminated"));
  process.on("SIGINT", () => void reclaim("terminated"));

  await new Promise((r) => setTimeout(r, rec.provisioningDelayMs));
  await setStatus({ status: "running" });
  const runningAt = Date.now();
  if (rec.spot && rec.interruptAfterMs !== undefined) {
    setTimeout(() => notice(rec.noticeMs), Math.max(0, runningAt + rec.interruptAfterMs - Date.now()));
    if (rec.rebalanceBeforeMs !== undefined)
      setTimeout(
        () => imds.setRebalance(Date.now()),
        Math.max(0, runningAt + rec.interruptAfterMs - rec.rebalanceBeforeMs - Date.now()),
      );
  }
  if (rec.spot && rec.trace) watchTrace(rec, () => notice(rec.noticeMs));
  void noticeTimer;
}

/** Interrupt when the replayed trace says spot capacity is gone; checked at each tick's start. */
function watchTrace(rec: LocalInstanceRecord, onGone: () => void): void {
  if (!rec.trace) return;
  const trace = rec.trace;
  const clock = replayClock(trace);
  const check = () => {
    const tick = clock.tickAt(Date.now());
    if (!clock.availableAt(tick)) return onGone();
    setTimeout(check, clock.tickMs - ((Date.now() - trace.startedAt) % clock.tickMs) + 1);
  };
  check();
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(s) });
  res.end(s);
}
