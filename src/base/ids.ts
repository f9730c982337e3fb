import { randomBytes } from "node:crypto";

/** Branded ids: a JobId cannot be passed where an InstanceId is expected. */
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type JobId = Brand<string, "JobId">;
export type AttemptId = Brand<string, "AttemptId">;
export type InstanceId = Brand<string, "InstanceId">;
export type GenerationId = Brand<string, "GenerationId">;

export const JobId = (s: string) => s as JobId;
export const AttemptId = (s: string) => s as AttemptId;
export const InstanceId = (s: string) => s as InstanceId;
export const GenerationId = (s: string) => s as GenerationId;

/**
 * Job ids: `j-` + base36 milliseconds + 12 hex digits, sortable by time and typable by a unique
 * prefix. The suffix is a random 48-bit start plus a counter, so the ids one process makes never
 * collide (an array of 10⁷ members is made in the same millisecond), and two processes collide
 * only if their random starts fall within the ids each made in the same millisecond.
 */
export class IdSource {
  /** The next suffix as two 24-bit halves (small integers keep this cheap at 10⁷ ids). */
  private hi: number;
  private lo: number;
  private lastMs = -1;
  private prefix = "";
  constructor(random: () => Buffer = () => randomBytes(6)) {
    const start = random();
    this.hi = start.readUIntBE(0, 3);
    this.lo = start.readUIntBE(3, 3);
  }
  jobId(now: number): JobId {
    if (now !== this.lastMs) {
      this.lastMs = now;
      this.prefix = `j-${now.toString(36)}`;
    }
    const { hi, lo } = this;
    const id = this.prefix + HEX3[hi >> 12] + HEX3[hi & 0xfff] + HEX3[lo >> 12] + HEX3[lo & 0xfff];
    this.lo = (lo + 1) & 0xffffff;
    if (this.lo === 0) this.hi = (hi + 1) & 0xffffff;
    return JobId(id);
  }
}
const HEX3 = Array.from({ length: 4096 }, (_, i) => i.toString(16).padStart(3, "0"));

const processIds = new IdSource();

/** A new job id from this process's id source. */
export const newJobId = (now: number): JobId => processIds.jobId(now);

/** Attempt ids are derived, not random, so every side effect keyed on them is idempotent. */
export const attemptIdOf = (job: JobId, index: number): AttemptId => AttemptId(`${job}-a${index}`);

/** EC2 ClientToken and friends: at most 64 ASCII characters, stable for a job + attempt + node. */
export function idempotencyKey(attempt: AttemptId, node = 0): string {
  return `spotrun-${attempt}-n${node}`.slice(0, 64);
}
