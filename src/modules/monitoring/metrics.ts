/**
 * The module's own Prometheus metrics, registered in the process's registry (ctx.metrics) so that the runtime's
 * `/metrics` shows them beside the HTTP and bus metrics. Each Cleave process has its own registry, so two test
 * deployments in one test process never collide.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import { HotMetric } from "../../runtime/metrics";
import type { Accuracy } from "./accuracy";
import type { DriftReport, QualityReport } from "./contract";

const mv = ["model", "version"] as const;
const mvf = ["model", "version", "feature"] as const;

/** Holds the registry list so that the metric fields below, initialised right after super(), can use it. */
class RegistryHolder {
  constructor(protected readonly r: Registry[]) {}
}

export class MonitoringMetrics extends RegistryHolder {
  constructor(registry: Registry) {
    super([registry]);
  }

  // Recorded for every observation: hot metrics (no label hashing per observation, as prom-client's children do).
  private readonly observations = this.hot(new HotMetric("cleave_monitoring_observations_total", "Observations recorded", "counter", mv));
  private readonly decisions = this.hot(new HotMetric("cleave_monitoring_decisions_total", "Observations per decision outcome", "counter", ["model", "outcome"]));
  private readonly errors = this.hot(new HotMetric("cleave_monitoring_observed_errors_total", "Observations flagged as errors", "counter", mv));
  private readonly score = this.hot(
    new HotMetric("cleave_monitoring_score", "Model scores observed", "histogram", mv, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]),
  );
  private readonly latency = this.hot(
    new HotMetric("cleave_monitoring_observed_latency_seconds", "Request latency reported with observations", "histogram", mv, [
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
    ]),
  );
  private readonly driftValue = new Gauge({ name: "cleave_monitoring_drift_value", help: "Drift test value per feature (p-value for ks)", labelNames: [...mvf, "test"], registers: this.r });
  private readonly driftDetected = new Gauge({ name: "cleave_monitoring_drift_detected", help: "1 when the feature drifts", labelNames: mvf, registers: this.r });
  private readonly driftShare = new Gauge({ name: "cleave_monitoring_drifted_feature_share", help: "Share of features drifting", labelNames: mv, registers: this.r });
  private readonly datasetDrift = new Gauge({ name: "cleave_monitoring_dataset_drift", help: "1 when the dataset drifts", labelNames: mv, registers: this.r });
  private readonly missing = new Gauge({ name: "cleave_monitoring_missing_rate", help: "Share of missing values in the window", labelNames: mvf, registers: this.r });
  private readonly outOfRange = new Gauge({ name: "cleave_monitoring_out_of_range_rate", help: "Share of values outside the baseline range", labelNames: mvf, registers: this.r });
  private readonly newCategory = new Gauge({ name: "cleave_monitoring_new_category_rate", help: "Share of categories unseen in the baseline", labelNames: mvf, registers: this.r });
  private readonly violations = new Gauge({ name: "cleave_monitoring_schema_violations", help: "Values of the wrong type in the window", labelNames: mvf, registers: this.r });
  private readonly precision = new Gauge({ name: "cleave_monitoring_precision", help: "Live precision over labelled predictions", labelNames: mv, registers: this.r });
  private readonly recall = new Gauge({ name: "cleave_monitoring_recall", help: "Live recall over labelled predictions", labelNames: mv, registers: this.r });
  private readonly auc = new Gauge({ name: "cleave_monitoring_auc", help: "Live ROC AUC over labelled predictions", labelNames: mv, registers: this.r });
  private readonly labelled = new Gauge({ name: "cleave_monitoring_labelled_predictions", help: "Labelled predictions in the accuracy window", labelNames: mv, registers: this.r });
  readonly labels = new Counter({ name: "cleave_monitoring_labels_total", help: "Labels received, by result", labelNames: ["result"], registers: this.r });
  readonly alerts = new Counter({ name: "cleave_monitoring_alerts_total", help: "Alerts sent", labelNames: ["kind"], registers: this.r });
  readonly suppressed = new Counter({ name: "cleave_monitoring_alerts_suppressed_total", help: "Alert repeats held back by de-duplication", labelNames: ["kind"], registers: this.r });
  readonly deliveryFailures = new Counter({ name: "cleave_monitoring_alert_delivery_failures_total", help: "Alert deliveries that failed", labelNames: ["target"], registers: this.r });

  private hot(metric: HotMetric): HotMetric {
    for (const r of this.r) r.registerMetric(metric as never);
    return metric;
  }

  /** The per-observation series of one model version, labelled once (see Tracked in module.ts). */
  bind(model: string, version: string) {
    const decisions = new Map<string, ReturnType<HotMetric["child"]>>();
    return {
      observations: this.observations.child([model, version]),
      errors: this.errors.child([model, version]),
      score: this.score.child([model, version]),
      latency: this.latency.child([model, version]),
      decision: (outcome: string) => {
        let c = decisions.get(outcome);
        if (!c) decisions.set(outcome, (c = this.decisions.child([model, outcome])));
        return c;
      },
    };
  }

  drift(report: DriftReport): void {
    const base = { model: report.model, version: report.version };
    for (const f of report.score ? [...report.features, report.score] : report.features) {
      const labels = { ...base, feature: f.feature };
      if (f.value === null) {
        this.driftDetected.remove(labels);
        continue;
      }
      this.driftValue.set({ ...labels, test: f.test }, f.value);
      this.driftDetected.set(labels, f.drifted ? 1 : 0);
    }
    if (report.status === "ok") {
      this.driftShare.set(base, report.driftedShare);
      this.datasetDrift.set(base, report.datasetDrift ? 1 : 0);
    }
  }

  quality(report: QualityReport): void {
    for (const f of report.features) {
      const labels = { model: report.model, version: report.version, feature: f.feature };
      this.missing.set(labels, f.missingRate);
      this.outOfRange.set(labels, f.outOfRangeRate);
      this.newCategory.set(labels, f.newCategoryRate);
      this.violations.set(labels, f.schemaViolations);
    }
  }

  accuracy(a: Accuracy): void {
    const labels = { model: a.model, version: a.version };
    this.labelled.set(labels, a.labelled);
    for (const [gauge, value] of [[this.precision, a.precision], [this.recall, a.recall], [this.auc, a.auc]] as const) {
      if (value === null) gauge.remove(labels);
      else gauge.set(labels, value);
    }
  }
}
