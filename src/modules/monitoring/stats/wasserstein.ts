/**
 * First Wasserstein distance between two samples (scipy.stats.wasserstein_distance, unweighted) and Evidently's
 * normalised form: the distance divided by the reference's population standard deviation (floored at 0.001), so
 * that one threshold (0.1) means "moved by a tenth of a standard deviation" for every feature.
 */

/** Number of elements of sorted `xs` that are ≤ v (searchsorted side="right"). */
function countAtMost(xs: Float64Array, v: number, from: number): number {
  let i = from;
  while (i < xs.length && xs[i] <= v) i++;
  return i;
}

export function wassersteinDistance(u: ArrayLike<number>, v: ArrayLike<number>): number {
  return wassersteinSorted(Float64Array.from(u).sort(), Float64Array.from(v).sort());
}

/** wassersteinDistance of two ascending samples (a prepared reference is kept sorted). */
export function wassersteinSorted(us: Float64Array, vs: Float64Array): number {
  // Both samples merged in ascending order.
  const all = new Float64Array(us.length + vs.length);
  for (let i = 0, j = 0, k = 0; k < all.length; k++) all[k] = j >= vs.length || (i < us.length && us[i] <= vs[j]) ? us[i++] : vs[j++];
  let iu = 0;
  let iv = 0;
  let sum = 0;
  // Both CDFs only move forward along the merged order, so one sweep counts them.
  for (let k = 0; k < all.length - 1; k++) {
    iu = countAtMost(us, all[k], iu);
    iv = countAtMost(vs, all[k], iv);
    sum += Math.abs(iu / us.length - iv / vs.length) * (all[k + 1] - all[k]);
  }
  return sum;
}

/** numpy.std (ddof = 0). */
export function populationStd(xs: ArrayLike<number>): number {
  let mean = 0;
  for (let i = 0; i < xs.length; i++) mean += xs[i];
  mean /= xs.length;
  let ss = 0;
  for (let i = 0; i < xs.length; i++) ss += (xs[i] - mean) ** 2;
  return Math.sqrt(ss / xs.length);
}

/** Evidently `_wasserstein_distance_norm`. */
export function wassersteinNormed(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  return wassersteinDistance(reference, current) / Math.max(populationStd(reference), 0.001);
}
