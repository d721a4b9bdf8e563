/**
 * Two-sample Kolmogorov–Smirnov test, two-sided: a port of scipy.stats.ks_2samp (scipy 1.17) with its default
 * method "auto" — the exact distribution when both samples have at most 10 000 values (falling back to the
 * asymptotic one if the exact computation overflows), the asymptotic one (`kstwo.sf(d, round(m·n/(m+n)))`)
 * otherwise. Same statistic, same p-value, so a drift decision here matches one made in a notebook.
 */
import { kolmogorovSf } from "./kolmogorov";
import { firstAbove } from "./sorted";

export interface KsResult {
  statistic: number;
  pvalue: number;
  method: "exact" | "asymp";
}

const MAX_AUTO_N = 10_000;

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

export function ks2samp(data1: ArrayLike<number>, data2: ArrayLike<number>): KsResult {
  return ks2sampSorted(Float64Array.from(data1).sort(), Float64Array.from(data2).sort());
}

/** ks2samp of two ascending samples (a prepared reference is kept sorted). */
export function ks2sampSorted(a: Float64Array, b: Float64Array): KsResult {
  const n1 = a.length;
  const n2 = b.length;
  if (Math.min(n1, n2) === 0) throw new Error("ks2samp needs two non-empty samples");
  // max over all points of |F1 − F2|, as scipy: min and max of cdf1 − cdf2 at every observed value.
  let maxS = -Infinity;
  let minS = Infinity;
  for (const sample of [a, b]) {
    for (let i = 0; i < sample.length; i++) {
      const v = sample[i];
      const diff = firstAbove(a, v) / n1 - firstAbove(b, v) / n2;
      if (diff > maxS) maxS = diff;
      if (diff < minS) minS = diff;
    }
  }
  const negMin = Math.min(Math.max(-minS, 0), 1);
  let d = negMin > maxS ? negMin : maxS;
  const g = gcd(n1, n2);
  let method: KsResult["method"] = Math.max(n1, n2) <= MAX_AUTO_N ? "exact" : "asymp";
  let prob = NaN;
  if (method === "exact") {
    const exact = attemptExact(n1, n2, g, d);
    d = exact.d;
    if (exact.ok) prob = exact.prob;
    else method = "asymp";
  }
  if (method === "asymp") {
    const [m, n] = n1 >= n2 ? [n1, n2] : [n2, n1];
    const en = (m * n) / (m + n);
    prob = kolmogorovSf(roundHalfEven(en), d);
  }
  return { statistic: d, pvalue: Math.min(Math.max(prob, 0), 1), method };
}

/** numpy.round: halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** scipy `_attempt_exact_2kssamp`, two-sided. */
function attemptExact(n1: number, n2: number, g: number, d: number): { ok: boolean; d: number; prob: number } {
  const lcm = (n1 / g) * n2;
  const h = roundHalfEven(d * lcm);
  d = h / lcm;
  if (h === 0) return { ok: true, d, prob: 1 };
  const prob = n1 === n2 ? probOutsideSquare(n1, h) : outerProbInside(n1, n2, g, h);
  if (!Number.isFinite(prob) || !(prob >= 0 && prob <= 1)) return { ok: false, d, prob };
  return { ok: true, d, prob };
}

/** scipy `_compute_prob_outside_square`: P(D_{n,n} ≥ h/n) by a Horner-like alternating sum. */
function probOutsideSquare(n: number, h: number): number {
  let p = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    p = p1 * (1 - p);
  }
  return 2 * p;
}

/**
 * scipy `_compute_outer_prob_inside_method` (Hodges' inside method computing 1 − p directly, after Viehmann):
 * the share of lattice paths from (0,0) to (m,n) that leave the band |x/m − y/n| < h/lcm(m,n).
 */
function outerProbInside(m0: number, n0: number, g: number, h: number): number {
  const [m, n] = m0 >= n0 ? [m0, n0] : [n0, m0];
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(lenA).fill(1);
  A.fill(0, minj, maxj);
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = (A[jj + minj - lastminj] * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) A.fill(1, maxj - minj, maxj - minj + (lastlen - curlen));
  }
  return A[maxj - minj - 1];
}
