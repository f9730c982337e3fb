import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { launchCommand } from "../../../src/cli/commands/launch.js";
import { terminateCommand } from "../../../src/cli/commands/terminate.js";
import { commandContext } from "./command-context.js";

/** `--provider local`: the same launch flow, estimate and array split, with no cloud at all. */
let home: string;
let launched: string[] = [];
before(async () => {
  home = await mkdtemp(join(tmpdir(), "spotrun-launch-local-"));
});
after(async () => {
  if (launched.length) await terminateCommand.run(commandContext(home).ctx, launched, { provider: "local" }).catch(() => {});
  await rm(home, { recursive: true, force: true });
});

test("launch --provider local --count 3 --spot-count 2, then terminate", async () => {
  const { ctx, out } = commandContext(home);
  const res = await launchCommand.run(ctx, [], {
    provider: "local",
    count: "3",
    jobArrayName: "t",
    spot: true,
    spotCount: "2",
    onInterruption: "checkpoint",
  });
  const data = res.data as { instances: { id: string; spot: boolean; provider: string }[] };
  launched = data.instances.map((i) => i.id);
  // Prices are the local catalog's: assert the shape, not the figures.
  assert.match(
    out.infos[0] ?? "",
    /^Estimate: 3 × local\.\w+ — 2 spot at \$[\d.]+\/hr \([\w-]+\) \+ 1 on-demand at \$[\d.]+\/hr = \$[\d.]+\/hr\nSpot savings: \d+%/,
  );
  assert.deepEqual(
    data.instances.map((i) => [i.provider, i.spot]),
    [
      ["local", true],
      ["local", true],
      ["local", false],
    ],
  );
  // No --provider: the store recorded where launch started them (before, this went to AWS).
  const term = await terminateCommand.run(ctx, launched, {});
  assert.deepEqual(
    (term.data as { terminated: { provider: string; state: string }[] }).terminated.map((t) => [t.provider, t.state]),
    [
      ["local", "terminated"],
      ["local", "terminated"],
      ["local", "terminated"],
    ],
  );
  await assert.rejects(terminateCommand.run(ctx, launched.slice(0, 1), { provider: "vast" }), (e: Error) => {
    assert.match(e.message, /^instance i-\w+ was started on local, not vast$/);
    return true;
  });
  launched = [];
});
