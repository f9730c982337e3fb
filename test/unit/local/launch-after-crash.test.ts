import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { silentLogger } from "../../../src/base/logger.js";
import { LocalProvider } from "../../../src/providers/local/local-provider.js";
import type { LaunchRequest } from "../../../src/providers/provider.js";
import { resourcesSchema } from "../../../src/spec/task-schema.js";

/**
 * A controller killed in the middle of a local launch leaves the token claimed and the instance
 * half made. The next controller launches with the same token: it must get that instance
 * started, not fail with EEXIST (which failed the job) nor wait for one that never starts.
 */
const home = await mkdtemp(join(tmpdir(), "spotrun-local-crash-"));
const provider = new LocalProvider({ home, logger: silentLogger });
after(async () => {
  const all = await provider.list({});
  await provider.terminate(all.filter((i) => i.status !== "terminated").map((i) => i.id));
  await rm(home, { recursive: true, force: true });
});

const req = (token: string): LaunchRequest => ({
  token,
  instanceTypes: ["local.small"],
  spot: false,
  count: 1,
  tags: { "spotrun:job": "j-crash" },
  resources: resourcesSchema.parse({ provider: "local", spot: false }),
});

/** The pid of a process that has ended: a launcher killed with -9. */
const deadPid = (): number => spawnSync("true").pid as number;

async function running(id: string): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if ((await provider.describe([id as never]))[0]?.status === "running") return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

test("killed after claiming the token, before writing the instance: the next launch starts it under the claimed id", async () => {
  mkdirSync(join(home, "local", "tokens"), { recursive: true });
  writeFileSync(join(home, "local", "tokens", "tok-a-0"), `i-0000000000000aaaa ${deadPid()}\n`);
  const r = await provider.launch(req("tok-a"));
  assert.equal(r.kind, "launched");
  if (r.kind !== "launched") return;
  assert.equal(r.instances[0]?.id, "i-0000000000000aaaa");
  assert.ok(await running("i-0000000000000aaaa"));
  const again = await provider.launch(req("tok-a"));
  assert.deepEqual(again.kind === "launched" && again.instances.map((i) => i.id), ["i-0000000000000aaaa"], "and then adopts it");
  assert.equal((await provider.list({ "spotrun:job": "j-crash" })).length, 1);
});

test("killed after writing the instance, before its host started: the next launch starts it, once", async () => {
  const first = await provider.launch(req("tok-b"));
  assert.equal(first.kind, "launched");
  if (first.kind !== "launched") return;
  const id = first.instances[0]?.id as string;
  await provider.terminate([id as never]);
  // Rewind that instance to the moment of the kill: record written, status pending, no host.
  const dir = join(home, "local", "instances", id);
  await rm(join(dir, "host.json"), { force: true });
  writeFileSync(join(dir, "status.json"), JSON.stringify({ status: "pending" }));
  writeFileSync(join(home, "local", "tokens", "tok-b-0"), `${id} ${deadPid()}\n`);
  const r = await provider.launch(req("tok-b"));
  assert.deepEqual(r.kind === "launched" && r.instances.map((i) => i.id), [id]);
  assert.ok(await running(id));
});
