import assert from "node:assert/strict";
import { chmodSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { redactUrls } from "../../../src/base/redact-url.js";
import { openSqlite } from "../../../src/state/open-sqlite.js";
import { openStateStore } from "../../../src/state/open-state-store.js";
import { LocalTransport } from "../../../src/transport/local/local-transport.js";

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

test("the home is 0700 and state.db with its WAL files 0600, whatever the umask; a loose one is tightened", async () => {
  const root = await mkdtemp(join(tmpdir(), "spotrun-private-"));
  const old = process.umask(0o022);
  try {
    const home = join(root, "home");
    const db = await openSqlite(home);
    await db.destroy();
    assert.equal(mode(home), "700");
    for (const f of ["state.db", "state.db-wal", "state.db-shm"]) {
      const p = join(home, f);
      try {
        statSync(p);
      } catch {
        continue; // SQLite removes the WAL files on a clean close
      }
      assert.equal(mode(p), "600", f);
    }
    const loose = join(root, "loose");
    mkdirSync(loose, { mode: 0o755 });
    writeFileSync(join(loose, "state.db"), "", { mode: 0o644 });
    chmodSync(loose, 0o755);
    chmodSync(join(loose, "state.db"), 0o644);
    const again = await openSqlite(loose);
    assert.equal(mode(loose), "700");
    assert.equal(mode(join(loose, "state.db")), "600");
    assert.equal(mode(join(loose, "state.db-wal")), "600");
    await again.destroy();
  } finally {
    process.umask(old);
    await rm(root, { recursive: true, force: true });
  }
});

test("the local transport writes the agent's files 0600 in a 0700 directory", async () => {
  const root = await mkdtemp(join(tmpdir(), "spotrun-private-"));
  const old = process.umask(0o022);
  try {
    const t = new LocalTransport("local:test", root, {});
    await t.writeFile(".spotrun/agent.json", '{"envs":{"TOKEN":"x"}}');
    assert.equal(mode(join(root, ".spotrun")), "700");
    assert.equal(mode(join(root, ".spotrun", "agent.json")), "600");
  } finally {
    process.umask(old);
    await rm(root, { recursive: true, force: true });
  }
});

test("URLs in what spotrun prints lose their passwords and secret query values, nothing else", () => {
  assert.equal(redactUrls("mysql://admin:hunter2@db:3306/x"), "mysql://admin:…@db:3306/x");
  assert.equal(
    redactUrls("at postgres://u:p%40ss@h/db?sslmode=require&password=pw2"),
    "at postgres://u:…@h/db?sslmode=require&password=…",
  );
  assert.equal(
    redactUrls("GET https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA/x&X-Amz-Signature=abc&versionId=3"),
    "GET https://b.s3.amazonaws.com/k?X-Amz-Credential=…&X-Amz-Signature=…&versionId=3",
  );
  assert.equal(
    redactUrls("postgres://spotrun@db.internal/spotrun s3://bucket/prefix"),
    "postgres://spotrun@db.internal/spotrun s3://bucket/prefix",
  );
});

test("a state URL that is not postgres:// is refused without echoing its password", async () => {
  const e = await openStateStore("/nonexistent", "mysql://admin:hunter2@db/x").then(
    () => assert.fail("accepted"),
    (err: Error) => err,
  );
  assert.match(e.message, /expected a postgres:\/\/ URL, got "mysql:\/\/admin:…@db\/x"/);
  assert.doesNotMatch(e.message, /hunter2/);
});
