import { join } from "node:path";

/** Where a job's collected output lives on the controller's machine (it outlives every instance). */
export const jobDir = (home: string, jobId: string) => join(home, "jobs", jobId);
export const jobLogPath = (home: string, jobId: string) => join(jobDir(home, jobId), "run.log");
export const controllerLogPath = (home: string) => join(home, "controller.log");
