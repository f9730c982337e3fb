import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { agentLauncher, FAILED_MARKER, onstartScript, READY_MARKER } from "../../../src/providers/vast/onstart-script.js";

let dir: string;
let bin: string;
let root: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "spotrun-vast-onstart-"));
  bin = join(dir, "bin");
  root = join(dir, "root");
  await import("node:fs/promises").then((fs) => Promise.all([fs.mkdir(bin), fs.mkdir(root)]));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const shim = async (name: string, body: string) => {
  await writeFile(join(bin, name), `#!/bin/bash\n${body}\n`);
  await chmod(join(bin, name), 0o755);
};
/** Stand-ins for node and npm: npm records its arguments and "installs" spotrun as a script that records its own. */
const shims = async (nodeMajor: number, npmFails = false) => {
  await shim("node", `echo ${nodeMajor}`);
  // Never the machine's own apt-get: a stand-in that records what it was asked.
  await shim("apt-get", `echo "$*" >> ${join(dir, "apt.log")}`);
  await shim(
    "npm",
    `echo "$*" >> ${join(dir, "npm.log")}\n${npmFails ? "exit 1" : `printf '#!/bin/bash\\necho "$*" >> ${join(dir, "spotrun.log")}\\n' > ${join(bin, "spotrun")}; chmod +x ${join(bin, "spotrun")}`}`,
  );
};
const runScript = (script: string) =>
  spawnSync("bash", ["-c", script], {
    env: { PATH: `${bin}:/usr/bin:/bin`, SPOTRUN_ROOT: root, HOME: dir },
    encoding: "utf8",
    timeout: 20_000,
  });

test("the onstart script is valid bash and quotes what it is given", () => {
  const s = onstartScript({ spotrunVersion: "0.1.0", npmRegistry: "http://127.0.0.1:4873/" });
  assert.equal(spawnSync("bash", ["-n", "-c", s]).status, 0);
  assert.match(s, /spotrun@'?0\.1\.0'? /);
  assert.match(s, /--registry 'http:\/\/127\.0\.0\.1:4873\/'|--registry http:\/\/127\.0\.0\.1:4873\//);
  assert.throws(() => onstartScript({ spotrunVersion: "1.0; rm -rf /" }));
});

test("with Node 20 present it installs spotrun from npm and writes the ready marker", async () => {
  await shims(20);
  const r = runScript(onstartScript({ spotrunVersion: "0.1.0" }));
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual((await readFile(join(dir, "npm.log"), "utf8")).trim().split("\n"), [
    "install -g --no-fund --no-audit spotrun@0.1.0",
  ]);
  await assert.rejects(readFile(join(dir, "apt.log")), "no apt-get when Node is new enough");
  await readFile(join(root, READY_MARKER));
});

test("with an old Node it first installs node@20 from npm", async () => {
  await shims(18);
  const r = runScript(onstartScript({ spotrunVersion: "0.1.0" }));
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual((await readFile(join(dir, "apt.log"), "utf8")).trim().split("\n"), ["update -q", "install -y -q nodejs npm"]);
  const calls = (await readFile(join(dir, "npm.log"), "utf8")).trim().split("\n");
  assert.equal(calls[0], "install -g --no-fund --no-audit node@20");
  assert.equal(calls[1], "install -g --no-fund --no-audit spotrun@0.1.0");
});

test("a failed install leaves a failure marker, and the agent launcher reports it instead of waiting", async () => {
  await shims(20, true);
  const r = runScript(onstartScript({ spotrunVersion: "0.1.0" }));
  assert.equal(r.status, 1);
  assert.match(await readFile(join(root, FAILED_MARKER), "utf8"), /npm install spotrun failed/);
  const launched = runScript(`${agentLauncher(5, root)} agent run --config x.json`);
  assert.equal(launched.status, 1);
  assert.match(launched.stderr, /npm install spotrun failed/);
});

test("the agent launcher waits for the ready marker, then runs spotrun with the bootstrap's arguments", async () => {
  await shims(20);
  const early = runScript(`${agentLauncher(1, root)} agent run --config x.json`);
  assert.equal(early.status, 1);
  assert.match(early.stderr, /onstart install not done after 1s/);
  assert.equal(runScript(onstartScript({ spotrunVersion: "0.1.0" })).status, 0);
  const r = runScript(`${agentLauncher(5, root)} agent run --config /root/.spotrun/agent.json`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal((await readFile(join(dir, "spotrun.log"), "utf8")).trim(), "agent run --config /root/.spotrun/agent.json");
});
