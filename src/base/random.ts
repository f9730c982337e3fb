/** Seeded randomness (mulberry32) so markets, jitter and simulations replay exactly. */
export type Random = () => number;

/**
 * One mulberry32 step on an explicit state: the draw in [0, 1) and the state after it. For
 * randomness that must survive a restart (a policy's state kept in the database as JSON).
 */
export function mulberry32(state: number): { value: number; state: number } {
  const a = (state + 0x6d2b79f5) >>> 0;
  let t = a;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { value: ((t ^ (t >>> 14)) >>> 0) / 4294967296, state: a };
}

export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    const r = mulberry32(a);
    a = r.state;
    return r.value;
  };
}

/** Exponential sample with the given mean, for random interruptions. */
export const exponential = (rand: Random, mean: number): number => -Math.log(1 - rand()) * mean;

/** Full-jitter backoff: a random delay in [0, min(cap, base·2^n)]. */
export const backoffWithJitter = (rand: Random, attempt: number, baseMs: number, capMs: number): number =>
  Math.floor(rand() * Math.min(capMs, baseMs * 2 ** attempt));
