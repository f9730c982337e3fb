import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createSshHost } from "../../../src/providers/local/ssh-hosts/create-ssh-host.js";
import { defaultStateRoot, isAlive, readRecords, writeRecord } from "../../../src/providers/local/ssh-hosts/host-registry.js";
import type { NetnsSshHost } from "../../../src/providers/local/ssh-hosts/ssh-host.js";
import { waitGone } from "../../../src/providers/local/ssh-hosts/sshd-process.js";
import { sweepSshHosts } from "../../../src/providers/local/ssh-hosts/sweep-ssh-hosts.js";
import { netnsAvailable } from "../../support/ssh-cluster.js";

const namespaces = () => execFileSync("ip", ["netns", "list"], { encoding: "utf8" });

describe("sweeping hosts left behind by a run that died", { skip: netnsAvailable() ? false : "needs root and iproute2" }, () => {
  let dir: string;
  let mine: NetnsSshHost;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "spotrun-sweep-"));
    mine = await createSshHost({ id: `sweep-live-${process.pid}`, index: 81, home: join(dir, "live") });
  });
  after(async () => {
    await mine?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("removes the namespace and sshd of a SIGKILLed owner and leaves a live owner's host alone", async () => {
    const moduleUrl = new URL("../../../src/providers/local/ssh-hosts/create-ssh-host.js", import.meta.url).href;
    const script = `const { createSshHost } = await import(${JSON.stringify(moduleUrl)});
      const h = await createSshHost({ id: "sweep-dead-${process.pid}", index: 82, home: ${JSON.stringify(join(dir, "dead"))} });
      const rec = JSON.parse(require("node:fs").readFileSync("/run/spotrun-ssh-hosts/" + h.ns + "/owner.json", "utf8"));
      console.log(JSON.stringify({ ns: h.ns, sshdPid: rec.sshdPid }));
      setInterval(() => {}, 1000);`;
    const child = spawn(
      process.execPath,
      ["--input-type=module", "-e", script.replace('require("node:fs")', "(await import('node:fs'))")],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const info = await new Promise<{ ns: string; sshdPid: number }>((resolve, reject) => {
      child.stdout.once("data", (d: Buffer) => resolve(JSON.parse(d.toString())));
      child.once("exit", (code) => reject(new Error(`child exited ${code}`)));
    });
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    assert.ok(namespaces().includes(info.ns), "the dead owner's namespace should still be there before the sweep");
    assert.ok(isAlive(info.sshdPid));

    const removed = await sweepSshHosts();
    assert.ok(removed.includes(info.ns), `swept ${removed.join(", ")}`);
    assert.ok(!namespaces().includes(info.ns));
    await waitGone([info.sshdPid]);
    const state = (await readFile(`/proc/${info.sshdPid}/stat`, "utf8").catch(() => "")).split(") ")[1]?.[0];
    assert.ok(!isAlive(info.sshdPid) || state === "Z", "the dead owner's sshd survived the sweep");
    assert.ok(namespaces().includes(mine.ns), "a live owner's host must survive the sweep");
  });

  it("leaves a record it cannot read yet alone (an owner between mkdir and its write), and removes one unreadable for over a minute", async () => {
    const root = defaultStateRoot();
    const young = join(root, `spotrun-sweep-young-${process.pid}`);
    const old = join(root, `spotrun-sweep-old-${process.pid}`);
    await mkdir(young, { recursive: true });
    await writeFile(join(young, "owner.json"), ""); // caught mid-write
    await mkdir(old, { recursive: true });
    const past = new Date(Date.now() - 2 * 60_000);
    await utimes(old, past, past);
    try {
      const removed = await sweepSshHosts();
      assert.ok(
        !removed.includes(basename(young)) && existsSync(young),
        `a young unreadable record was swept: ${removed.join(", ")}`,
      );
      assert.ok(removed.includes(basename(old)) && !existsSync(old), "an unreadable record over a minute old is abandoned");
    } finally {
      await rm(young, { recursive: true, force: true });
      await rm(old, { recursive: true, force: true });
    }
  });

  it("writes a record whole: a reader never sees it half-written", () => {
    const root = defaultStateRoot();
    const rec = { name: `spotrun-sweep-whole-${process.pid}`, ownerPid: process.pid, ns: "x".repeat(4000) };
    try {
      for (let i = 0; i < 200; i++) {
        writeRecord(root, { ...rec, sshdPid: i });
        assert.equal(readRecords(root).find((r) => r.name === rec.name)?.ownerPid, process.pid);
      }
      assert.deepEqual(
        readdirSync(join(root, rec.name)).filter((f) => f !== "owner.json"),
        [],
        "no temporary file left",
      );
    } finally {
      rmSync(join(root, rec.name), { recursive: true, force: true });
    }
  });
});
