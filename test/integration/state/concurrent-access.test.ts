import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import SQLite from "better-sqlite3";
import pg from "pg";
import { pino } from "pino";
import { systemClock } from "../../../src/base/clock.js";
import { Controller } from "../../../src/core/controller.js";
import { ProviderCache } from "../../../src/providers/registry.js";
import { openSqlite } from "../../../src/state/open-sqlite.js";
import { StateStore } from "../../../src/state/state-store.js";
import { type PostgresServer, startPostgres } from "../../support-pg/postgres-server.js";

/**
 * Several processes on one store at the same moment, as happens when a user types two commands
 * while the background controller works: first use of an empty store, and a controller renewing
 * its lease while commands write.
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

test("a lease taken over while another process commits between its read and its write", async () => {
  const home = join(root, "takeover");
  const store = new StateStore(await openSqlite(home));
  const other = new SQLite(join(home, "state.db"));
  other.pragma("busy_timeout = 10000");
  try {
    // A dead controller's lease on this host; the new one sees it dead and takes it over. The
    // liveness check runs between reading the lease and writing it: a command commits just then.
    other
      .prepare("insert into leases (name, owner, pid, host, expires_at) values (?, ?, ?, ?, ?)")
      .run("controller", "dead", 999_999_999, hostname(), Date.now() + 60_000);
    const isAlive = () => {
      other.prepare("insert into settings (name, value) values (?, ?)").run(`k-${Math.random()}`, "v");
      return false;
    };
    assert.equal(await store.acquireLease("controller", "new", 15_000, Date.now(), isAlive), true);
    assert.equal((await store.lease("controller"))?.owner, "new");
    // And a live holder keeps it, however the check interleaves.
    assert.equal(await store.acquireLease("controller", "third", 15_000, Date.now(), () => true), false);
    assert.equal((await store.lease("controller"))?.owner, "new");
  } finally {
    other.close();
    await store.close();
  }
});

test("lease renewals never fail while another process writes as fast as it can", async () => {
  const home = join(root, "renew");
  const store = new StateStore(await openSqlite(home));
  try {
    assert.equal(await store.acquireLease("controller", "me", 15_000, Date.now(), () => true), true);
    const writer = child(["write", home, "", "2500"]);
    const failures: string[] = [];
    let renewals = 0;
    const until = Date.now() + 2500;
    while (Date.now() < until) {
      try {
        assert.equal(await store.acquireLease("controller", "me", 15_000, Date.now(), () => true), true);
        renewals++;
      } catch (e) {
        failures.push(String((e as { code?: string }).code ?? e));
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    assert.equal(await writer, "ok");
    assert.deepEqual(failures.slice(0, 3), [], `${failures.length} of ${failures.length + renewals} renewals failed`);
    assert.ok(renewals >= 10, `${renewals} renewals`);
  } finally {
    await store.close();
  }
});

test("the controller rides out a write lock held longer than its busy timeout, and keeps its lease", async () => {
  const home = join(root, "busy");
  const store = new StateStore(await openSqlite(home, { busyTimeoutMs: 30 }));
  const warnings: string[] = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => void warnings.push(JSON.parse(line).msg) });
  const controller = new Controller({
    store,
    providers: new ProviderCache({ home, logger }),
    home,
    clock: systemClock,
    logger,
    tickMs: 20,
  });
  const command = new SQLite(join(home, "state.db"));
  let released = false;
  let ticksAfter = 0;
  // A command takes the write lock for far longer than the controller waits for it.
  const lock = new Promise<void>((done) =>
    setTimeout(() => {
      command.exec("begin immediate");
      setTimeout(() => {
        command.exec("commit");
        released = true;
        done();
      }, 400);
    }, 100),
  );
  try {
    const why = await controller.run({ until: async () => released && ++ticksAfter >= 3 });
    await lock;
    assert.equal(why, "done");
    assert.ok(warnings.includes("state store busy; retrying"), `warnings: ${warnings.join(", ")}`);
  } finally {
    command.close();
    await store.close();
  }
});
