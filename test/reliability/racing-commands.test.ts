import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { liveLocalInstances } from "../support-cli/local-instances.js";
import { bin, lastJson, sandbox, spotrun, waitFor, writeTask } from "../support-cli/spotrun-cli.js";
import { storedInstances, storedJobs, storedLease } from "../support-cli/store-reader.js";
import { between, caseRandom, casesOf, replayHint, runSeed } from "./reliability-kit.js";

/**
 * Commands started at the same instant: several `controller run` and `run --detach` and
 * `status`, on a fresh home (first use migrates the store, each command may start a
 * controller) and on a working one (a job running under its controller). Expected: every
 * command succeeds, one controller works the store (the others see its lease and leave), every
 * job is launched exactly once and succeeds.
 */
interface Started {
  args: string[];
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function start(home: string, args: string[], cwd: string): Started {
  const child = spawn(process.execPath, [bin, "--home", home, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d));
  child.stderr?.on("data", (d: Buffer) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((res) =>
    child.on("close", (code) => res({ code, stdout, stderr })),
  );
  return { args, child, done };
}

/** Live (not zombie) controller processes of this home. */
function controllers(home: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z") continue;
      if (cmd.includes(home) && cmd.includes("controller") && cmd.includes("run")) out.push(Number(name));
    } catch {}
  }
  return out;
}

const TASK = `resources: {provider: local, instance_type: local.small, spot: false}
workdir: .
run: python3 trainer.py
envs: {TOTAL_STEPS: 30, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.05}
`;

describe("racing commands", () => {
  const seed = runSeed();
  const boxes: Awaited<ReturnType<typeof sandbox>>[] = [];
  after(async () => {
    for (const b of boxes) await b.cleanup();
  });

  for (const ref of casesOf("race", 2, seed)) {
    const working = ref.n % 2 === 1;
    const id = `${ref.family}/${ref.seed}/${ref.n}`;
    test(`${working ? "a working home" : "a fresh home"}: controllers, run --detach and status at once (${id})`, async (t) => {
      t.diagnostic(`seed ${ref.seed}; ${replayHint(id, "racing-commands.test.js")}`);
      const rand = caseRandom(ref);
      const box = await sandbox("race");
      boxes.push(box);
      const tasks = await Promise.all([0, 1, 2, 3].map((k) => writeTask(box.work, `name: race-${k}\n${TASK}`, `race-${k}.yaml`)));
      const before: string[] = [];
      if (working) {
        // A job running under its background controller when the others arrive.
        const r = await spotrun(box.home, ["run", tasks[3] as string, "--detach", "--json"]);
        assert.equal(r.code, 0, r.stderr);
        before.push(lastJson<{ id: string }>(r.stdout).id);
        await waitFor(async () => (controllers(box.home).length === 1 ? true : undefined), 20_000, "the first controller");
      }
      const commands: string[][] = [];
      for (let k = 0; k < between(rand, 2, 3); k++) commands.push(["controller", "run", "--exit-when-idle"]);
      for (let k = 0; k < 3; k++) commands.push(["run", tasks[k] as string, "--detach", "--json"]);
      for (let k = 0; k < between(rand, 1, 2); k++) commands.push(["status", "--json"]);
      // Seeded order and stagger (0–40 ms): "at once" as a shell's `&` gives it.
      commands.sort(() => rand() - 0.5);
      const started: Started[] = [];
      for (const args of commands) {
        started.push(start(box.home, args, box.work));
        await new Promise((r) => setTimeout(r, between(rand, 0, 40)));
      }
      // While they race, one controller at a time holds the store's lease: the holder changes only
      // to a new process (one that was idle left, or a newcomer took over), never back and forth
      // between two live ones, and every controller that did not get it leaves.
      const t0 = Date.now();
      const seen = new Set<number>();
      const holders: number[] = [];
      const sampler = setInterval(() => {
        for (const pid of controllers(box.home)) seen.add(pid);
        const holder = storedLease(box.home)?.pid;
        if (holder !== undefined && holders.at(-1) !== holder) holders.push(holder);
      }, 50);
      // A command that hangs is a failure too: none may take more than 90 s.
      const killer = setTimeout(() => {
        for (const s of started) s.child.kill("SIGKILL");
      }, 90_000);
      const results = await Promise.all(started.map((s) => s.done)).finally(() => clearTimeout(killer));
      t.after(() => clearInterval(sampler));
      const failed = results
        .map((r, k) => ({ r, args: started[k]?.args ?? [] }))
        .filter(({ r }) => r.code !== 0)
        .map(({ r, args }) => `${args.join(" ")} → exit ${r.code}: ${r.stderr.trim().split("\n").slice(-2).join(" | ")}`);
      assert.deepEqual(failed, [], "every command succeeded");
      const submitted = results.filter((_, k) => started[k]?.args[0] === "run").map((r) => lastJson<{ id: string }>(r.stdout).id);
      const all = [...before, ...submitted];
      const ended = await waitFor(
        async () => {
          const jobs = storedJobs(box.home).filter((j) => all.includes(j.id));
          return jobs.length === all.length && jobs.every((j) => ["SUCCEEDED", "FAILED", "CANCELLED"].includes(j.state))
            ? jobs
            : undefined;
        },
        90_000,
        "every job to finish",
      );
      clearInterval(sampler);
      t.diagnostic(
        `${commands.length} commands at once; ${seen.size} controller processes, the lease held by ${holders.length} in turn; all done in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
      assert.deepEqual(
        ended.filter((j) => j.state !== "SUCCEEDED").map((j) => `${j.id}: ${j.state}`),
        [],
        "every job succeeded",
      );
      assert.equal(new Set(holders).size, holders.length, `the lease went back and forth: ${holders.join(" → ")}`);
      // Launched once: one instance per job in the store, and one at the provider by its job tag.
      for (const job of all) {
        assert.deepEqual(
          storedInstances(box.home, job).map((i) => i.attempt),
          [0],
          `${job}: one attempt, one instance`,
        );
        const tagged = readdirSync(join(box.home, "local", "instances")).filter((i) => {
          try {
            return (
              (
                JSON.parse(readFileSync(join(box.home, "local", "instances", i, "instance.json"), "utf8")) as {
                  tags: Record<string, string>;
                }
              ).tags["spotrun:job"] === job
            );
          } catch {
            return false;
          }
        });
        assert.equal(tagged.length, 1, `${job}: launched ${tagged.length} times at the provider`);
      }
      await waitFor(async () => (liveLocalInstances(box.home).length === 0 ? true : undefined), 15_000, "every instance to end");
      // With nothing left to do, every controller leaves by itself (those that lost, at once).
      await waitFor(async () => (controllers(box.home).length === 0 ? true : undefined), 30_000, "every controller to exit");
    });
  }
});
