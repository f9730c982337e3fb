import { InstanceId } from "../../base/ids.js";
import type { InstanceInfo, Provider } from "../../providers/provider.js";
import { TAG, taggedJob } from "../../providers/provider.js";
import type { ProviderCache } from "../../providers/registry.js";
import type { ProviderKind, Task } from "../../spec/task-schema.js";
import type { InstanceRow, JobRow } from "../../state/state-store.js";
import { isTerminal } from "../job-state.js";
import type { ReconcilerDeps } from "./deps.js";
import { decideReap } from "./reap-decisions.js";
import type { Teardown } from "./teardown.js";

/** What the pass read once of the live jobs and attempts. */
interface LiveAttempts {
  jobs: Map<string, JobRow>;
  /** `job/idx` of every attempt not ended. */
  open: Set<string>;
}

/** Instances looked at with reads of their own between two yields to the event loop. */
const YIELD_EVERY = 64;

/**
 * The common case, decided on what the pass read once instead of on reads per instance: a running
 * instance whose row is open, of the current attempt (not ended) of a job not finished, is kept —
 * what decideReap says of it with the reads. Anything else is decided on fresh reads (a
 * terminate is never decided on the pass's snapshot). Pure.
 */
export function keptAsOwned(info: InstanceInfo | undefined, row: InstanceRow | undefined, live: LiveAttempts): boolean {
  if (!info || info.status === "terminated" || !row) return false;
  const job = live.jobs.get(row.job_id);
  return (
    job !== undefined && !isTerminal(job.state) && job.attempt === row.attempt && live.open.has(`${row.job_id}/${row.attempt}`)
  );
}

/**
 * End every instance this store launched that no live attempt owns (leftovers of a controller that
 * died between a launch and its record, or of an attempt whose terminate failed), and settle the
 * store's open rows of instances the provider has already ended.
 */
export class Reaper {
  constructor(
    private readonly d: ReconcilerDeps,
    private readonly teardown: Teardown,
    private readonly providers: ProviderCache,
  ) {}

  async reap(activeJobs?: JobRow[]): Promise<string[]> {
    const openRows = await this.d.store.instances({ live: true });
    const kinds = new Set<ProviderKind>(["local"]);
    const jobs = activeJobs ?? (await this.d.store.jobs({ active: true }));
    for (const j of jobs) kinds.add((JSON.parse(j.task_json) as Task).resources.provider);
    for (const r of openRows) kinds.add(r.provider as ProviderKind);
    const live: LiveAttempts = {
      jobs: new Map(jobs.map((j) => [j.id, j])),
      open: new Set((await this.d.store.openAttempts()).map((a) => `${a.job_id}/${a.idx}`)),
    };
    const reaped: string[] = [];
    for (const kind of kinds) {
      const provider = await this.providers.get(kind).catch(() => undefined);
      if (!provider) continue;
      reaped.push(
        ...(await this.reapProvider(
          provider,
          openRows.filter((r) => r.provider === kind),
          live,
        )),
      );
    }
    return reaped;
  }

  private async reapProvider(provider: Provider, openRows: InstanceRow[], live: LiveAttempts): Promise<string[]> {
    const listed = await this.d.observer.listing(provider).catch(() => undefined);
    if (!listed) return [];
    const byId = new Map<string, InstanceInfo>(listed.map((i) => [i.id, i]));
    // Open rows the listing does not show (tags not visible, another region): ask for them by id.
    const unlisted = openRows.filter((r) => !byId.has(r.id)).map((r) => r.id);
    const described = unlisted.length > 0 ? await provider.describe(unlisted).catch(() => undefined) : [];
    if (!described) return [];
    for (const i of described) byId.set(i.id, i);
    const rows = new Map<string, (typeof openRows)[number]>(openRows.map((r) => [r.id, r]));
    const reaped: string[] = [];
    let looked = 0;
    for (const id of new Set([...byId.keys(), ...rows.keys()])) {
      const info = byId.get(id);
      const row = rows.get(id);
      if (keptAsOwned(info, row, live)) continue;
      // The reads below wait on nothing: let the agents' channels in between (a notice must not
      // wait for the reaper's pass over thousands of instances).
      if (++looked % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
      const jobId = row?.job_id ?? (info && taggedJob(info.tags));
      const idx = row?.attempt ?? Number(info?.tags[TAG.attempt]);
      const job = jobId ? await this.d.store.job(jobId) : undefined;
      const attempt = job ? await this.d.store.attempt(job.id, idx) : undefined;
      const jobLive = job !== undefined && !isTerminal(job.state);
      const current = job !== undefined && job.attempt === idx && attempt !== undefined && attempt.state !== "ENDED";
      // The current attempt owns what it recorded, and while launching what it may be about to
      // record; an instance it did not take (a replacement launched on a notice, given up or not
      // adopted, whose controller died) is not its.
      const recorded =
        current &&
        (row !== undefined ||
          attempt?.state === "LAUNCHING" ||
          (await this.d.store.instances({ jobId: job.id, attempt: idx })).some((r) => r.id === id));
      const attemptOwns = job !== undefined && (recorded || job.attempt + 1 === idx);
      const action = decideReap({
        provider: !info ? "absent" : info.status === "terminated" ? "ended" : "live",
        rowOpen: row !== undefined,
        jobLive,
        attemptOwns,
      });
      if (action === "keep") continue;
      if (action === "terminate") {
        await provider.terminate([InstanceId(id)]);
        this.d.observer.ended(provider, [id]);
        reaped.push(id);
        if (job) {
          await this.d.recorder.event(job.id, { kind: "reaped", instance_id: id, reason: `attempt ${idx + 1} is not live` });
          if (row) await this.teardown.recordEnded(job.id, idx, id, "reaped");
          else await this.d.store.endInstance(id, this.d.clock.now(), "reaped");
        }
        continue;
      }
      if (job) await this.teardown.recordEnded(job.id, idx, id, "ended at the provider", info?.endedAt ?? this.d.clock.now());
    }
    return reaped;
  }
}
