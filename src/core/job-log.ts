import { appendFileSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { jobLogPath } from "./paths.js";

/**
 * The job's log on the controller's machine takes each attempt's run log as its agent sends it:
 * a chunk is appended, then the store records how far into the agent's log the attempt got. A
 * controller killed between the two leaves the chunk in the file but not in the store, and the
 * next controller is sent it again. So after each acknowledgement the file's length is noted
 * beside it (`run.log.ack`: attempt, agent offset, file length); before an attempt's log is taken
 * up again, bytes past that length written for an offset the store never acknowledged are cut.
 */
interface Ack {
  attempt: number;
  offset: number;
  bytes: number;
}

const ackPath = (home: string, jobId: string) => `${jobLogPath(home, jobId)}.ack`;

function readAck(home: string, jobId: string): Ack | undefined {
  try {
    const a = JSON.parse(readFileSync(ackPath(home, jobId), "utf8")) as Ack;
    return Number.isInteger(a.attempt) && Number.isInteger(a.offset) && Number.isInteger(a.bytes) ? a : undefined;
  } catch {
    return undefined;
  }
}

function size(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

/** Bytes of attempt `attempt`'s run log, appended to the job's log (the store's offset is recorded next). */
export function appendRunLog(home: string, jobId: string, bytes: Uint8Array): void {
  appendFileSync(jobLogPath(home, jobId), bytes);
}

/** The store now holds `offset` for the attempt: note the job log's length that goes with it. */
export function ackRunLog(home: string, jobId: string, attempt: number, offset: number): void {
  const bytes = size(jobLogPath(home, jobId));
  if (bytes === undefined) return;
  // Not fsynced, as the log itself is not: it guards against a killed controller, not a lost machine.
  writeFileSync(ackPath(home, jobId), JSON.stringify({ attempt, offset, bytes } satisfies Ack));
}

/**
 * Before the attempt's log is taken up from `storedOffset` (a channel opened, the copy kept with
 * the checkpoints read): what was appended after the last acknowledgement of that very offset was
 * never acknowledged, and will be sent again; cut it. Returns the bytes cut.
 */
export function repairRunLog(home: string, jobId: string, attempt: number, storedOffset: number): number {
  const extra = unackedRunLog(home, jobId, attempt, storedOffset);
  if (extra > 0) truncateSync(jobLogPath(home, jobId), (size(jobLogPath(home, jobId)) ?? 0) - extra);
  return extra;
}

/**
 * How many bytes of the attempt's run log past `storedOffset` the job's log already holds, written
 * but never acknowledged. A source that will not send them again (the copy kept with the
 * checkpoints may be older than what the channel brought) starts after them instead of cutting them.
 */
export function unackedRunLog(home: string, jobId: string, attempt: number, storedOffset: number): number {
  const ack = readAck(home, jobId);
  if (!ack || ack.attempt !== attempt || ack.offset !== storedOffset) return 0;
  const now = size(jobLogPath(home, jobId));
  return now === undefined || now <= ack.bytes ? 0 : now - ack.bytes;
}
