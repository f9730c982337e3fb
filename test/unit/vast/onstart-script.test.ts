import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ONSTART_LOG, onstartScript } from "../../../src/providers/vast/onstart-script.js";

test("the onstart script installs nothing: it only logs that the controller ships the agent", async () => {
  const s = onstartScript();
  assert.equal(spawnSync("sh", ["-n", "-c", s]).status, 0);
  assert.doesNotMatch(s, /npm|apt-get|curl|wget/);
  const root = await mkdtemp(join(tmpdir(), "spotrun-vast-onstart-"));
  try {
    const r = spawnSync("sh", ["-c", s], { env: { PATH: "/usr/bin:/bin", SPOTRUN_ROOT: root }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(await readFile(join(root, ONSTART_LOG), "utf8"), /nothing to install/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
