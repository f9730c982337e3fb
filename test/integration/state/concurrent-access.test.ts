import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import SQLite from "better-sqlite3";
import pg from "pg";
import { type PostgresServer, startPostgres } from "../../support-pg/postgres-server.js";

/**
 * Several processes on one store at the same moment, as happens when a user types two commands
 * while the background controller works: first use of an empty store.
 */
const CHILD = join(process.cwd(), "dist", "test", "support-state", "store-child.js");

function child(args: string[]): Promise<string> {
  return new Promise((done) =>
    execFile(process.execPath, [CHILD, ...args], { timeout: 60_000 }, (_err, stdout, stderr) =>
      done(`${stdout}${stderr}`.trim()),
    ),
  );
}

let root: string;
let server: PostgresServer;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "spotrun-concurrent-"));
  server = await startPostgres();
});
after(async () => {
  await server.stop();
  await rm(root, { recursive: true, force: true });
});

test("four processes opening one fresh SQLite home at once all succeed, and the schema is migrated once", async () => {
  for (let round = 0; round < 4; round++) {
    const home = join(root, `fresh-${round}`);
    const out = await Promise.all(Array.from({ length: 4 }, () => child(["open", home])));
    assert.deepEqual(out, Array(4).fill("ok"), `round ${round}`);
    const db = new SQLite(join(home, "state.db"), { readonly: true });
    try {
      const names = (db.prepare("select name from kysely_migration order by name").all() as { name: string }[]).map(
        (r) => r.name,
      );
      assert.equal(new Set(names).size, names.length, "each migration recorded once");
      assert.ok(names.length >= 5);
    } finally {
      db.close();
    }
  }
});

test("four processes opening one empty PostgreSQL database at once all succeed", async () => {
  for (let round = 0; round < 2; round++) {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query(`create database fresh_${round}`);
    await admin.end();
    const url = server.url.replace(/\/postgres$/, `/fresh_${round}`);
    const out = await Promise.all(Array.from({ length: 4 }, () => child(["open", root, url])));
    assert.deepEqual(out, Array(4).fill("ok"), `round ${round}`);
  }
});
