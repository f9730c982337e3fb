import { type Random, seededRandom } from "../../src/base/random.js";

/**
 * What every family of the reliability harness shares: one seed for the run (printed), counts
 * from the environment with CI defaults, and case ids that replay one case alone.
 *
 *   SPOTRUN_RELIABILITY_SEED=<n>|random   the run's seed (default: a fixed one, so CI is repeatable)
 *   SPOTRUN_RELIABILITY_CASE=<id>         run only this case (its id carries family and seed)
 *   SPOTRUN_RELIABILITY_SCALE=<x>         multiply every family's case count (e.g. 5 for a long soak)
 *   SPOTRUN_RELIABILITY_<FAMILY>=<n>      one family's count (FUZZ, KILLS, …; see each test file)
 *   SPOTRUN_RELIABILITY_DISABLED=run      also run the families disabled until a fix lands
 *
 * A case id is `<family>/<seed>/<n>`: case n of a family draws from its own generator seeded by
 * (seed, n), so it is the same case whatever else runs.
 */
export const DEFAULT_SEED = 20_261_118;

export function runSeed(): number {
  const v = process.env.SPOTRUN_RELIABILITY_SEED;
  if (v === "random") return Math.floor(Math.random() * 2 ** 31);
  if (v !== undefined && v !== "") {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`SPOTRUN_RELIABILITY_SEED: expected a whole number or "random", got ${v}`);
    return n;
  }
  return DEFAULT_SEED;
}

/** A family's case count: its own variable, else the CI default times the scale. */
export function caseCount(family: string, ciDefault: number): number {
  const own = process.env[`SPOTRUN_RELIABILITY_${family.toUpperCase().replace(/-/g, "_")}`];
  if (own !== undefined && own !== "") {
    const n = Number(own);
    if (!Number.isInteger(n) || n < 0) throw new Error(`SPOTRUN_RELIABILITY_${family.toUpperCase()}: expected a whole number`);
    return n;
  }
  const scale = Number(process.env.SPOTRUN_RELIABILITY_SCALE ?? 1);
  return Math.max(0, Math.round(ciDefault * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

export const caseId = (family: string, seed: number, n: number): string => `${family}/${seed}/${n}`;

export interface CaseRef {
  family: string;
  seed: number;
  n: number;
}

export function parseCaseId(id: string): CaseRef | undefined {
  const m = /^([a-z0-9-]+(?:\/[a-z0-9-]+)*)\/(\d+)\/(\d+)$/.exec(id.trim());
  return m ? { family: m[1] as string, seed: Number(m[2]), n: Number(m[3]) } : undefined;
}

/** The one case asked for by SPOTRUN_RELIABILITY_CASE, if any. */
export function replayCase(): CaseRef | undefined {
  const v = process.env.SPOTRUN_RELIABILITY_CASE;
  if (!v) return undefined;
  const ref = parseCaseId(v);
  if (!ref) throw new Error(`SPOTRUN_RELIABILITY_CASE: expected <family>/<seed>/<n>, got ${v}`);
  return ref;
}

/**
 * The cases of one family this run: n = 0..count-1 under the run's seed, or only the replayed one
 * (none, when the replayed case belongs to another family).
 */
export function casesOf(family: string, count: number, seed = runSeed()): CaseRef[] {
  const replay = replayCase();
  if (replay) return replay.family === family || replay.family.startsWith(`${family}/`) ? [replay] : [];
  return Array.from({ length: count }, (_, n) => ({ family, seed, n }));
}

/** Whether families disabled until their fix lands run anyway. */
export const runDisabled = (): boolean => process.env.SPOTRUN_RELIABILITY_DISABLED === "run";

/** The generator of one case: seeded by the run's seed and the case's number (and family). */
export function caseRandom(ref: CaseRef): Random {
  let h = 2166136261 ^ ref.seed;
  for (const ch of `${ref.family}/${ref.n}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return seededRandom(h >>> 0);
}

export const pick = <T>(rand: Random, items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
export const between = (rand: Random, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));

/** Run `fn` over `items` with at most `limit` at once. */
export async function inParallel<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
    }),
  );
  return out;
}

/** How to replay a failed case, for assertion messages. */
export const replayHint = (id: string, file: string): string =>
  `replay: SPOTRUN_RELIABILITY_CASE=${id} node --test dist/test/reliability/${file}`;
