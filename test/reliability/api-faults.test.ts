import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Clock } from "../../src/base/clock.js";
import { InstanceId } from "../../src/base/ids.js";
import { silentLogger } from "../../src/base/logger.js";
import type { Random } from "../../src/base/random.js";
import { AwsProvider } from "../../src/providers/aws/aws-provider.js";
import { DEFAULT_RETRY_POLICY } from "../../src/providers/aws/retry-strategy.js";
import { CallBudget } from "../../src/providers/call-budget.js";
import { type InstanceInfo, type LaunchRequest, type Provider, ProviderError, TAG } from "../../src/providers/provider.js";
import { VastClient } from "../../src/providers/vast/client.js";
import { TAGS_ENV, tagsOf } from "../../src/providers/vast/instance-tags.js";
import { VastProvider } from "../../src/providers/vast/vast-provider.js";
import { type Resources, resourcesSchema } from "../../src/spec/task-schema.js";
import { type Ec2Fixture, priceTable, startEc2Fixture } from "../integration/aws/ec2-fixture.js";
import { API_KEY, type Harness, harness } from "../integration/vast/fixtures.js";
import { type Fault, type FaultKind, type FaultProxy, startFaultProxy } from "../support/fault-proxy.js";
import {
  between,
  type CaseRef,
  caseCount,
  caseRandom,
  casesOf,
  pick,
  replayCase,
  replayHint,
  runSeed,
} from "./reliability-kit.js";

/**
 * The cloud APIs misbehaving: a fault-injecting proxy in front of the in-repo EC2 and Vast
 * servers, the real clients (the AWS SDK, our Vast client) behind spotrun's providers pointed at
 * it. Each `api-faults` case is one cell of provider × fault × operation; the seed decides how
 * many times in a row the fault hits, whether the server saw the request before its answer was
 * lost, and which other call of a launch is hit too. Transient faults must not be seen: every
 * operation succeeds with the right answer, a launch whose answer was lost is retried with the
 * same idempotency key (EC2 ClientToken; the Vast label, Vast having none) and leaves exactly one
 * instance on the server (in one launch call: a user's `spotrun launch` gets no second try with
 * that token), and a stall ends by the client's own request timeout. `api-chaos`
 * cases draw faults at random over a whole lifecycle. Under permanent throttling each CLI
 * command gives up after its bounded tries with one `spotrun:` line and the retryable exit code.
 */
const FAULTS: readonly FaultKind[] = ["throttle", "server-error", "reset", "cut", "stall"];
const OPS = ["offers", "launch", "describe", "list", "terminate"] as const;
type Op = (typeof OPS)[number];
type Kind = "aws" | "vast";
const KINDS: readonly Kind[] = ["aws", "vast"];
const CELLS = KINDS.length * FAULTS.length * OPS.length;

/** A request silent this long is abandoned by the client (both are configured so). */
const TIMEOUT_MS = 400;
const FILE = "api-faults.test.js";

/** The API calls each operation makes, its idempotent creating call first for a launch. */
const CALLS: Record<Kind, Record<Op, string[]>> = {
  aws: {
    offers: ["DescribeSpotPriceHistory"],
    launch: ["RunInstances", "DescribeKeyPairs", "ImportKeyPair", "DescribeSecurityGroups", "DescribeSpotPriceHistory"],
    describe: ["DescribeInstances"],
    list: ["DescribeInstances"],
    terminate: ["TerminateInstances"],
  },
  vast: {
    offers: ["POST /api/v0/bundles/"],
    launch: [
      "PUT /api/v0/asks/{id}/",
      "GET /api/v0/instances",
      "POST /api/v0/bundles/",
      "POST /api/v0/instances/{id}/ssh/",
      "GET /api/v0/instances/{id}/",
    ],
    describe: ["GET /api/v0/instances"],
    list: ["GET /api/v0/instances"],
    terminate: ["DELETE /api/v0/instances/{id}/"],
  },
};

interface Cell {
  ref: CaseRef;
  id: string;
  kind: Kind;
  fault: FaultKind;
  op: Op;
  /** Faults in a row on the operation's call (its first try, then retries). */
  times: number;
  forward: boolean[];
  /** A launch's other call hit once too. */
  extra?: { call: string; fault: Fault };
}

const faultOf = (kind: FaultKind, forward: boolean): Fault =>
  kind === "throttle" || kind === "cut" ? { kind } : { kind, forward };

function cellOf(ref: CaseRef): Cell {
  const n = ref.n % CELLS;
  const kind = KINDS[n % KINDS.length] as Kind;
  const fault = FAULTS[Math.floor(n / KINDS.length) % FAULTS.length] as FaultKind;
  const op = OPS[Math.floor(n / (KINDS.length * FAULTS.length))] as Op;
  const rand = caseRandom(ref);
  // Vast's client tries 3 times, the SDK 6: two faults in a row stay within both.
  // A launch's last lost answer is one the server acted on: the retry after it is what must not
  // duplicate (on Vast it finds the instance by its label; a cut, always acted on, comes once).
  const times = op === "launch" && fault === "cut" ? 1 : between(rand, 1, 2);
  const forward = Array.from({ length: times }, (_, k) => (op === "launch" ? k === times - 1 : rand() < 0.5));
  const cell: Cell = { ref, id: `${ref.family}/${ref.seed}/${ref.n}`, kind, fault, op, times, forward };
  if (op === "launch") cell.extra = { call: pick(rand, CALLS[kind].launch.slice(1)), fault: faultOf(fault, rand() < 0.5) };
  return cell;
}

/** Sleeps of retry backoff and of the call budget are not slept: only request timeouts take real time. */
const fastClock = (): Clock => ({ now: () => Date.now(), sleep: async () => new Promise((r) => setImmediate(r)) });

// ---- the two worlds -----------------------------------------------------------------------------

interface World {
  kind: Kind;
  /** The server itself, for more proxies in front of it. */
  target: string;
  proxy: FaultProxy;
  provider(random: Random): Promise<{ p: Provider; close(): Promise<void> }>;
  resources: Resources;
  /** Live instances on the server carrying this job tag. */
  liveOnServer(job: string): string[];
  /** What the server says is wrong with a launched instance for spotrun to reach it. */
  unreachable(id: string): string | undefined;
  /** The idempotency key of each create request the proxy saw for this job. */
  createKeys(job: string): string[];
  close(): Promise<void>;
}

async function awsWorld(random: Random): Promise<World> {
  const fx: Ec2Fixture = await startEc2Fixture();
  fx.server.setSpotPrices(priceTable(Date.now(), { "m7i.large": { "us-east-1a": 0.0302, "us-east-1b": 0.0311 } }));
  const proxy = await startFaultProxy({ target: fx.server.url, dialect: "ec2", random });
  // The fixture's environment, but every EC2 call goes through the proxy.
  process.env.AWS_ENDPOINT_URL_EC2 = proxy.url;
  return {
    kind: "aws",
    target: fx.server.url,
    proxy,
    resources: resourcesSchema.parse({ provider: "aws", instance_type: "m7i.large", spot: true }),
    async provider(r) {
      const home = await mkdtemp(join(tmpdir(), "spotrun-apifaults-aws-"));
      const clock = fastClock();
      // The call budget's own (a case's throttles do not slow the next), its waits not slept either.
      const budget = new CallBudget({ clock });
      const p = new AwsProvider({ home, logger: silentLogger, clock, random: r, requestTimeoutMs: TIMEOUT_MS, budget });
      return {
        p,
        async close() {
          await p.close();
          await rm(home, { recursive: true, force: true });
        },
      };
    },
    liveOnServer: (job) =>
      [...fx.server.world.instances.values()]
        .filter((i) => i.tags[TAG.job] === job && i.state !== "terminated" && i.state !== "shutting-down")
        .map((i) => i.id),
    unreachable: (id) => (fx.server.world.instances.get(id)?.keyName ? undefined : "launched without a key pair"),
    createKeys: (job) =>
      proxy
        .requests("RunInstances")
        .map((r) => new URLSearchParams(r.body))
        .filter((q) => [...q.entries()].some(([k, v]) => /^TagSpecification\.\d+\.Tag\.\d+\.Value$/.test(k) && v === job))
        .map((q) => q.get("ClientToken") ?? "(none)"),
    async close() {
      await proxy.close();
      await fx.close();
    },
  };
}

async function vastWorld(random: Random): Promise<World> {
  const h: Harness = await harness({ loadingPolls: 0 });
  const proxy = await startFaultProxy({ target: h.server.url, dialect: "vast", random });
  const home = await mkdtemp(join(tmpdir(), "spotrun-apifaults-vast-"));
  return {
    kind: "vast",
    target: h.server.url,
    proxy,
    resources: resourcesSchema.parse({ provider: "vast", accelerators: "RTX_4090:1" }),
    async provider() {
      const clock = fastClock();
      const client = new VastClient({ apiKey: API_KEY, baseUrl: proxy.url, clock, timeoutMs: TIMEOUT_MS });
      const budget = new CallBudget({ clock });
      return { p: new VastProvider({ home, logger: silentLogger, clock, client, budget }), close: async () => {} };
    },
    liveOnServer: (job) =>
      [...h.server.instances.values()].filter((s) => tagsOf(s.inst)[TAG.job] === job).map((s) => String(s.inst.id)),
    unreachable: (id) =>
      h.server.instances.get(Number(id))?.sshKeys.length ? undefined : "spotrun's SSH key was never attached",
    createKeys: (job) =>
      proxy
        .requests("PUT /api/v0/asks/{id}/")
        .map((r) => JSON.parse(r.body) as { label?: string; env?: Record<string, string> })
        .filter((b) => (JSON.parse(b.env?.[TAGS_ENV] ?? "{}") as Record<string, string>)[TAG.job] === job)
        .map((b) => b.label ?? "(none)"),
    async close() {
      await proxy.close();
      await h.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}

const launchReq = (w: World, job: string, token: string): LaunchRequest => ({
  token,
  instanceTypes: w.kind === "aws" ? ["m7i.large"] : [],
  spot: w.kind === "aws",
  count: 1,
  tags: { [TAG.job]: job },
  resources: w.resources,
});

/** One launch call, expected to launch exactly one instance. */
async function launchOne(p: Provider, req: LaunchRequest): Promise<InstanceInfo> {
  const r = await p.launch(req);
  assert.ok(r.kind === "launched" && r.instances.length === 1, JSON.stringify(r));
  return r.instances[0] as InstanceInfo;
}

// ---- one cell -----------------------------------------------------------------------------------

async function runCell(w: World, c: Cell, baseline: string[]): Promise<string[]> {
  const problems: string[] = [];
  // The client's own jitter, drawn apart from the case's plan.
  const rand = caseRandom({ ...c.ref, family: `${c.ref.family}-client` });
  const { p, close } = await w.provider(rand);
  const job = `j-${c.id.replace(/\//g, "-")}`;
  const token = `tok-${job}`;
  try {
    let instance: InstanceInfo | undefined;
    if (c.op !== "launch" && c.op !== "offers") instance = await launchOne(p, launchReq(w, job, token));
    const call = CALLS[w.kind][c.op][0] as string;
    const before = w.proxy.log.length;
    for (const fwd of c.forward) w.proxy.inject({ op: call, fault: faultOf(c.fault, fwd) });
    if (c.extra) w.proxy.inject({ op: c.extra.call, fault: c.extra.fault });
    const t0 = Date.now();
    switch (c.op) {
      case "offers": {
        const got = (await p.offers(w.resources)).map((o) => o.id);
        if (JSON.stringify(got) !== JSON.stringify(baseline)) problems.push(`offers ${got} ≠ ${baseline}`);
        break;
      }
      case "launch": {
        instance = await launchOne(p, launchReq(w, job, token));
        const live = w.liveOnServer(job);
        if (live.length !== 1 || live[0] !== instance.id)
          problems.push(`server has ${live.length} live instance(s) for the job (${live}), launch returned ${instance.id}`);
        const unreachable = w.unreachable(instance.id);
        if (unreachable) problems.push(unreachable);
        const keys = w.createKeys(job);
        if (new Set(keys).size !== 1 || keys[0] !== token)
          problems.push(`create requests carried keys ${keys}, not all ${token}`);
        break;
      }
      case "describe": {
        const got = await p.describe([(instance as InstanceInfo).id]);
        if (got.length !== 1 || got[0]?.id !== instance?.id || got[0]?.status === "terminated")
          problems.push(`describe: ${JSON.stringify(got.map((i) => [i.id, i.status]))}`);
        break;
      }
      case "list": {
        const got = (await p.list({ [TAG.job]: job })).map((i) => i.id);
        if (JSON.stringify(got) !== JSON.stringify([instance?.id])) problems.push(`list: ${got}`);
        break;
      }
      case "terminate": {
        await p.terminate([(instance as InstanceInfo).id]);
        if (w.liveOnServer(job).length) problems.push(`still live on the server after terminate: ${w.liveOnServer(job)}`);
        instance = undefined;
        break;
      }
    }
    const ms = Date.now() - t0;
    const seen = w.proxy.log.slice(before);
    const hit = seen.filter((r) => r.op === call && r.fault === c.fault).length;
    if (hit !== c.times) problems.push(`${call} got the ${c.fault} ${hit} times, planned ${c.times}`);
    if (c.fault === "stall" && ms < TIMEOUT_MS * hit)
      problems.push(`${hit} stalls ended in ${ms} ms: not by the request timeout`);
    // The instance of this cell goes, whatever happened above.
    const left = w.liveOnServer(job).map(InstanceId);
    w.proxy.clear();
    if (left.length) await p.terminate(left);
  } catch (e) {
    problems.push(`threw ${(e as Error).name}: ${(e as Error).message}`);
    w.proxy.clear();
    const left = w.liveOnServer(job).map(InstanceId);
    if (left.length) await p.terminate(left).catch(() => undefined);
  } finally {
    await close();
  }
  return problems;
}

/** A whole lifecycle under faults drawn from the case's seed. */
async function runChaos(w: World, ref: CaseRef, baseline: string[]): Promise<string[]> {
  const problems: string[] = [];
  const id = `${ref.family}/${ref.seed}/${ref.n}`;
  const rand = caseRandom(ref);
  const { p, close } = await w.provider(rand);
  const job = `j-${id.replace(/\//g, "-")}`;
  const token = `tok-${job}`;
  const kinds: Fault[] = [
    { kind: "throttle" },
    { kind: "server-error", forward: true },
    { kind: "server-error", forward: false },
    { kind: "reset", forward: true },
    { kind: "reset", forward: false },
    { kind: "cut" },
    { kind: "stall", forward: true },
  ];
  // One fault for sure, on the create: a lost launch answer is the case that matters most.
  w.proxy.inject({ op: CALLS[w.kind].launch[0], fault: pick(rand, kinds) });
  w.proxy.chaos({ probability: 0.35, kinds, maxRun: 2, random: rand });
  try {
    const offers = (await p.offers(w.resources)).map((o) => o.id);
    if (JSON.stringify(offers) !== JSON.stringify(baseline)) problems.push(`offers ${offers}`);
    const inst = await launchOne(p, launchReq(w, job, token));
    const live = w.liveOnServer(job);
    if (live.length !== 1 || live[0] !== inst.id) problems.push(`live on the server after launch: ${live}, launched ${inst.id}`);
    const unreachable = w.unreachable(inst.id);
    if (unreachable) problems.push(unreachable);
    const keys = new Set(w.createKeys(job));
    if (keys.size !== 1 || !keys.has(token)) problems.push(`create keys ${[...keys]}`);
    const described = await p.describe([inst.id]);
    if (described[0]?.id !== inst.id) problems.push(`describe: ${described.map((i) => i.id)}`);
    const listed = (await p.list({ [TAG.job]: job })).map((i) => i.id);
    if (JSON.stringify(listed) !== JSON.stringify([inst.id])) problems.push(`list: ${listed}`);
    await p.terminate([inst.id]);
    if (w.liveOnServer(job).length) problems.push(`live after terminate: ${w.liveOnServer(job)}`);
  } catch (e) {
    problems.push(`threw ${(e as Error).name}: ${(e as Error).message}`);
  } finally {
    w.proxy.clear();
    const left = w.liveOnServer(job).map(InstanceId);
    if (left.length) await p.terminate(left).catch(() => undefined);
    await close();
  }
  return problems;
}

// ---- the CLI under permanent throttling -----------------------------------------------------------

const BIN = join(process.cwd(), "bin", "spotrun.js");
function spotrun(home: string, args: string[], env: Record<string, string | undefined>) {
  return new Promise<{ code: number; stdout: string; stderr: string; ms: number }>((resolve) => {
    const t0 = Date.now();
    execFile(
      process.execPath,
      [BIN, "--home", home, ...args],
      { env: { ...process.env, NO_COLOR: "1", ...env }, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr, ms: Date.now() - t0 }),
    );
  });
}

interface CliResult {
  args: string[];
  out: Awaited<ReturnType<typeof spotrun>>;
  /** Requests of the command's call the proxy saw: the tries before it gave up. */
  tried: number;
  tries: number;
  mention: RegExp;
}

/**
 * `spotrun list` and `spotrun offers` against proxies that throttle every request, each in its own
 * process. They take the SDK's real backoff (seconds), so they run beside the in-process cases, on
 * proxies of their own.
 */
async function permanentThrottling(worlds: Map<Kind, World>): Promise<CliResult[]> {
  const home = await mkdtemp(join(tmpdir(), "spotrun-apifaults-cli-"));
  const aws = await startFaultProxy({ target: (worlds.get("aws") as World).target, dialect: "ec2" });
  const vast = await startFaultProxy({ target: (worlds.get("vast") as World).target, dialect: "vast" });
  for (const p of [aws, vast]) p.inject({ fault: { kind: "throttle" }, times: Number.POSITIVE_INFINITY });
  const env = { AWS_ENDPOINT_URL_EC2: aws.url, VAST_API_KEY: API_KEY, VAST_API_URL: vast.url };
  const runs: { args: string[]; proxy: FaultProxy; call: string; tries: number; mention: RegExp }[] = [
    {
      args: ["list", "--provider", "aws"],
      proxy: aws,
      call: "DescribeInstances",
      tries: DEFAULT_RETRY_POLICY.maxAttempts,
      mention: /RequestLimitExceeded/,
    },
    { args: ["list", "--provider", "vast"], proxy: vast, call: "GET /api/v0/instances", tries: 3, mention: /too frequent/ },
    {
      args: ["offers", "gpu_name=RTX_4090", "--provider", "vast"],
      proxy: vast,
      call: "POST /api/v0/bundles/",
      tries: 3,
      mention: /too frequent/,
    },
  ];
  try {
    // One after another per proxy, so each command's tries are counted apart.
    const one = async (r: (typeof runs)[number]) => {
      const before = r.proxy.requests(r.call).length;
      const out = await spotrun(home, r.args, env);
      return { args: r.args, out, tried: r.proxy.requests(r.call).length - before, tries: r.tries, mention: r.mention };
    };
    const [a, v] = await Promise.all([
      one(runs[0] as (typeof runs)[number]),
      (async () => [await one(runs[1] as (typeof runs)[number]), await one(runs[2] as (typeof runs)[number])])(),
    ]);
    return [a, ...v];
  } finally {
    await aws.close();
    await vast.close();
    await rm(home, { recursive: true, force: true });
  }
}

// ---- the run ------------------------------------------------------------------------------------

describe("cloud API faults through a proxy", () => {
  const seed = runSeed();
  const cells = casesOf("api-faults", caseCount("api-faults", CELLS), seed).map(cellOf);
  const chaos = casesOf("api-chaos", caseCount("api-chaos", 6), seed);
  const worlds = new Map<Kind, World>();
  const baselines = new Map<Kind, string[]>();
  const replaying = replayCase() ? "replaying one case" : false;
  let cli: Promise<CliResult[]> | undefined;
  let passed = 0;
  let failed = 0;
  const t0 = Date.now();

  before(async () => {
    worlds.set("aws", await awsWorld(caseRandom({ family: "api-chaos-aws", seed, n: 0 })));
    worlds.set("vast", await vastWorld(caseRandom({ family: "api-chaos-vast", seed, n: 0 })));
    for (const [k, w] of worlds) {
      const { p, close } = await w.provider(Math.random);
      baselines.set(
        k,
        (await p.offers(w.resources)).map((o) => o.id),
      );
      await close();
      assert.ok(baselines.get(k)?.length, `${k} has offers to compare with`);
    }
    if (!replaying) {
      cli = permanentThrottling(worlds);
      // Awaited by its test; never an unhandled rejection before that.
      cli.catch(() => undefined);
    }
  });
  after(async () => {
    await cli?.catch(() => undefined);
    for (const w of worlds.values()) await w.close();
    process.stderr.write(
      `reliability api-faults: seed ${seed}, ${cells.length} fault cases + ${chaos.length} chaos cases, ${passed} passed, ${failed} failed, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
    );
  });

  for (const kind of KINDS) {
    const mine = cells.filter((c) => c.kind === kind);
    test(`${kind}: each transient fault on each operation is not seen`, {
      skip: mine.length ? false : "no case this run",
    }, async (t) => {
      const w = worlds.get(kind) as World;
      const bad: string[] = [];
      for (const c of mine) {
        const problems = await runCell(w, c, baselines.get(kind) ?? []);
        if (problems.length)
          bad.push(`${c.id} (${c.kind} ${c.fault}×${c.times} on ${c.op}): ${problems.join("; ")} — ${replayHint(c.id, FILE)}`);
      }
      passed += mine.length - bad.length;
      failed += bad.length;
      t.diagnostic(`${mine.length} cases, ${w.proxy.faulted().length} faults injected so far`);
      assert.deepEqual(bad, []);
    });
    const mineChaos = chaos.filter((r) => r.n % KINDS.length === KINDS.indexOf(kind));
    test(`${kind}: a lifecycle under seeded random faults`, {
      skip: mineChaos.length ? false : "no case this run",
    }, async (t) => {
      const w = worlds.get(kind) as World;
      const bad: string[] = [];
      for (const ref of mineChaos) {
        const problems = await runChaos(w, ref, baselines.get(kind) ?? []);
        const id = `${ref.family}/${ref.seed}/${ref.n}`;
        if (problems.length) bad.push(`${id}: ${problems.join("; ")} — ${replayHint(id, FILE)}`);
      }
      passed += mineChaos.length - bad.length;
      failed += bad.length;
      t.diagnostic(`${mineChaos.length} cases`);
      assert.deepEqual(bad, []);
    });
  }

  test("vast: a launch that failed after its create is adopted by the next, which attaches the key", {
    skip: replaying,
  }, async () => {
    const w = worlds.get("vast") as World;
    const { p, close } = await w.provider(Math.random);
    const job = "j-adopt-after-failed-attach";
    try {
      // Every try of the key attachment fails: the launch fails after the instance was rented.
      w.proxy.inject({ op: "POST /api/v0/instances/{id}/ssh/", fault: { kind: "server-error", forward: false }, times: 3 });
      await assert.rejects(p.launch(launchReq(w, job, `tok-${job}`)), (e) => e instanceof ProviderError && e.retryable);
      const made = w.liveOnServer(job);
      assert.equal(made.length, 1);
      assert.equal(w.unreachable(made[0] as string), "spotrun's SSH key was never attached");
      const again = await launchOne(p, launchReq(w, job, `tok-${job}`));
      assert.deepEqual(w.liveOnServer(job), [again.id]);
      assert.equal(again.id, made[0]);
      assert.equal(w.unreachable(again.id), undefined);
    } finally {
      w.proxy.clear();
      const left = w.liveOnServer(job).map(InstanceId);
      if (left.length) await p.terminate(left);
      await close();
    }
  });

  test("permanent throttling: each command gives up in bounded time with one line and the retryable exit code", {
    skip: replaying,
  }, async () => {
    const results = await (cli as Promise<CliResult[]>);
    for (const { args, out, tried, tries, mention } of results) {
      const what = `spotrun ${args.join(" ")}: ${JSON.stringify(out.stderr)}`;
      assert.equal(out.code, 1, what);
      const lines = out.stderr.split("\n").filter(Boolean);
      assert.equal(lines.length, 1, what);
      assert.match(lines[0] as string, /^spotrun: /, what);
      assert.match(lines[0] as string, mention, what);
      assert.match(lines[0] as string, /throttling or unavailable; retry in a minute/, what);
      assert.doesNotMatch(out.stderr, /\n\s+at /, what);
      assert.equal(tried, tries, `${what}: ${tried} tries`);
      // Capped backoff: the SDK's 6 tries of full jitter under 400 ms × 2^k (cap 10 s) take at most 22 s.
      assert.ok(out.ms < 40_000, `${what}: ${out.ms} ms`);
    }
  });
});
