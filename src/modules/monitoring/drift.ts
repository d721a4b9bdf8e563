/**
 * Drift of one model version: every baseline feature (and the score) of the current window against its
 * reference, with Evidently's default choice of test unless the config names one.
 */
import type { ReferenceColumn, PreparedBaseline } from "./baseline";
import type { MonitoringConfig, DriftTest } from "./config";
import type { DriftReport, FeatureDrift } from "./contract";
import { binnedSharesSorted, categoricalShares, jensenShannon, ks2sampSorted, psi, wassersteinSorted } from "./stats";
import { tally } from "./stats/binning";
import { column, SCORE_COLUMN, type WindowEntry } from "./window";

export interface TestChoice {
  test: DriftTest;
  threshold: number;
}

const NUMERIC_ONLY: DriftTest[] = ["ks", "wasserstein"];

/**
 * Evidently's `_get_default_stattest`, as configured: reference ≤ largeReference rows → KS (p ≤ 0.05) for numeric
 * columns; above → Wasserstein (normed, ≥ 0.1), or JS when reference + current hold ≤ 5 distinct values;
 * categorical → JS (≥ 0.1) (Evidently uses chi-square/z-test below 1000 rows; one test here keeps it comparable).
 */
export function chooseTest(
  ref: ReferenceColumn,
  current: { numbers: number[] },
  cfg: MonitoringConfig["drift"],
  override?: TestChoice,
): TestChoice {
  if (override && (ref.kind === "numeric" || !NUMERIC_ONLY.includes(override.test))) return override;
  if (ref.kind === "categorical") return cfg.defaults.categorical ?? { test: "jensenshannon", threshold: 0.1 };
  if (ref.rows <= cfg.largeReference) return cfg.defaults.numeric.small ?? { test: "ks", threshold: 0.05 };
  if (cfg.defaults.numeric.large) return cfg.defaults.numeric.large;
  if (ref.distinct > 5) return { test: "wasserstein", threshold: 0.1 }; // the union has at least as many
  const distinct = new Set<number>(ref.sample);
  for (const v of current.numbers) {
    distinct.add(v);
    if (distinct.size > 5) return { test: "wasserstein", threshold: 0.1 };
  }
  return distinct.size > 5 ? { test: "wasserstein", threshold: 0.1 } : { test: "jensenshannon", threshold: 0.1 };
}

export function featureDrift(
  name: string,
  ref: ReferenceColumn,
  entries: WindowEntry[],
  cfg: MonitoringConfig["drift"],
  override?: TestChoice,
): FeatureDrift {
  const col = column(entries, name, ref.kind);
  const choice = chooseTest(ref, col, cfg, override);
  const currentSize = ref.kind === "numeric" ? col.numbers.length : col.categories.length;
  const base = { feature: name === SCORE_COLUMN ? "score" : name, kind: ref.kind, ...choice, referenceSize: ref.rows, currentSize };
  if (ref.rows === 0) return { ...base, status: "no_reference", value: null, drifted: false };
  if (currentSize < cfg.minObservations) return { ...base, status: "insufficient_data", value: null, drifted: false };

  // The reference is kept sorted; the current values are sorted once here for every test below.
  const sorted = ref.kind === "numeric" ? Float64Array.from(col.numbers).sort() : undefined;
  const shares = (fillZeroes: boolean) =>
    ref.kind === "numeric"
      ? binnedSharesSorted({ sorted: ref.sample!, distinct: ref.distinct, tally: ref.sampleTally! }, col.numbers, sorted!, fillZeroes)
      : categoricalShares(ref.counts!, ref.rows, tally(col.categories), col.categories.length, fillZeroes);
  const display = shares(false);
  const bins = { labels: display.labels, reference: display.ref, current: display.cur };

  switch (choice.test) {
    case "ks": {
      const r = ks2sampSorted(ref.sample!, sorted!);
      return { ...base, status: "ok", value: r.pvalue, pValue: r.pvalue, statistic: r.statistic, drifted: r.pvalue <= choice.threshold, bins };
    }
    case "wasserstein": {
      // wassersteinNormed: the distance over the reference's population standard deviation (floored).
      const value = wassersteinSorted(ref.sample!, sorted!) / Math.max(ref.std!, 0.001);
      return { ...base, status: "ok", value, drifted: value >= choice.threshold, bins };
    }
    case "psi": {
      const s = shares(true);
      const value = psi(s.ref, s.cur);
      return { ...base, status: "ok", value, drifted: value >= choice.threshold, bins };
    }
    case "jensenshannon": {
      const value = jensenShannon(display.ref, display.cur);
      return { ...base, status: "ok", value, drifted: value >= choice.threshold, bins };
    }
  }
}

export function driftReport(
  model: string,
  version: string,
  baseline: PreparedBaseline | undefined,
  entries: WindowEntry[],
  cfg: MonitoringConfig["drift"],
): DriftReport {
  return complete(driftSteps(model, version, baseline, entries, cfg));
}

/** Runs a stepwise computation to its end at once. */
export function complete<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * The drift report a feature at a time: it pauses (yields) after each feature, so that a caller can let other work
 * run in between (one feature's test over a full window takes up to a few milliseconds).
 */
export function* driftSteps(
  model: string,
  version: string,
  baseline: PreparedBaseline | undefined,
  entries: WindowEntry[],
  cfg: MonitoringConfig["drift"],
): Generator<void, DriftReport> {
  const report: DriftReport = {
    model,
    version,
    status: "ok",
    evaluatedAt: new Date().toISOString(),
    windowSize: entries.length,
    features: [],
    driftedShare: 0,
    datasetDrift: false,
  };
  if (!baseline) return { ...report, status: "no_baseline" };
  for (const [name, ref] of baseline.features) {
    report.features.push(featureDrift(name, ref, entries, cfg, cfg.features[`${model}.${name}`]));
    yield;
  }
  if (baseline.score) report.score = featureDrift(SCORE_COLUMN, baseline.score, entries, cfg, cfg.features[`${model}.score`]);
  const evaluated = report.features.filter((f) => f.status === "ok");
  if (evaluated.length === 0) return { ...report, status: "insufficient_data" };
  report.driftedShare = evaluated.filter((f) => f.drifted).length / evaluated.length;
  report.datasetDrift = report.driftedShare >= cfg.datasetDriftShare;
  return report;
}
