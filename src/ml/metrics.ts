/**
 * Model quality and the feature baseline stored with a model: AUC and precision/recall on a holdout, and per-feature
 * distribution summaries (quantiles, histogram, mean, std, missing rate, category counts) that drift monitoring
 * compares live traffic against.
 */

/** ROC AUC by the rank-sum (Mann–Whitney U) formula; tied scores share their average rank. */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let pos = 0;
  let rankSumPos = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]]) {
        pos++;
        rankSumPos += avgRank;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

export interface Confusion {
  threshold: number;
  precision: number;
  recall: number;
  tp: number;
  fp: number;
  fn: number;
}

export function confusionAt(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): Confusion {
  let tp = 0, fp = 0, fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const hit = scores[i] >= threshold;
    if (hit && labels[i]) tp++;
    else if (hit) fp++;
    else if (labels[i]) fn++;
  }
  return { threshold, precision: tp + fp ? tp / (tp + fp) : 0, recall: tp + fn ? tp / (tp + fn) : 0, tp, fp, fn };
}

export interface FeatureBaseline {
  name: string;
  count: number;
  missingRate: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  /** p01, p05, p25, p50, p75, p95, p99. */
  quantiles: Record<string, number>;
  /** Equal-width bins over [p01, p99] plus under/overflow: counts has edges.length + 1 entries. */
  histogram: { edges: number[]; counts: number[] };
  /** For features with at most 20 distinct values: how often each value occurs. */
  categories?: Record<string, number>;
}

const QUANTILES = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];
const HIST_BINS = 10;

/** Summarises column `f` of a row-major table; NaN counts as missing. */
export function featureBaseline(name: string, values: Float32Array, rows: number, F: number, f: number): FeatureBaseline {
  const present: number[] = [];
  for (let i = 0; i < rows; i++) {
    const v = values[i * F + f];
    if (!Number.isNaN(v)) present.push(v);
  }
  present.sort((a, b) => a - b);
  const n = present.length;
  const q = (p: number) => (n ? present[Math.min(n - 1, Math.floor(p * (n - 1)))] : NaN);
  let sum = 0, sumSq = 0;
  for (const v of present) {
    sum += v;
    sumSq += v * v;
  }
  const mean = n ? sum / n : NaN;
  const std = n ? Math.sqrt(Math.max(0, sumSq / n - mean * mean)) : NaN;
  const lo = q(0.01), hi = q(0.99);
  const width = (hi - lo) / HIST_BINS;
  const edges = width > 0 ? Array.from({ length: HIST_BINS + 1 }, (_, i) => lo + i * width) : [lo];
  const counts = new Array(edges.length + 1).fill(0);
  for (const v of present) {
    let b = 0;
    while (b < edges.length && v >= edges[b]) b++;
    counts[b]++;
  }
  const distinct = new Map<number, number>();
  for (const v of present) {
    distinct.set(v, (distinct.get(v) ?? 0) + 1);
    if (distinct.size > 20) break;
  }
  const base: FeatureBaseline = {
    name,
    count: rows,
    missingRate: rows ? (rows - n) / rows : 0,
    mean,
    std,
    min: n ? present[0] : NaN,
    max: n ? present[n - 1] : NaN,
    quantiles: Object.fromEntries(QUANTILES.map((p) => [`p${Math.round(p * 100).toString().padStart(2, "0")}`, q(p)])),
    histogram: { edges, counts },
  };
  if (distinct.size <= 20) base.categories = Object.fromEntries([...distinct].map(([v, c]) => [String(v), c]));
  return base;
}

/** The p-th percentile (nearest rank) of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
