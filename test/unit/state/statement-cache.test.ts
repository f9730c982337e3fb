import assert from "node:assert/strict";
import { test } from "node:test";
import SQLite from "better-sqlite3";
import { withStatementCache } from "../../../src/state/statement-cache.js";

test("a statement is prepared once per SQL text and reused; the cache is bounded, least recently used out; a schema change does not break a cached one", () => {
  const raw = new SQLite(":memory:");
  let prepared = 0;
  const counting = new Proxy(raw, {
    get(target, prop, receiver) {
      if (prop === "prepare")
        return (sql: string) => {
          prepared++;
          return target.prepare(sql);
        };
      return Reflect.get(target, prop, receiver);
    },
  });
  const db = withStatementCache(counting, 2);
  db.prepare("create table t (a integer)").run([]);
  const insert = db.prepare("insert into t (a) values (?)");
  insert.run([1]);
  assert.equal(db.prepare("insert into t (a) values (?)"), insert, "the same statement");
  db.prepare("insert into t (a) values (?)").run([2]);
  assert.deepEqual(db.prepare("select a from t order by a").all([]), [{ a: 1 }, { a: 2 }]);
  assert.equal(prepared, 3);
  // Two texts fit: "create" was the least recently used and went; "insert" is still there.
  db.prepare("insert into t (a) values (?)");
  assert.equal(prepared, 3);
  db.prepare("select count(*) as n from t");
  assert.equal(prepared, 4);
  db.prepare("select a from t order by a");
  assert.equal(prepared, 5, "prepared again once it had left the cache");
  raw.exec("alter table t add column b integer");
  assert.deepEqual(db.prepare("select a from t order by a").all([]), [{ a: 1 }, { a: 2 }]);
  db.close();
});
