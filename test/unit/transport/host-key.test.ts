import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  fingerprintOfPublicKeyLine,
  hostKeyFromBlob,
  knownHostsLine,
  knownHostsName,
  matchKnownHosts,
} from "../../../src/transport/ssh/host-key.js";

const blobOf = (line: string) => Buffer.from(line.split(" ")[1]!, "base64");

describe("host keys in OpenSSH's formats", async () => {
  const dir = await mkdtemp(join(tmpdir(), "spotrun-hostkey-"));
  const keygen = (name: string, type = "ed25519") => {
    execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", join(dir, name)]);
    return readFile(join(dir, `${name}.pub`), "utf8");
  };
  const a = await keygen("a");
  const b = await keygen("b");
  const ecdsa = await keygen("c", "ecdsa");
  const keyA = hostKeyFromBlob(blobOf(a));
  const keyB = hostKeyFromBlob(blobOf(b));

  it("computes the fingerprint ssh-keygen prints and reads the key type from the blob", async () => {
    const printed = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", join(dir, "a.pub")], { encoding: "utf8" });
    assert.equal(fingerprintOfPublicKeyLine(a), printed.split(" ")[1]);
    assert.equal(keyA.type, "ssh-ed25519");
    assert.equal(hostKeyFromBlob(blobOf(ecdsa)).type, "ecdsa-sha2-nistp256");
  });

  it("names port 22 plainly and other ports as [host]:port, as ssh and ssh-keygen -F expect", async () => {
    assert.equal(knownHostsName("10.0.0.2", 22), "10.0.0.2");
    assert.equal(knownHostsName("10.0.0.2", 2222), "[10.0.0.2]:2222");
    const file = join(dir, "known_hosts");
    const { writeFile } = await import("node:fs/promises");
    await writeFile(file, `${knownHostsLine("10.0.0.2", 2222, keyA)}\n`);
    const found = execFileSync("ssh-keygen", ["-F", "[10.0.0.2]:2222", "-f", file], { encoding: "utf8" });
    assert.match(found, /ssh-ed25519/);
  });

  it("matches plain, listed, wildcard and hashed entries, and tells unknown from changed", () => {
    assert.deepEqual(matchKnownHosts(knownHostsLine("h", 22, keyA), "h", 22, keyA), { kind: "match" });
    assert.deepEqual(matchKnownHosts(`x,h,y ${a}`, "h", 22, keyA), { kind: "match" });
    assert.deepEqual(matchKnownHosts(`10.1.* ${a}`, "10.1.2.3", 22, keyA), { kind: "match" });
    assert.deepEqual(matchKnownHosts(`10.1.*,!10.1.2.3 ${a}`, "10.1.2.3", 22, keyA), { kind: "unknown" });
    const salt = randomBytes(20);
    const hash = createHmac("sha1", salt).update("[h]:2200").digest("base64");
    assert.deepEqual(matchKnownHosts(`|1|${salt.toString("base64")}|${hash} ${a}`, "h", 2200, keyA), { kind: "match" });
    assert.deepEqual(
      matchKnownHosts(knownHostsLine("h", 22, keyA), "h", 2200, keyA),
      { kind: "unknown" },
      "another port is another host",
    );
    assert.deepEqual(matchKnownHosts("# comment\n\n", "h", 22, keyA), { kind: "unknown" });
    const changed = matchKnownHosts(knownHostsLine("h", 22, keyA), "h", 22, keyB);
    assert.equal(changed.kind, "changed");
    assert.deepEqual(changed.kind === "changed" && changed.pinned[0]!.blob, keyA.blob);
    // A host may offer several key types; a pinned ECDSA key is no reason to refuse its ed25519 key.
    assert.deepEqual(matchKnownHosts(`h ${ecdsa}`, "h", 22, keyA), { kind: "unknown" });
    assert.equal(matchKnownHosts(`@revoked h ${a}`, "h", 22, keyA).kind, "changed");
    assert.deepEqual(matchKnownHosts(`@cert-authority h ${b}`, "h", 22, keyA), { kind: "unknown" });
  });

  it("cleans up", async () => {
    await rm(dir, { recursive: true, force: true });
  });
});
