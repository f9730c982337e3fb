import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { SpotrunError, usageError } from "../base/errors.js";

/**
 * A spot availability trace (the skypilot-org/spot-traces format used by *Can't Be Late*):
 * `{"metadata": {"gap_seconds": N}, "data": [instances available at tick 0, 1, …]}`.
 * A tick with a count > 0 means a spot instance could be had, and a running one survived it.
 */
export interface Trace {
  /** The file's base name without `.json`, e.g. `us-west-2a_v100_1`: the zone in multi-zone runs. */
  name: string;
  tickMs: number;
  available: readonly boolean[];
}

export const traceSpanMs = (t: Trace): number => t.available.length * t.tickMs;

/** Validates a parsed document; `source` names the file in every error. */
export function parseTrace(doc: unknown, source: string): Trace {
  const bad = (what: string) => usageError(`${source}: ${what}`, 'a trace is {"metadata": {"gap_seconds": N}, "data": [counts]}');
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw bad("expected a JSON object");
  const { metadata, data } = doc as { metadata?: unknown; data?: unknown };
  const gap = (metadata as { gap_seconds?: unknown } | undefined)?.gap_seconds;
  if (typeof gap !== "number" || !Number.isFinite(gap) || gap <= 0)
    throw bad(`metadata.gap_seconds: expected a positive number, got ${JSON.stringify(gap)}`);
  if (!Array.isArray(data) || data.length === 0) throw bad("data: expected a non-empty array of instance counts");
  const available = data.map((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0)
      throw bad(`data[${i}]: expected a count ≥ 0, got ${JSON.stringify(v)}`);
    return v > 0;
  });
  return { name: basename(source).replace(/\.json$/i, ""), tickMs: Math.round(gap * 1000), available };
}

export async function loadTrace(path: string): Promise<Trace> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new SpotrunError("not_found", `cannot read trace ${path}`, {
      fix: "check the path (traces are JSON files such as us-west-2a_v100_1.json)",
      code: (e as NodeJS.ErrnoException).code,
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw usageError(`${path}: not valid JSON (${(e as Error).message})`, "give a trace file in the spot-traces JSON format");
  }
  return parseTrace(doc, path);
}
