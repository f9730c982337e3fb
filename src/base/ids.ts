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

/** Short, sortable, human-typable: `j-` + base36 time + random. */
export function newJobId(now: number, rand: () => Buffer = () => randomBytes(3)): JobId {
  return JobId(`j-${now.toString(36)}${rand().toString("hex")}`);
}

/** Attempt ids are derived, not random, so every side effect keyed on them is idempotent. */
export const attemptIdOf = (job: JobId, index: number): AttemptId => AttemptId(`${job}-a${index}`);

/** EC2 ClientToken and friends: at most 64 ASCII characters, stable for a job + attempt + node. */
export function idempotencyKey(attempt: AttemptId, node = 0): string {
  return `spotrun-${attempt}-n${node}`.slice(0, 64);
}
