import type { Clock } from "../../base/clock.js";
import type { JobId } from "../../base/ids.js";
import type { Logger } from "../../base/logger.js";
import type { Provider } from "../../providers/provider.js";
import type { Task } from "../../spec/task-schema.js";
import type { JobRow, StateStore } from "../../state/state-store.js";
import type { InstanceObserver } from "../instance-observer.js";
import type { JobRecorder } from "../job-recorder.js";
import type { TransportPool } from "../transport-pool.js";

/** What every reconciler is given by the controller: nothing global, everything injected. */
export interface ReconcilerDeps {
  store: StateStore;
  clock: Clock;
  logger: Logger;
  home: string;
  recorder: JobRecorder;
  transports: TransportPool;
  observer: InstanceObserver;
  /** This store's tag (known once the controller holds its lease). */
  storeTag: () => string;
  /** Visit this job soon (something it waits for has arrived). */
  wake: (jobId: JobId) => void;
  /** Work that must not hold up a visit (ending old instances); the controller waits for it on exit. */
  background: (p: Promise<void>) => void;
}

/** The job a visit is about, with its task parsed once and its provider. */
export interface JobContext {
  job: JobRow;
  task: Task;
  provider: Provider;
}
