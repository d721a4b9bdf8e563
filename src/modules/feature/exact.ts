/**
 * Exact sums of doubles, so that a windowed sum, mean or standard deviation kept up to date as events enter and
 * leave the window is bit-identical to one computed afresh over the same events, in any order: the running value
 * is an expansion (Shewchuk's non-overlapping partials, as Python's math.fsum keeps them) that represents the sum
 * exactly, and a value is read by rounding it correctly once. Online and offline features stay equal.
 */

/** Adds x to the expansion in place (grow-expansion with zero elimination); removing a value is adding -value. */
export function addExact(partials: number[], x: number): void {
  let i = 0;
  for (let j = 0; j < partials.length; j++) {
    let y = partials[j];
    if (Math.abs(x) < Math.abs(y)) {
      const t = x;
      x = y;
      y = t;
    }
    const hi = x + y;
    const lo = y - (hi - x);
    if (lo !== 0) partials[i++] = lo;
    x = hi;
  }
  if (x !== 0) partials[i++] = x;
  partials.length = i;
}

/** The expansion's exact value rounded to the nearest double (ties to even): CPython's fsum final step. */
export function roundExact(p: readonly number[]): number {
  let n = p.length;
  if (n === 0) return 0;
  let hi = p[--n];
  let lo = 0;
  while (n > 0) {
    const x = hi;
    const y = p[--n];
    hi = x + y;
    lo = y - (hi - x);
    if (lo !== 0) break;
  }
  // A remainder exactly half an ulp away must round to even, which the partials below it decide.
  if (n > 0 && ((lo < 0 && p[n - 1] < 0) || (lo > 0 && p[n - 1] > 0))) {
    const y = lo * 2;
    const x = hi + y;
    if (y === x - hi) hi = x;
  }
  return hi;
}

const SPLITTER = 134217729; // 2^27 + 1: Veltkamp's split of a double into two 26-bit halves

/** Adds the exact product a·b (its rounded value and rounding error: Dekker's two-product) to the expansion. */
export function addProduct(partials: number[], a: number, b: number, sign: 1 | -1): void {
  const p = a * b;
  let c = SPLITTER * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = SPLITTER * b;
  const bh = c - (c - b);
  const bl = b - bh;
  const err = al * bl - (((p - ah * bh) - al * bh) - ah * bl);
  addExact(partials, sign * p);
  if (err !== 0) addExact(partials, sign * err);
}

/**
 * Whether a value can be summed (and squared) exactly: not so large that a square or the splitting overflows, not so
 * small that a product's rounding error underflows. A window holding any other value is computed by a plain scan,
 * online and offline alike.
 */
export const inExactRange = (v: number): boolean => v === 0 || (Math.abs(v) < 2 ** 400 && Math.abs(v) >= 2 ** -400);

/**
 * Population variance from the exact sums s1 = Σx and s2 = Σx² of n values: (n·s2 − s1²) / n², with the
 * numerator exact before its one rounding (no cancellation, unlike s2/n − mean²).
 */
export function varianceExact(n: number, s1: readonly number[], s2: readonly number[]): number {
  const d: number[] = [];
  for (const c of s2) addProduct(d, c, n, 1);
  for (const a of s1) for (const b of s1) addProduct(d, a, b, -1);
  return Math.max(0, roundExact(d)) / n / n;
}
