/**
 * The monitoring module's public contract: the only part of it other modules and the gateway may import.
 * The baseline format (what the registry stores with each model version) is defined here: see `BaselineSchema`
 * and docs/monitoring.md.
 */
import { type Static, Type as T } from "@sinclair/typebox";
import { defineContract, type RouteDef } from "../../runtime/contract";
import { StringMap } from "../../runtime/validation";
import { pingOperation, pingRoute } from "../../runtime/ping";
import { MonitoringConfigSchema } from "./config";

export { MonitoringConfigSchema, type MonitoringConfig } from "./config";

const strict = { additionalProperties: false } as const;
const Name = T.String({ minLength: 1, maxLength: 200 });

/** One scored request as monitoring sees it. `features` values: number, string, boolean or null (missing). */
export const ObservationSchema = T.Object(
  {
    model: Name,
    version: Name,
    features: StringMap(T.Union([T.Number(), T.String(), T.Boolean(), T.Null()])),
    score: T.Optional(T.Number()),
    decisionId: T.Optional(Name),
    eventId: T.Optional(Name),
    /** When it was scored: ISO 8601 or ms since the epoch. Default: now. */
    ts: T.Optional(T.Union([T.String({ maxLength: 40 }), T.Number()])),
    /** Time the request took, for latency SLOs and the dashboard. */
    latencyMs: T.Optional(T.Number({ minimum: 0 })),
    /** The decision taken (approve, review, block...), for decisions-per-outcome. */
    outcome: T.Optional(T.String({ maxLength: 100 })),
    error: T.Optional(T.Boolean()),
  },
  strict,
);
export type Observation = Static<typeof ObservationSchema>;

/** What an event carrying observations for monitoring looks like (decision.scored declares exactly this schema). */
export const ObservationBatchSchema = T.Object({ observations: T.Array(ObservationSchema) });

const MissingRate = T.Optional(T.Number({ minimum: 0, maximum: 1, description: "Share of training rows without it." }));

/** Numeric feature baseline: raw reference values (or a uniform sample of them) — exact tests. */
export const NumericSampleBaseline = T.Object(
  {
    type: T.Literal("numeric"),
    values: T.Array(T.Number(), { minItems: 1, maxItems: 1_000_000 }),
    missingRate: MissingRate,
    min: T.Optional(T.Number()),
    max: T.Optional(T.Number()),
  },
  strict,
);
/** Numeric feature baseline as a summary: quantiles at equally spaced probabilities 0..1 (first = min, last = max). */
export const NumericSummaryBaseline = T.Object(
  {
    type: T.Literal("numeric"),
    quantiles: T.Array(T.Number(), { minItems: 2, maxItems: 10_001 }),
    count: T.Integer({ minimum: 1, description: "Training rows the quantiles describe." }),
    missingRate: MissingRate,
  },
  strict,
);
/** Categorical feature baseline: counts per category (a raw sample can be given as `values` instead). */
export const CategoricalBaseline = T.Union([
  T.Object({ type: T.Literal("categorical"), counts: T.Record(T.String(), T.Integer({ minimum: 0 })), missingRate: MissingRate }, strict),
  T.Object({ type: T.Literal("categorical"), values: T.Array(T.Union([T.String(), T.Number(), T.Boolean()]), { minItems: 1 }), missingRate: MissingRate }, strict),
]);
export const FeatureBaselineSchema = T.Union([NumericSampleBaseline, NumericSummaryBaseline, ...CategoricalBaseline.anyOf]);
export type FeatureBaseline = Static<typeof FeatureBaselineSchema>;

export const BaselineSchema = T.Object(
  {
    model: Name,
    version: Name,
    features: T.Record(T.String(), FeatureBaselineSchema),
    /** The model's score on the reference data (numeric). */
    score: T.Optional(T.Union([NumericSampleBaseline, NumericSummaryBaseline])),
    createdAt: T.Optional(T.String()),
  },
  strict,
);
export type Baseline = Static<typeof BaselineSchema>;

/**
 * The operation monitoring calls to fetch a version's baseline when it has none (config `baselineSource`, e.g. the
 * registry): a module offering it declares this operation as-is in its own contract.
 */
export const baselineLookupOperation = {
  input: T.Object({ model: Name, version: Name }, strict),
  output: T.Object({ baseline: T.Union([BaselineSchema, T.Null()]) }),
  summary: "The training-time baseline of a model version, or null when none was stored",
};

const Bins = T.Object({ labels: T.Array(T.String()), reference: T.Array(T.Number()), current: T.Array(T.Number()) });
export const FeatureDriftSchema = T.Object({
  feature: T.String(),
  kind: T.Union([T.Literal("numeric"), T.Literal("categorical")]),
  status: T.Union([T.Literal("ok"), T.Literal("insufficient_data"), T.Literal("no_reference")]),
  test: T.String(),
  threshold: T.Number(),
  value: T.Union([T.Number(), T.Null()]),
  pValue: T.Optional(T.Number()),
  statistic: T.Optional(T.Number()),
  drifted: T.Boolean(),
  referenceSize: T.Integer(),
  currentSize: T.Integer(),
  bins: T.Optional(Bins),
});
export type FeatureDrift = Static<typeof FeatureDriftSchema>;

export const DriftReportSchema = T.Object({
  model: T.String(),
  version: T.String(),
  status: T.Union([T.Literal("ok"), T.Literal("no_baseline"), T.Literal("insufficient_data")]),
  evaluatedAt: T.String(),
  windowSize: T.Integer(),
  features: T.Array(FeatureDriftSchema),
  score: T.Optional(FeatureDriftSchema),
  driftedShare: T.Number(),
  datasetDrift: T.Boolean(),
});
export type DriftReport = Static<typeof DriftReportSchema>;

export const FeatureQualitySchema = T.Object({
  feature: T.String(),
  count: T.Integer(),
  missingRate: T.Number(),
  baselineMissingRate: T.Number(),
  outOfRangeRate: T.Number(),
  newCategoryRate: T.Number(),
  newCategories: T.Array(T.String()),
  schemaViolations: T.Integer(),
  unknownFeature: T.Boolean(),
});
export const QualityReportSchema = T.Object({
  model: T.String(),
  version: T.String(),
  status: T.Union([T.Literal("ok"), T.Literal("no_baseline"), T.Literal("insufficient_data")]),
  windowSize: T.Integer(),
  features: T.Array(FeatureQualitySchema),
});
export type QualityReport = Static<typeof QualityReportSchema>;

export const AlertSchema = T.Object({
  id: T.String(),
  key: T.String({ description: "De-duplication key: kind, model, version and feature." }),
  kind: T.Union(["drift", "dataset_drift", "quality", "slo_latency", "slo_error"].map((k) => T.Literal(k))),
  model: T.Optional(T.String()),
  version: T.Optional(T.String()),
  feature: T.Optional(T.String()),
  /** Which quality check or SLO (missing, out_of_range, new_category, schema, p95, error_rate). */
  check: T.Optional(T.String()),
  message: T.String(),
  value: T.Number(),
  threshold: T.Number(),
  at: T.String(),
});
export type Alert = Static<typeof AlertSchema>;

const LabelSchema = T.Object(
  {
    decisionId: T.Optional(Name),
    eventId: T.Optional(Name),
    label: T.Union([T.Boolean(), T.Literal(0), T.Literal(1)]),
  },
  strict,
);

export const AccuracySchema = T.Object({
  model: T.String(),
  version: T.String(),
  labelled: T.Integer(),
  positives: T.Integer(),
  threshold: T.Number(),
  precision: T.Union([T.Number(), T.Null()]),
  recall: T.Union([T.Number(), T.Null()]),
  auc: T.Union([T.Number(), T.Null()]),
  /** Score distribution of the current window and of labelled positives/negatives, 10 bins over [0, 1]. */
  scoreHistogram: T.Object({ edges: T.Array(T.Number()), current: T.Array(T.Integer()), positives: T.Array(T.Integer()), negatives: T.Array(T.Integer()) }),
});

const ModelQuery = T.Object({ model: Name, version: T.Optional(Name) }, strict);
const TextOut = T.Object({ body: T.String(), contentType: T.String() });
const text = (output: { body: string; contentType: string }) =>
  new Response(output.body, { headers: { "content-type": output.contentType } });
const query = (path: string, operation: string): RouteDef => ({
  method: "GET",
  path,
  operation,
  toInput: (req) => Object.fromEntries(Object.entries(req.query).filter(([, v]) => v !== undefined)),
});

export const monitoringContract = defineContract({
  name: "monitoring",
  description: "Metrics, drift and data quality, live accuracy, alerts and a dashboard.",
  operations: {
    ping: pingOperation,
    observe: {
      input: T.Object({ observations: T.Array(ObservationSchema, { minItems: 1, maxItems: 10_000 }) }, strict),
      output: T.Object({ accepted: T.Integer(), evaluated: T.Array(T.String({ description: "model@version re-evaluated" })) }),
      summary: "Records scored requests (batch) for drift, quality, accuracy and SLOs",
    },
    setBaseline: {
      input: BaselineSchema,
      output: T.Object({ model: T.String(), version: T.String(), features: T.Array(T.String()) }),
      summary: "Stores the training-time baseline of a model version",
    },
    drift: { input: ModelQuery, output: T.Object({ reports: T.Array(DriftReportSchema) }), summary: "Drift per feature and score, now" },
    quality: { input: ModelQuery, output: T.Object({ reports: T.Array(QualityReportSchema) }), summary: "Data quality per feature" },
    labels: {
      input: T.Object({ labels: T.Array(LabelSchema, { minItems: 1, maxItems: 100_000 }) }, strict),
      output: T.Object({ matched: T.Integer(), unknown: T.Integer(), unknownIds: T.Array(T.String()), invalid: T.Integer() }),
      summary: "Late true labels by decision or event id; unknown ids are counted, not errors",
    },
    accuracy: { input: ModelQuery, output: T.Object({ versions: T.Array(AccuracySchema) }), summary: "Live precision, recall, AUC" },
    alerts: {
      input: T.Object({ limit: T.Optional(T.Integer({ minimum: 1, maximum: 1000 })) }, strict),
      output: T.Object({ alerts: T.Array(AlertSchema), active: T.Array(T.String()) }),
      summary: "Recent alerts, newest first, and the keys still active",
    },
    summary: {
      input: T.Object({ model: T.Optional(Name) }, strict),
      output: T.Object({ data: T.Unknown() }),
      summary: "Everything the dashboard draws",
    },
    dashboard: {
      input: T.Object({ asset: T.Optional(T.Union([T.Literal("page"), T.Literal("chart.js")])) }, strict),
      output: TextOut,
      summary: "The dashboard page and its charting library",
    },
  },
  events: { alert: AlertSchema },
  routes: [
    pingRoute("monitoring"),
    { method: "POST", path: "/v1/monitoring/observations", operation: "observe" },
    { method: "PUT", path: "/v1/monitoring/baselines/:model/:version", operation: "setBaseline" },
    query("/v1/monitoring/drift", "drift"),
    query("/v1/monitoring/quality", "quality"),
    { method: "POST", path: "/v1/labels", operation: "labels" },
    query("/v1/monitoring/accuracy", "accuracy"),
    {
      method: "GET",
      path: "/v1/monitoring/alerts",
      operation: "alerts",
      toInput: (req) => (req.query.limit === undefined ? {} : { limit: Number(req.query.limit) }),
    },
    query("/v1/monitoring/summary", "summary"),
    { method: "GET", path: "/dashboard", operation: "dashboard", toInput: () => ({ asset: "page" }), toResponse: text },
    { method: "GET", path: "/dashboard/chart.js", operation: "dashboard", toInput: () => ({ asset: "chart.js" }), toResponse: text },
  ],
  config: MonitoringConfigSchema,
});
