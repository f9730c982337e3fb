import assert from "node:assert/strict";
import { test } from "node:test";
import { gammaQuantile, lnGamma, regularizedGammaP } from "../../../src/placement/gamma.js";

const close = (a: number, b: number, rel: number, what: string) =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test("ln Γ(n) is ln (n−1)!", () => {
  let fact = 1;
  for (let n = 1; n <= 40; n++) {
    close(lnGamma(n), Math.log(fact), 1e-12, `lnGamma(${n})`);
    fact *= n;
  }
  // Γ(1/2) = √π
  close(lnGamma(0.5), 0.5 * Math.log(Math.PI), 1e-12, "lnGamma(0.5)");
});

test("P(n, x) for whole n is the Erlang CDF 1 − Σ_{j<n} e^{−x} x^j / j!", () => {
  for (const n of [1, 2, 3, 5, 8, 13, 30, 100]) {
    for (const x of [0.01, 0.5, 1, 2, 5, 10, 30, 80, 150]) {
      let term = Math.exp(-x);
      let tail = 0;
      for (let j = 0; j < n; j++) {
        tail += term;
        term *= x / (j + 1);
      }
      close(regularizedGammaP(n, x), 1 - tail, 1e-10, `P(${n}, ${x})`);
    }
  }
  assert.equal(regularizedGammaP(2, 0), 0);
  assert.throws(() => regularizedGammaP(0, 1), RangeError);
});

test("the quantile inverts the CDF, and scales with the rate", () => {
  // Shape 1 is the exponential: q = −ln(1 − p) / rate.
  for (const p of [0.05, 0.5, 0.95]) close(gammaQuantile(p, 1, 4), -Math.log(1 - p) / 4, 1e-12, `exp q(${p})`);
  for (const shape of [0.3, 1.2, 4.2, 17, 250]) {
    for (const p of [0.001, 0.05, 0.5, 0.95, 0.999]) {
      const q = gammaQuantile(p, shape, 1);
      close(regularizedGammaP(shape, q), p, 1e-10, `P(${shape}, q(${p}))`);
      close(gammaQuantile(p, shape, 24), q / 24, 1e-12, `rate 24, shape ${shape}, p ${p}`);
    }
  }
  assert.equal(gammaQuantile(0, 3, 1), 0);
  assert.equal(gammaQuantile(1, 3, 1), Number.POSITIVE_INFINITY);
});
