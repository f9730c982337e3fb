import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { rsyncSshCommand, rsyncTarget } from "../../../src/transport/ssh/rsync-command.js";

describe("the ssh command rsync runs", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "spotrun rsync 'q'-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("reaches ssh with every option intact, even for paths with spaces and quotes", async () => {
    // Stand in for ssh: print the argv rsync built from `-e`, then fail so rsync stops.
    const fake = join(dir, "fake-ssh");
    await writeFile(fake, '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > "$0.args"\nexit 1\n');
    await chmod(fake, 0o755);
    const target = {
      host: "10.213.1.2",
      port: 2222,
      user: "root",
      privateKeyPath: join(dir, "id key"),
      knownHostsPath: join(dir, "known'hosts"),
    };
    const e = rsyncSshCommand(target, 5000).replace(/^ssh /, `'${fake.replace(/'/g, `'"'"'`)}' `);
    await mkdir(join(dir, "src"));
    await new Promise<void>((resolve) =>
      execFile("rsync", ["-a", "-e", e, `${join(dir, "src")}/`, `${rsyncTarget(target, "/w")}/`], () => resolve()),
    );
    const { readFile } = await import("node:fs/promises");
    const args = (await readFile(`${fake}.args`, "utf8")).trim().split("\n");
    const opt = (name: string) => args[args.indexOf(`${name}`) + 1];
    assert.equal(opt("-p"), "2222");
    assert.equal(opt("-i"), join(dir, "id key"));
    assert.ok(args.includes(`UserKnownHostsFile=${join(dir, "known'hosts")}`), args.join(" | "));
    assert.ok(args.includes("StrictHostKeyChecking=yes"));
    assert.ok(args.includes("BatchMode=yes"));
    assert.ok(args.includes("IdentitiesOnly=yes"));
    assert.ok(args.includes("ServerAliveInterval=5"));
    assert.ok(args.includes("10.213.1.2"));
  });

  it("brackets IPv6 literals", () => {
    assert.equal(rsyncTarget({ host: "::1", port: 22, user: "u", knownHostsPath: "k" }, "/x"), "u@[::1]:/x");
    assert.equal(rsyncTarget({ host: "h", port: 22, user: "u", knownHostsPath: "k" }, "/x"), "u@h:/x");
  });
});
