import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import type { AgentConfig } from "../../../src/agent/protocol.js";
import { saveOnce } from "../../../src/agent/save-once.js";
import { openCheckpointStore } from "../../../src/checkpoints/open-store.js";

test("agent save: the hook runs within the window, then one generation goes up", async () => {
  const home = await mkdtemp(join(tmpdir(), "spotrun-save-"));
  const work = join(home, "workdir");
  await mkdir(join(work, "ckpt"), { recursive: true });
  await writeFile(join(work, "save.sh"), '#!/bin/sh\necho "$INTERRUPTION_ACTION" > "$SPOT_CHECKPOINT_DIR/saved-by-hook"\n');
  await chmod(join(work, "save.sh"), 0o755);
  const storeUrl = pathToFileURL(join(home, "store")).href;
  const cfg: AgentConfig = {
    version: 1,
    job_id: "j-save",
    attempt: 2,
    restart_count: 2,
    node: 0,
    num_nodes: 1,
    workdir: work,
    run: "true",
    envs: {},
    checkpoint: {
      dir: join(work, "ckpt"),
      store_url: storeUrl,
      hook: "./save.sh",
      hook_timeout_ms: 5000,
      stall_warning_ms: 60_000,
      keep: 3,
      upload: true,
    },
    notice: { source: "none", poll_ms: 250 },
  };
  await mkdir(join(home, ".spotrun"), { recursive: true });
  await writeFile(join(home, ".spotrun", "agent.json"), JSON.stringify(cfg));
  const gen = await saveOnce(join(home, ".spotrun", "agent.json"), "shutdown", 10_000);
  assert.match(gen ?? "", /^g-000002-/);
  const store = await openCheckpointStore(storeUrl);
  const restored = join(home, "restored");
  await store.restoreLatest(restored);
  assert.equal((await readFile(join(restored, "saved-by-hook"), "utf8")).trim(), "shutdown");
  await rm(home, { recursive: true, force: true });
});
