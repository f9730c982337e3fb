import { InstanceId, JobId } from "../../src/base/ids.js";
import { SPARE_ATTEMPT } from "../../src/state/schema.js";
import type { StateStore } from "../../src/state/state-store.js";

const H = 3_600_000;

export interface HistoryNode {
  provider?: string;
  region?: string | null;
  zone: string | null;
  type?: string;
  spot: boolean;
  from: number;
  /** Hours after t0; undefined while it runs. */
  to?: number;
  reason?: string;
}

/**
 * One attempt of a job with its nodes, ended (`end`, the attempt's end kind) or live, written
 * through the store's API as the controller writes it. Times are hours after `t0`.
 */
export async function recordAttempt(
  store: StateStore,
  a: { job: string; idx: number; end: string | null; nodes: HistoryNode[]; t0: number },
): Promise<void> {
  const { job: name, idx, end, nodes, t0: T0 } = a;
  const job = JobId(name);
  if (idx === 0)
    await store.insertJob({
      id: job,
      name,
      task_json: "{}",
      base_dir: "/w",
      state: end ? "SUCCEEDED" : "RUNNING",
      desired: "run",
      created_at: T0,
      updated_at: T0,
      ended_at: null,
      attempt: idx,
      preemptions: 0,
      error_restarts: 0,
      launch_failures: 0,
      spot_requests: 0,
      store_url: "file:///c",
      message: null,
      array_id: null,
      array_index: null,
      budget_warned: 0,
      not_before: 0,
      log_bytes: 0,
      policy_json: null,
    });
  const first = nodes[0] as HistoryNode;
  const endAt = end ? T0 + Math.max(...nodes.map((n) => n.to ?? 0)) * H : null;
  await store.insertAttempt({
    job_id: job,
    idx,
    state: end ? "ENDED" : "RUNNING",
    spot: first.spot,
    instance_type: first.type ?? "local.small",
    started_at: T0 + first.from * H,
    ended_at: endAt,
    end_kind: end,
    end_detail: null,
    events_offset: 0,
    log_offset: 0,
    agent_started: true,
    notice_at: null,
    last_heartbeat: null,
    stop_reason: null,
  });
  await recordInstances(store, job, idx, nodes, T0, end ?? "terminated");
}

/**
 * A warm replacement no attempt took, as the controller keeps it for its cost: its nodes under
 * SPARE_ATTEMPT, each ended with `reason` ("preempted" when reclaimed before its go).
 */
export async function recordSpare(
  store: StateStore,
  a: { job: string; key: string; reason: string; nodes: HistoryNode[]; t0: number },
): Promise<void> {
  await recordInstances(store, JobId(a.job), SPARE_ATTEMPT, a.nodes, a.t0, a.reason, a.key);
}

async function recordInstances(
  store: StateStore,
  job: JobId,
  idx: number,
  nodes: HistoryNode[],
  T0: number,
  end: string,
  key: string = String(idx),
): Promise<void> {
  for (const [node, n] of nodes.entries()) {
    const id = `${job}-${key}-${node}`;
    await store.upsertInstance({
      id: InstanceId(id),
      job_id: job,
      attempt: idx,
      node,
      provider: n.provider ?? "local",
      instance_type: n.type ?? "local.small",
      zone: n.zone,
      region: n.region === undefined ? "local" : n.region,
      spot: n.spot,
      price_per_hour: 0.03,
      od_price_per_hour: 0.1,
      launched_at: T0 + n.from * H,
      ended_at: null,
      end_reason: null,
      address: null,
    });
    if (n.to !== undefined) await store.endInstance(id, T0 + n.to * H, n.reason ?? end);
  }
}
