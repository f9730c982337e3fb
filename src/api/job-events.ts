import type { EventRow } from "../state/state-store.js";

/** One event as the API and `--json` give it: its sequence number, RFC 3339 time, kind and fields. */
export interface EventView {
  seq: number;
  at: string;
  kind: string;
  [field: string]: unknown;
}

export function eventView(e: EventRow): EventView {
  return {
    ...(JSON.parse(e.data) as Record<string, unknown>),
    seq: e.seq,
    at: new Date(Number(e.at)).toISOString(),
    kind: e.kind,
  };
}
