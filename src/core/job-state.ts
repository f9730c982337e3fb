/** The job state machine of DESIGN.md: the states are the store's (state/job-states.ts), the moves are here. */
import type { JobState } from "../state/job-states.js";

export { type AttemptState, isTerminal, JOB_STATES, type JobState, TERMINAL_STATES } from "../state/job-states.js";

/** Which moves are legal; the controller refuses any other as a bug. */
const NEXT: Record<JobState, readonly JobState[]> = {
  PENDING: ["PROVISIONING", "CANCELLED", "FAILED", "OVER_BUDGET"],
  PROVISIONING: ["SETTING_UP", "RECOVERING", "FAILED", "CANCELLED", "OVER_BUDGET"],
  SETTING_UP: ["RUNNING", "RECOVERING", "FAILED", "CANCELLED", "OVER_BUDGET", "SUCCEEDED"],
  RUNNING: ["RECOVERING", "SUCCEEDED", "FAILED", "CANCELLED", "OVER_BUDGET"],
  RECOVERING: ["PROVISIONING", "FAILED", "CANCELLED", "OVER_BUDGET"],
  SUCCEEDED: [],
  FAILED: [],
  CANCELLED: [],
  OVER_BUDGET: [],
};
export const canMove = (from: JobState, to: JobState): boolean => from === to || NEXT[from].includes(to);

/** Why an attempt ended. */
export type AttemptEnd =
  | { kind: "succeeded" }
  | { kind: "preempted"; notice: boolean }
  | { kind: "user_error"; exitCode: number }
  | { kind: "setup_failed"; exitCode: number }
  | { kind: "launch_failed"; code: string; message: string }
  | { kind: "lost"; reason: string }
  | { kind: "cancelled" }
  | { kind: "over_budget" };
