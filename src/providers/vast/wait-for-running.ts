import type { Clock } from "../../base/clock.js";
import { isRetryable, ProviderError } from "../provider.js";
import type { VastClient } from "./client.js";
import { classify, type VastCondition } from "./instance-state.js";
import type { VastInstance } from "./wire.js";

export type StartFailure = "timeout" | "disk_full" | "gone";

/** The instance did not reach running: it timed out, its disk is full, or it was destroyed. */
export class InstanceStartError extends Error {
  constructor(
    readonly failure: StartFailure,
    readonly instanceId: number,
    message: string,
    readonly last: VastCondition,
  ) {
    super(message);
    this.name = "InstanceStartError";
  }
}

export interface WaitProgress {
  instanceId: number;
  condition: VastCondition;
  statusMsg: string | null;
  elapsedMs: number;
  polls: number;
}

export interface WaitOptions {
  timeoutMs: number;
  clock: Clock;
  /** Whether the instance is interruptible (decides "outbid" vs "host_stopped" in progress reports). */
  spot?: boolean;
  onProgress?: (p: WaitProgress) => void;
  /** First poll interval; grows ×1.5 up to maxDelayMs (the seed's "wait with retries"). */
  firstDelayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
}

/**
 * Poll until `intended_status == actual_status == "running"` (the CLI's own test), with backoff
 * and a hard time limit. API hiccups (429, 5xx, network) are retried inside the limit. A full disk
 * or a destroyed instance ends the wait at once; anything else waits for the limit, because a
 * loading image or an outbid machine can still come up.
 */
export async function waitForRunning(client: VastClient, id: number, opts: WaitOptions): Promise<VastInstance> {
  const start = opts.clock.now();
  let delay = opts.firstDelayMs ?? 2_000;
  const maxDelay = opts.maxDelayMs ?? 30_000;
  let last: VastCondition = { kind: "starting", actual: null };
  /** The API's refusal of the latest poll, while the streak of unanswered polls lasts. */
  let unanswered: { error: unknown; since: number } | undefined;
  for (let polls = 1; ; polls++) {
    opts.signal?.throwIfAborted();
    let inst: VastInstance | undefined;
    let seen = true;
    try {
      inst = await client.showInstance(id);
      unanswered = undefined;
    } catch (e) {
      if (!isRetryable(e)) throw e;
      seen = false;
      unanswered = { error: e, since: unanswered?.since ?? opts.clock.now() };
    }
    if (seen) {
      last = classify(inst, opts.spot ?? false);
      opts.onProgress?.({
        instanceId: id,
        condition: last,
        statusMsg: inst?.status_msg ?? null,
        elapsedMs: opts.clock.now() - start,
        polls,
      });
      if (last.kind === "running" && inst) return inst;
      if (last.kind === "disk_full")
        throw new InstanceStartError(
          "disk_full",
          id,
          `vast: instance ${id} cannot start, its disk is full: ${last.message}`,
          last,
        );
      if (last.kind === "gone")
        throw new InstanceStartError("gone", id, `vast: instance ${id} was destroyed before it ran`, last);
    }
    const elapsed = opts.clock.now() - start;
    if (elapsed >= opts.timeoutMs && unanswered) {
      // Not the instance's fault: the API would not say how it is (a 429 storm, an outage). Retryable.
      const cause = unanswered.error as { code?: string; message?: string };
      throw new ProviderError(
        "vast",
        cause.code ?? "unavailable",
        `vast: instance ${id}: no status for the last ${Math.round((opts.clock.now() - unanswered.since) / 1000)}s of ${Math.round(elapsed / 1000)}s — the API kept failing (${cause.message ?? String(cause)})`,
        true,
        { cause: unanswered.error },
      );
    }
    if (elapsed >= opts.timeoutMs) {
      const where = last.kind === "starting" ? `still ${last.actual ?? "scheduling"}` : last.kind;
      throw new InstanceStartError(
        "timeout",
        id,
        `vast: instance ${id} not running after ${Math.round(elapsed / 1000)}s (${where})`,
        last,
      );
    }
    await opts.clock.sleep(Math.min(delay, opts.timeoutMs - elapsed), opts.signal);
    delay = Math.min(maxDelay, delay * 1.5);
  }
}
