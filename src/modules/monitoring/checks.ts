/** Turns drift, quality and SLO readings into alerts raised or cleared: one place that says what "breach" means. */
import type { AlertDraft, Alerter } from "./alerts";
import type { MonitoringConfig } from "./config";
import type { DriftReport, QualityReport } from "./contract";
import type { Timeline } from "./timeline";

const fmt = (x: number) => (Math.abs(x) < 0.001 && x !== 0 ? x.toExponential(2) : x.toFixed(3));

function setAlert(alerter: Alerter, breached: boolean, draft: AlertDraft): void {
  if (breached) alerter.raise(draft);
  else alerter.clear(draft);
}

export function checkDrift(report: DriftReport, alerter: Alerter, cfg: MonitoringConfig["drift"]): void {
  if (report.status === "no_baseline") return;
  const { model, version } = report;
  for (const f of report.score ? [...report.features, report.score] : report.features) {
    if (f.status !== "ok" || f.value === null) continue;
    const relation = f.test === "ks" ? `p-value ${fmt(f.value)} ≤ ${f.threshold}` : `${f.test} ${fmt(f.value)} ≥ ${f.threshold}`;
    setAlert(alerter, f.drifted, {
      kind: "drift",
      model,
      version,
      feature: f.feature,
      message: `${model}@${version}: feature "${f.feature}" drifts (${relation})`,
      value: f.value,
      threshold: f.threshold,
    });
  }
  if (report.status !== "ok") return;
  setAlert(alerter, report.datasetDrift, {
    kind: "dataset_drift",
    model,
    version,
    message: `${model}@${version}: ${fmt(report.driftedShare * 100)}% of features drift (≥ ${cfg.datasetDriftShare * 100}%)`,
    value: report.driftedShare,
    threshold: cfg.datasetDriftShare,
  });
}

export function checkQuality(report: QualityReport, alerter: Alerter, cfg: MonitoringConfig["quality"]): void {
  if (report.status !== "ok") return;
  const { model, version } = report;
  for (const f of report.features) {
    const subject = { kind: "quality" as const, model, version, feature: f.feature };
    const checks: [string, number, number, string][] = [
      ["missing", f.missingRate - f.baselineMissingRate, cfg.maxMissingIncrease, `missing rate ${fmt(f.missingRate)} vs baseline ${fmt(f.baselineMissingRate)}`],
      ["out_of_range", f.outOfRangeRate, cfg.maxOutOfRangeRate, `${fmt(f.outOfRangeRate * 100)}% of values outside the baseline range`],
      ["new_category", f.newCategoryRate, cfg.maxNewCategoryRate, `${fmt(f.newCategoryRate * 100)}% new categories (${f.newCategories.join(", ")})`],
      ["schema", f.count ? f.schemaViolations / f.count : 0, cfg.maxSchemaViolationRate,
        f.unknownFeature ? "feature unknown to the baseline" : `${f.schemaViolations} values of the wrong type`],
    ];
    for (const [check, value, threshold, what] of checks) {
      setAlert(alerter, value > threshold, {
        ...subject,
        check,
        message: `${model}@${version}: feature "${f.feature}": ${what}`,
        value,
        threshold,
      });
    }
  }
}

export function checkSlo(timeline: Timeline, alerter: Alerter, cfg: MonitoringConfig["slo"]): void {
  if (cfg.latencyP95Ms === undefined && cfg.errorRate === undefined) return;
  const recent = timeline.recent(cfg.windowSeconds * 1000);
  if (recent.count < cfg.minRequests) return;
  if (cfg.latencyP95Ms !== undefined && recent.p95 !== null) {
    setAlert(alerter, recent.p95 > cfg.latencyP95Ms, {
      kind: "slo_latency",
      check: "p95",
      message: `p95 latency ${fmt(recent.p95)} ms over the last ${cfg.windowSeconds}s exceeds ${cfg.latencyP95Ms} ms`,
      value: recent.p95,
      threshold: cfg.latencyP95Ms,
    });
  }
  if (cfg.errorRate !== undefined) {
    setAlert(alerter, recent.errorRate > cfg.errorRate, {
      kind: "slo_error",
      check: "error_rate",
      message: `error rate ${fmt(recent.errorRate * 100)}% over the last ${cfg.windowSeconds}s exceeds ${cfg.errorRate * 100}%`,
      value: recent.errorRate,
      threshold: cfg.errorRate,
    });
  }
}
