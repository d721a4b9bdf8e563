/** Small parts with rules worth pinning: the window's count and age bounds, AUC with ties, SLO percentiles. */
import { expect, test } from "bun:test";
import { auc, scoreHistogram } from "../../src/modules/monitoring/accuracy";
import { percentile, Timeline } from "../../src/modules/monitoring/timeline";
import { ObservationWindow } from "../../src/modules/monitoring/window";

test("the window keeps the last N observations, oldest first, and drops those past the age limit", () => {
  const w = new ObservationWindow(3, 10_000);
  for (let i = 0; i < 5; i++) w.add({ ts: 1_000_000 + i * 4000, features: { i } });
  expect(w.entries(1_000_000 + 16_000).map((e) => e.features.i)).toEqual([2, 3, 4]);
  // At t = 1_024_000 only entries with ts ≥ 1_014_000 remain: i = 4 (ts 1_016_000).
  expect(w.entries(1_024_000).map((e) => e.features.i)).toEqual([4]);
  expect(w.total).toBe(5);
});

test("AUC is the Mann–Whitney statistic with ties sharing their rank", () => {
  // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75
  expect(auc([0.1, 0.4, 0.35, 0.8].map((score, i) => ({ score, label: [0, 0, 1, 1][i] })))).toBe(0.75);
  // A tie between a positive and a negative counts one half.
  expect(auc([{ score: 0.5, label: 1 }, { score: 0.5, label: 0 }])).toBe(0.5);
  expect(auc([{ score: 0.9, label: 1 }])).toBeNull();
});

test("score histograms use 10 bins over [0, 1], 1 in the last", () => {
  expect(scoreHistogram([0, 0.05, 0.1, 0.99, 1, 1.5])).toEqual([2, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
});

test("SLO readings come from the recent buckets only", () => {
  const t = new Timeline(1000);
  for (let i = 0; i < 10; i++) t.add(0, { latencyMs: 1000 }); // long ago
  for (let i = 1; i <= 100; i++) t.add(60_000, { latencyMs: i, error: i <= 5 });
  const recent = t.recent(10_000, 60_500);
  expect(recent.count).toBe(100);
  expect(recent.errorRate).toBe(0.05);
  expect(recent.p95).toBeCloseTo(95.05, 10);
  expect(percentile([1, 2, 3, 4], 0.5)).toBe(2.5);
});
