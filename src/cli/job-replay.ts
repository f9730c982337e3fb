import { parseDuration } from "../base/duration.js";
import { notFound, usageError } from "../base/errors.js";
import { deadlineStateOf } from "../core/stored-policy.js";
import { resolveDeadline } from "../placement/deadline.js";
import { isPolicyName } from "../placement/policy.js";
import { simulate } from "../placement/simulator.js";
import { loadTrace } from "../spec/availability-trace.js";
import type { Task } from "../spec/task-schema.js";
import type { StateStore } from "../state/state-store.js";

/**
 * A job whose deadline policy ran on a replayed trace, set beside `simulate` on the same stretch of
 * that trace: tick by tick, what the controller chose and what the simulator chooses, by which
 * rule. The simulator gets the job's own settings in trace time, and the restart overhead the
 * controller measured (in whole ticks, as it decided with).
 */
export interface ReplayTick {
  tick: number;
  live: { choice: string; rule: string; reclaimed: boolean } | null;
  simulated: { choice: string; rule: string; preempted: boolean } | null;
  same: boolean;
}

export interface JobReplay {
  id: string;
  trace: string;
  policy: string;
  start_at_seconds: number;
  work_seconds: number;
  deadline_seconds: number;
  restart_overhead_seconds: number;
  ticks: ReplayTick[];
  compared: number;
  matched: number;
}

interface DecisionData {
  choice: string;
  rule: string;
  tick?: number;
  job_tick?: number;
  reclaimed?: boolean;
  restart_overhead_ms: number;
}

export async function replayJob(store: StateStore, ref: string): Promise<JobReplay> {
  const job = await store.findJob(ref);
  if (!job) throw notFound(`no job ${ref}`, "list jobs with `spotrun status --all`");
  const task = JSON.parse(job.task_json) as Task;
  const market = task.resources.market;
  const r = task.recovery;
  if (!market?.trace || r.strategy !== "deadline" || r.work === undefined || r.deadline === undefined)
    throw usageError(
      `job ${job.id} did not run the deadline strategy on a replayed trace`,
      "compare jobs whose task has recovery.strategy: deadline and resources.market.trace",
    );
  const decisions = (await store.eventsOfKind(job.id, ["placement_decision"]))
    .map((e) => JSON.parse(e.data) as DecisionData)
    .filter((d) => d.tick !== undefined && d.job_tick !== undefined);
  const first = decisions[0];
  if (!first) throw usageError(`job ${job.id} has taken no decision yet`, "wait for its first tick");
  const trace = await loadTrace(market.trace);
  const scale = market.time_scale;
  const inTrace = (wallMs: number) => Math.round(wallMs * scale);
  // The deadline counts from the job's first tick, as the controller counted it.
  if (parseDuration(r.deadline) === undefined)
    throw usageError(
      `job ${job.id} has an absolute recovery.deadline; a replay is compared for a deadline given as a duration`,
      "give recovery.deadline as a duration from the submission, e.g. 80s",
    );
  const deadlineWall = resolveDeadline(r.deadline, 0);
  const overhead = (decisions.at(-1) as DecisionData).restart_overhead_ms;
  const policy = r.deadline_policy;
  if (!isPolicyName(policy)) throw usageError(`unknown deadline policy ${policy}`);
  const startOffsetMs = (first.tick as number) * trace.tickMs;
  // A randomized or price-aware policy replays from the seed and price ratio the job started with.
  const kept = deadlineStateOf(job.policy_json, job.id)?.state;
  const sim = simulate({
    traces: [trace],
    policy,
    workMs: inTrace(r.work),
    deadlineMs: inTrace(deadlineWall),
    cost: { spotPricePerHour: 1, onDemandPricePerHour: 3, restartOverheadMs: overhead },
    startOffsetMs,
    policyParams: {
      ...(kept?.random ? { seed: kept.random.seed } : {}),
      ...(kept?.priceRatio ? { priceRatio: kept.priceRatio } : {}),
    },
    keepTimeline: true,
  });
  const timeline = sim.timeline ?? [];
  const byTick = new Map(decisions.map((d) => [d.job_tick as number, d]));
  const n = Math.max(timeline.length, ...decisions.map((d) => (d.job_tick as number) + 1));
  const ticks: ReplayTick[] = Array.from({ length: n }, (_, k) => {
    const l = byTick.get(k);
    const s = timeline[k];
    const live = l ? { choice: l.choice, rule: l.rule, reclaimed: l.reclaimed === true } : null;
    const simulated = s ? { choice: s.choice, rule: s.rule, preempted: s.preempted } : null;
    const same = Boolean(
      live &&
        simulated &&
        live.choice === simulated.choice &&
        live.rule === simulated.rule &&
        live.reclaimed === simulated.preempted,
    );
    return { tick: k, live, simulated, same };
  });
  const compared = ticks.filter((t) => t.live && t.simulated);
  return {
    id: job.id,
    trace: market.trace,
    policy,
    start_at_seconds: startOffsetMs / 1000,
    work_seconds: inTrace(r.work) / 1000,
    deadline_seconds: inTrace(deadlineWall) / 1000,
    restart_overhead_seconds: overhead / 1000,
    ticks,
    compared: compared.length,
    matched: compared.filter((t) => t.same).length,
  };
}
