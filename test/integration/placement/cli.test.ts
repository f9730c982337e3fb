import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { VastServer } from "../../servers/vast/vast-server.js";
import { API_KEY, OFFERS } from "../vast/fixtures.js";

/** `spotrun simulate` and `spotrun offers` through the real CLI wrapper, in a child process. */
const RUN_SPEC = resolve(process.cwd(), "dist/test/integration/placement/run-spec.js");
let dir = "";

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [RUN_SPEC, "--home", join(dir, "home"), ...args], {
      env: { ...process.env, VAST_API_KEY: "", VAST_API_URL: "", ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "spotrun-placement-cli-"));
  // Hourly ticks: spot, spot, none, none, then spot again (the hand-computed case of the unit tests).
  await writeFile(join(dir, "z1.json"), JSON.stringify({ metadata: { gap_seconds: 3600 }, data: [1, 1, 0, 0, 1, 1, 1, 1] }));
  await writeFile(join(dir, "task.yaml"), "name: t\nrun: echo hi\nresources:\n  instance_types: [local.small, local.large]\n");
});
after(() => rm(dir, { recursive: true, force: true }));

const simArgs = ["--work", "4h", "--deadline", "6h", "--restart-overhead", "30m", "--spot-price", "1", "--on-demand-price", "3"];

test("simulate --policy all --json reports each policy's cost, finish, deadline, preemptions and changeovers", async () => {
  const r = await cli(["--json", "simulate", "--trace", join(dir, "z1.json"), ...simArgs]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  const by = Object.fromEntries(doc.results.map((x: { policy: string }) => [x.policy, x]));
  assert.deepEqual(
    ["greedy", "uniform-progress", "on-demand", "spot-only"].map((p) => [
      by[p].id,
      by[p].cost_usd,
      by[p].finished_after_hours,
      by[p].deadline_met,
    ]),
    [
      ["greedy@z1", 11, 6, true],
      ["uniform-progress@z1", 11, 6, true],
      ["on-demand@z1", 13.5, 4.5, true],
      ["spot-only@z1", 5, 7, false],
    ],
  );
  assert.deepEqual([by["spot-only"].preemptions, by["spot-only"].changeovers, by.greedy.saved_vs_on_demand_usd], [1, 2, 2.5]);
  assert.equal(doc.work_hours, 4);
});

test("simulate prints a side-by-side table for people", async () => {
  const r = await cli(["simulate", "--trace", join(dir, "z1.json"), ...simArgs]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^policy +cost +saved +finish +deadline +preemptions +changeovers$/m);
  assert.match(r.stdout, /^spot-only +\$5\.00 +63% +7h +MISSED +1 +2$/m);
  assert.match(r.stdout, /^greedy +\$11\.00 +19% +6h +met +1 +2$/m);
});

test("simulate refuses bad input with one line and exit code 2", async () => {
  const noWork = await cli(["simulate", "--trace", join(dir, "z1.json"), "--deadline", "6h"]);
  assert.equal(noWork.code, 2);
  assert.equal(noWork.stderr.trim(), "spotrun: --work is required — pass --work, e.g. --work 48h");
  const long = await cli(["simulate", "--trace", join(dir, "z1.json"), "--work", "4h", "--deadline", "9h"]);
  assert.equal(long.code, 2);
  assert.match(long.stderr, /^spotrun: trace z1 covers 8h from the start, less than the deadline 9h — /);
  const missing = await cli(["simulate", "--trace", join(dir, "nope.json"), ...simArgs]);
  assert.equal(missing.code, 3);
});

test("offers --task ranks the task's offers by expected cost to finish, with why", async () => {
  const r = await cli(["--json", "offers", "--task", join(dir, "task.yaml"), "--work", "10h"]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  // spot: true, no fallback: only the two spot offers, cheaper first.
  assert.deepEqual(
    doc.offers.map((o: { rank: number; id: string; spot: boolean }) => [o.rank, o.id, o.spot]),
    [
      [1, "local.small/spot", true],
      [2, "local.large/spot", true],
    ],
  );
  const first = doc.offers[0];
  // 10 h + 10 min restart, 5 %/h assumed risk: T = 10.1667 / (1 − 0.05/6) h at $0.03.
  assert.equal(first.expected_cost_usd, Math.round(((0.03 * (10 + 1 / 6)) / (1 - 0.05 / 6)) * 100) / 100);
  assert.equal(first.risk_source, "assumed");
  assert.match(first.why, /^spot at \$0\.030\/h; 5\.0%\/h interruption risk \(assumed\)/);
  const human = await cli(["offers", "--task", join(dir, "task.yaml")]);
  assert.match(human.stdout, /^1 +local\.small\/spot +local\.small +local-1a +spot +\$0\.030 +5\.0% +assumed +\$0\.04$/m);
});

test("offers QUERY --provider vast delegates the search and keeps the asked order", async () => {
  const server = new VastServer({ apiKey: API_KEY, offers: OFFERS });
  const url = await server.start();
  try {
    const r = await cli(
      ["--json", "offers", "gpu_name=RTX_4090", "num_gpus>=1", "--provider", "vast", "--order", "dph", "--limit", "5"],
      {
        VAST_API_URL: url,
        VAST_API_KEY: API_KEY,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const searches = server.requestsTo("POST", "/bundles/");
    assert.equal(searches.length, 1);
    const body = searches[0]?.body as { order: unknown; limit: unknown; gpu_name: unknown };
    assert.deepEqual([body.order, body.limit, body.gpu_name], [[["dph_total", "asc"]], 5, { eq: "RTX 4090" }]);
    // Shown in the order the API returned (cheapest first, as asked), not re-ranked.
    const offers = JSON.parse(r.stdout).offers as {
      rank: number;
      id: string;
      instance_type: string;
      price_per_hour_usd: number;
    }[];
    assert.ok(offers.length >= 2, r.stdout);
    offers.forEach((o, i) => {
      assert.equal(o.rank, i + 1);
      assert.ok(OFFERS.some((x) => String(x.id) === o.id && x.gpu_name === "RTX 4090"));
      if (i > 0) assert.ok(o.price_per_hour_usd >= (offers[i - 1]?.price_per_hour_usd ?? 0));
    });
  } finally {
    await server.stop();
  }
});

test("offers without --task or a query is a usage error", async () => {
  const r = await cli(["offers"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^spotrun: nothing to price — pass --task FILE, or a QUERY with --provider vast$/m);
});
