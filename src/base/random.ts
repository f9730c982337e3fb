/** Seeded randomness (mulberry32) so markets, jitter and simulations replay exactly. */
export type Random = () => number;

export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Exponential sample with the given mean, for random interruptions. */
export const exponential = (rand: Random, mean: number): number => -Math.log(1 - rand()) * mean;

/** Full-jitter backoff: a random delay in [0, min(cap, base·2^n)]. */
export const backoffWithJitter = (rand: Random, attempt: number, baseMs: number, capMs: number): number =>
  Math.floor(rand() * Math.min(capMs, baseMs * 2 ** attempt));
