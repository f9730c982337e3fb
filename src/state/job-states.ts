/**
 * The states a job and an attempt row can hold, as the store keeps them. The names are the contract
 * of `status --json`; the moves between them are core's (core/job-state.ts).
 */
export const JOB_STATES = [
  "PENDING",
  "PROVISIONING",
  "SETTING_UP",
  "RUNNING",
  "RECOVERING",
  "SUCCEEDED",
  "FAILED",
  "CANCELLED",
  "OVER_BUDGET",
] as const;
export type JobState = (typeof JOB_STATES)[number];

export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(["SUCCEEDED", "FAILED", "CANCELLED", "OVER_BUDGET"]);
export const isTerminal = (s: JobState): boolean => TERMINAL_STATES.has(s);

export type AttemptState = "LAUNCHING" | "SETTING_UP" | "RUNNING" | "STOPPING" | "ENDED";

/** What the user wants of a job: keep it running, or cancel it (the controller acts on the change). */
export type JobDesire = "run" | "cancel";
