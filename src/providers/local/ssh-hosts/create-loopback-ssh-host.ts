import { mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import { stopListener } from "./create-ssh-host.js";
import { defaultStateRoot, destroySync, type HostRecord, trackHost, untrackHost, writeRecord } from "./host-registry.js";
import type { CreateSshHostOptions, LoopbackSshHost } from "./ssh-host.js";
import { generateClientKey, generateHostKey, processTree, startSshd, waitGone, writeSshdConfig } from "./sshd-process.js";

/**
 * The same host for machines without network namespaces (no root, containers without
 * CAP_NET_ADMIN): sshd on 127.0.0.1 at a free port. A cut freezes sshd and its sessions with
 * SIGSTOP, so clients see silence on an open connection, as they would across a lost link.
 */
export async function createLoopbackSshHost(opts: Omit<CreateSshHostOptions, "index">): Promise<LoopbackSshHost> {
  const stateRoot = defaultStateRoot();
  const name = `loopback-${opts.id}`;
  const rec: HostRecord = { name, ownerPid: process.pid };
  trackHost(stateRoot, rec);
  try {
    const dir = join(stateRoot, name);
    await mkdir(dir, { recursive: true });
    await mkdir(opts.home, { recursive: true });
    const client = opts.authorizedKeys ? undefined : await generateClientKey(dir);
    const address = "127.0.0.1";
    const port = await freePort();
    const files = await writeSshdConfig({
      dir,
      listen: address,
      port,
      authorizedKeys: opts.authorizedKeys ?? [client!.publicLine],
      withoutRsync: opts.withoutRsync ?? false,
      home: opts.home,
    });
    let hostKey = await generateHostKey(dir);
    rec.sshdPid = await startSshd(files, [], address, port);
    writeRecord(stateRoot, rec);
    let frozen: number[] = [];
    const signalAll = (pids: number[], sig: NodeJS.Signals) => {
      for (const pid of pids) {
        try {
          process.kill(pid, sig);
        } catch {}
      }
    };
    return {
      kind: "loopback",
      id: opts.id,
      address,
      port,
      // sshd run by an ordinary user can only log that user in.
      user: userInfo().username,
      home: opts.home,
      get hostKeyFingerprint() {
        return hostKey.fingerprint;
      },
      clientKeyPath: client?.path,
      async stop() {
        untrackHost(name);
        const tree = rec.sshdPid ? await processTree(rec.sshdPid) : [];
        signalAll(tree, "SIGCONT");
        signalAll(tree, "SIGKILL");
        destroySync(stateRoot, rec);
        await waitGone(tree);
      },
      async cut() {
        frozen = rec.sshdPid ? await processTree(rec.sshdPid) : [];
        signalAll(frozen, "SIGSTOP");
      },
      async restore() {
        signalAll(frozen, "SIGCONT");
        frozen = [];
      },
      async rotateHostKey() {
        await stopListener(rec.sshdPid);
        hostKey = await generateHostKey(dir);
        rec.sshdPid = await startSshd(files, [], address, port);
        writeRecord(stateRoot, rec);
        return hostKey.fingerprint;
      },
    };
  } catch (e) {
    untrackHost(name);
    destroySync(stateRoot, rec);
    throw e;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}
