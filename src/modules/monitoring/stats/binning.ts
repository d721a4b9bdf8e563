/**
 * Evidently's binning (legacy `stattests/utils.get_binned_data`), transcribed so that PSI and Jensen–Shannon
 * values match what a data scientist gets from Evidently on the same data:
 * - numeric columns whose reference has more than 20 distinct values: Sturges bin edges computed over
 *   reference + current together (numpy `histogram_bin_edges(..., bins="sturges")`), counted like `np.histogram`
 *   (half-open bins, the last one closed);
 * - anything else: one bin per distinct value seen in either sample;
 * - shares are counts / sample size; with `fillZeroes`, empty bins get a floor so that logarithms stay finite
 *   (the smallest non-zero share / 1e6 when that share is ≤ 1e-4, else 1e-4).
 */

import { firstAbove, firstAtLeast } from "./sorted";

export type Value = number | string;

/** Distinct values of a sample (NaN/missing are expected to be removed by the caller). */
export function countDistinct(values: readonly Value[]): number {
  return new Set(values).size;
}

/**
 * numpy.histogram_bin_edges(values, bins="sturges") for float data, from what the edges depend on: the n values'
 * extremes lo and hi.
 */
export function sturgesEdgesOf(lo: number, hi: number, n: number): number[] {
  const ptp = hi - lo;
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  const width = ptp / (Math.log2(n) + 1);
  const bins = width ? Math.ceil((hi - lo) / width) : 1;
  return linspace(lo, hi, bins + 1);
}

/** numpy.linspace(start, stop, num) with endpoint: `i * step + start`, the last point set to `stop` exactly. */
function linspace(start: number, stop: number, num: number): number[] {
  const div = num - 1;
  const delta = stop - start;
  const step = delta / div;
  const out = new Array<number>(num);
  for (let i = 0; i < num; i++) out[i] = step === 0 ? (i / div) * delta + start : i * step + start;
  if (num > 1) out[num - 1] = stop;
  return out;
}

/**
 * numpy.histogram(values, edges)[0] of ascending values: bins are [e_i, e_i+1) except the last, [e_k-1, e_k]; values
 * outside are dropped. Two binary searches per bin instead of one per value: a drift evaluation bins the same large
 * reference sample every time (edges from linspace never decrease).
 */
export function histogramSorted(sorted: Float64Array, edges: readonly number[]): number[] {
  const bins = edges.length - 1;
  const counts = new Array<number>(bins);
  let from = firstAtLeast(sorted, edges[0]);
  for (let i = 0; i < bins; i++) {
    // Half-open bins, the last one closed: it ends after the values equal to the last edge.
    const to = i === bins - 1 ? firstAbove(sorted, edges[bins]) : firstAtLeast(sorted, edges[i + 1]);
    counts[i] = Math.max(0, to - from);
    from = Math.max(from, to);
  }
  return counts;
}

/** Counts per category over the union of categories of both samples, in one shared key order. */
export function categoryCounts(
  reference: ReadonlyMap<Value, number>,
  current: ReadonlyMap<Value, number>,
): { keys: Value[]; ref: number[]; cur: number[] } {
  const keys = [...new Set([...reference.keys(), ...current.keys()])];
  return {
    keys,
    ref: keys.map((k) => reference.get(k) ?? 0),
    cur: keys.map((k) => current.get(k) ?? 0),
  };
}

export function tally(values: readonly Value[]): Map<Value, number> {
  const m = new Map<Value, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

/** Evidently's zero floor (`feel_zeroes`), applied in place. */
export function floorZeroShares(shares: number[]): number[] {
  let min = Infinity;
  for (const s of shares) if (s !== 0 && s < min) min = s;
  const floor = min <= 0.0001 ? min / 10 ** 6 : 0.0001;
  for (let i = 0; i < shares.length; i++) if (shares[i] === 0) shares[i] = floor;
  return shares;
}

export interface BinnedShares {
  ref: number[];
  cur: number[];
  /** Bin labels: `[lo, hi)` edges for numeric bins, the category for one-bin-per-value. */
  labels: string[];
  edges?: number[];
}

/**
 * Reference and current shares per bin (Evidently `get_binned_data`). `numeric` says whether the column is
 * numerical; the > 20 distinct reference values rule decides between Sturges bins and one bin per value.
 */
export function binnedShares(
  reference: readonly Value[],
  current: readonly Value[],
  numeric: boolean,
  fillZeroes: boolean,
): BinnedShares {
  if (!numeric) return categoricalShares(tally(reference), reference.length, tally(current), current.length, fillZeroes);
  const ref = reference as readonly number[];
  const cur = current as readonly number[];
  const prepared = { sorted: Float64Array.from(ref).sort(), distinct: countDistinct(ref), tally: () => tally(ref) };
  return binnedSharesSorted(prepared, cur, Float64Array.from(cur).sort(), fillZeroes);
}

/**
 * The numeric branch of binnedShares, for a reference kept sorted with its distinct count and its counts per value
 * (a prepared baseline), and current values given both as observed and sorted: Sturges bins are counted by binary
 * search instead of value by value. The one-bin-per-value branch takes the reference's counts in its key order and
 * the current values in observed order, so the bins come out in that order.
 */
export function binnedSharesSorted(
  ref: { sorted: Float64Array; distinct: number; tally: () => Map<Value, number> },
  current: readonly number[],
  currentSorted: Float64Array,
  fillZeroes: boolean,
): BinnedShares {
  const r = ref.sorted;
  const c = currentSorted;
  if (ref.distinct <= 20) return categoricalShares(ref.tally(), r.length, tally(current), current.length, fillZeroes);
  // Edges over reference and current together (an empty sample adds no extremes).
  const lo = c.length ? Math.min(r[0], c[0]) : r[0];
  const hi = c.length ? Math.max(r[r.length - 1], c[c.length - 1]) : r[r.length - 1];
  const edges = sturgesEdgesOf(lo, hi, r.length + c.length);
  const out: BinnedShares = {
    ref: histogramSorted(r, edges).map((n) => n / r.length),
    cur: histogramSorted(c, edges).map((n) => n / c.length),
    labels: edges.slice(0, -1).map((e, i) => `[${fmt(e)}, ${fmt(edges[i + 1])})`),
    edges,
  };
  if (fillZeroes) {
    floorZeroShares(out.ref);
    floorZeroShares(out.cur);
  }
  return out;
}

/** The one-bin-per-value branch from counts, so a baseline kept as category counts gives the same shares. */
export function categoricalShares(
  refCounts: ReadonlyMap<Value, number>,
  refSize: number,
  curCounts: ReadonlyMap<Value, number>,
  curSize: number,
  fillZeroes: boolean,
): BinnedShares {
  const { keys, ref, cur } = categoryCounts(refCounts, curCounts);
  const out = { ref: ref.map((c) => c / refSize), cur: cur.map((c) => c / curSize), labels: keys.map(String) };
  if (fillZeroes) {
    floorZeroShares(out.ref);
    floorZeroShares(out.cur);
  }
  return out;
}

const fmt = (x: number) => (Math.abs(x) >= 1000 || Math.abs(x) < 0.01 ? x.toPrecision(3) : x.toFixed(2));
