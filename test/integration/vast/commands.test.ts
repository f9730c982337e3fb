import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { describeError, SpotrunError } from "../../../src/base/errors.js";
import { silentLogger } from "../../../src/base/logger.js";
import type { CommandContext, CommandSpec } from "../../../src/cli/command.js";
import { vastCommands } from "../../../src/providers/vast/cli/vast-commands.js";
import { API_KEY, type Harness, harness } from "./fixtures.js";

let h: Harness;
let notes: string[];
const cmd = (name: string): CommandSpec => {
  const c = vastCommands.find((s) => s.name.split(" <")[0]?.split(" [")[0] === name);
  assert.ok(c, name);
  return c;
};
const ctx = (): CommandContext => ({
  home: h.home,
  json: true,
  debug: false,
  logger: silentLogger,
  signal: new AbortController().signal,
  out: { json: true, info: (m) => notes.push(m), warn: (m) => notes.push(`warning: ${m}`), line: () => undefined },
});

beforeEach(async () => {
  delete process.env.VAST_API_KEY;
  delete process.env.VAST_API_URL;
  h = await harness({ loadingPolls: 0 });
  notes = [];
  await mkdir(join(h.home, "config"), { recursive: true });
  await writeFile(join(h.home, "config", "vast_api_key"), API_KEY);
  await writeFile(join(h.home, "config", "vast_api_url"), h.server.url);
});
afterEach(() => h.close());

test("single steps: create (bid) → wait → ssh-url → logs → bid → stop → start → destroy", async () => {
  const created = await cmd("vast create").run(ctx(), ["103"], {
    image: "pytorch/pytorch",
    disk: "30",
    bid: "0.1",
    label: "exp-1",
    env: ["A=1"],
    direct: true,
  });
  const id = (created.data as { id: string }).id;
  const put = h.server.requestsTo("PUT", "/asks/")[0]?.body as Record<string, unknown>;
  assert.deepEqual([put.price, put.disk, put.label, put.env, put.runtype], [0.1, 30, "exp-1", { A: "1" }, "ssh_direc ssh_proxy"]);

  const waited = await cmd("vast wait").run(ctx(), [id], { timeout: "1m" });
  assert.equal((waited.data as { status: string }).status, "running");
  assert.ok(notes.some((n) => n.includes("starting")));

  const url = await cmd("vast ssh-url").run(ctx(), [id], {});
  const port = h.server.instances.get(Number(id))?.inst.ssh_port;
  assert.equal(url.human, `ssh://root@127.0.0.1:${port}`);

  h.server.setLogs(Number(id), "a\nb\nc\n");
  const logs = await cmd("vast logs").run(ctx(), [id], { tail: "2" });
  assert.equal((logs.data as { logs: string }).logs, "b\nc\n");

  h.server.outbid(Number(id), 0.2);
  const listed = await cmd("vast instances").run(ctx(), [], {});
  assert.match(listed.human ?? "", /stopped \(outbid\)/);
  await cmd("vast bid").run(ctx(), [id, "0.25"], {});
  await cmd("vast stop").run(ctx(), [id], {});
  await cmd("vast start").run(ctx(), [id], {});
  await cmd("vast reboot").run(ctx(), [id], {});
  const destroyed = await cmd("vast destroy").run(ctx(), [id], {});
  assert.deepEqual(destroyed.data, { destroyed: [id] });
  assert.equal(h.server.instances.size, 0);
  assert.deepEqual(
    h.server.requests
      .filter((r) => r.method === "PUT" && r.path.startsWith("/api/v0/instances/") && !r.path.includes("request_logs"))
      .map((r) => r.body),
    [{ client_id: "me", price: 0.25 }, { state: "stopped" }, { state: "running" }, {}],
  );
});

test("wait on a never-starting instance fails with exit 1 and can destroy it", async () => {
  h.server.neverStart(101);
  const created = await cmd("vast create").run(ctx(), ["101"], { image: "x", disk: "10" });
  const id = (created.data as { id: string }).id;
  await assert.rejects(cmd("vast wait").run(ctx(), [id], { timeout: "50ms", destroyOnTimeout: true }), (e: unknown) => {
    assert.ok(e instanceof SpotrunError);
    assert.equal(e.exitCode, 1);
    assert.equal(e.code, "vast_timeout");
    return true;
  });
  assert.equal(h.server.instances.size, 0);
});

test("bad arguments are usage errors; an unknown instance is not found", async () => {
  await assert.rejects(
    cmd("vast create").run(ctx(), ["abc"], { image: "x", disk: "10" }),
    (e: unknown) => e instanceof SpotrunError && e.exitCode === 2,
  );
  await assert.rejects(
    cmd("vast create").run(ctx(), ["101"], { image: "x", disk: "10", bid: "-1" }),
    (e: unknown) => e instanceof SpotrunError && e.exitCode === 2,
  );
  await assert.rejects(
    cmd("vast wait").run(ctx(), ["1"], { timeout: "soon" }),
    (e: unknown) => e instanceof SpotrunError && e.exitCode === 2,
  );
  await assert.rejects(
    cmd("vast ssh-url").run(ctx(), ["424242"], {}),
    (e: unknown) => e instanceof SpotrunError && e.exitCode === 3,
  );
  for (const c of vastCommands)
    assert.ok(c.examples.length > 0 && c.examples.every((x) => x.startsWith("spotrun vast") || x.startsWith("ssh ")), c.name);
});

test("an offer gone before the create is a provider refusal with the fix; a 429 storm through a wait is retryable, never the instance's fault", async () => {
  // Rented by someone else between the search and the create (issue 17 item 18).
  await assert.rejects(cmd("vast create").run(ctx(), ["107"], { image: "pytorch/pytorch", disk: "30", direct: true }), (e) => {
    const r = describeError(e);
    assert.deepEqual([r.code, r.exit_code, r.cause_code], ["provider_refused", 4, "no_such_ask"]);
    assert.equal(r.message, "vast: offer 107 is no longer available (rented or withdrawn)");
    assert.equal(r.fix, "pick another offer: spotrun offers --provider vast");
    return true;
  });

  const created = await cmd("vast create").run(ctx(), ["101"], { image: "pytorch/pytorch", disk: "30", direct: true });
  const id = (created.data as { id: string }).id;
  h.server.throttle(1_000_000);
  await assert.rejects(cmd("vast wait").run(ctx(), [id], { timeout: "3s" }), (e) => {
    const r = describeError(e);
    assert.deepEqual([r.code, r.retryable, r.cause_code], ["retryable", true, "rate_limited"]);
    assert.match(r.message, new RegExp(`^vast: instance ${id}: no status for the last \\d+s of \\d+s — the API kept failing`));
    assert.doesNotMatch(`${r.message} ${r.fix}`, /report it as a bug|not running after/);
    assert.match(r.fix, /retry in a minute/);
    return true;
  });
  h.server.throttle(0);
  await cmd("vast destroy").run(ctx(), [id], {});
});
