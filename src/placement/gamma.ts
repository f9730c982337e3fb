/**
 * The Gamma distribution's CDF and quantile, for the credible interval of an interruption rate.
 * Lanczos for ln Γ, the series and the continued fraction of Numerical Recipes (§6.2) for the
 * regularized lower incomplete gamma P(a, x), and bisection for the quantile: slower than Newton
 * but bounded and exact to the last digit shown.
 */

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

export function lnGamma(x: number): number {
  // Reflection keeps the series where it converges.
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0] as number;
  for (let i = 1; i < LANCZOS.length; i++) sum += (LANCZOS[i] as number) / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

const EPS = 1e-15;
const MAX_TERMS = 10_000;

/** P(a, x) = γ(a, x) / Γ(a), the CDF of Gamma(shape a, rate 1) at x. */
export function regularizedGammaP(a: number, x: number): number {
  if (!(a > 0)) throw new RangeError(`gamma shape must be > 0, got ${a}`);
  if (x <= 0) return 0;
  const front = Math.exp(-x + a * Math.log(x) - lnGamma(a));
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < MAX_TERMS && Math.abs(term) > Math.abs(sum) * EPS; n++) {
      term *= x / (a + n);
      sum += term;
    }
    return Math.min(1, sum * front);
  }
  // Q(a, x) by the modified Lentz continued fraction.
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_TERMS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.max(0, 1 - front * h);
}

/** The x with P(shape, x·rate) = p: the p-quantile of Gamma(shape, rate). */
export function gammaQuantile(p: number, shape: number, rate: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`quantile p must be in [0, 1], got ${p}`);
  if (!(rate > 0)) throw new RangeError(`gamma rate must be > 0, got ${rate}`);
  if (p === 0) return 0;
  if (p === 1) return Number.POSITIVE_INFINITY;
  let lo = 0;
  let hi = Math.max(1, shape);
  for (let i = 0; i < 2000 && regularizedGammaP(shape, hi) < p; i++) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (regularizedGammaP(shape, mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2 / rate;
}
