/**
 * spotrun as a library: the composition root the CLI, the dashboard and the MCP server are
 * clients of. Open a home (or a team's PostgreSQL store), submit tasks, read jobs, events, logs
 * and cost, cancel, and run the controller.
 */
export type { HistoryDocument, HistoryOptions } from "./api/interruption-history.js";
export type { CostDocument } from "./api/job-cost.js";
export type { EventView } from "./api/job-events.js";
export type { LogRead, LogReadOptions } from "./api/job-logs.js";
export type { ArraySummary, StatusDocument } from "./api/job-status.js";
export type { JobView } from "./api/job-view.js";
export { defaultHome, loadTask, type OpenOptions, openSpotrun, Spotrun, type SubmitOptions } from "./api/spotrun.js";
export { type ErrorKind, ExitCode, SpotrunError } from "./base/errors.js";
export type { JobState } from "./core/job-state.js";
export type { LoadedTask } from "./spec/load-task.js";
export type { Task, TaskInput } from "./spec/task-schema.js";
