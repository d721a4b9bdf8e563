/**
 * The monitoring module's config schema (`modules.monitoring` in the config file). Part of the public contract:
 * contract.ts re-exports it. Every key has a default, so `monitoring: {}` is a working setup.
 */
import { type Static, Type as T } from "@sinclair/typebox";

const strict = { additionalProperties: false } as const;

export const DRIFT_TESTS = ["ks", "wasserstein", "psi", "jensenshannon"] as const;
export const DriftTestSchema = T.Union(
  DRIFT_TESTS.map((t) => T.Literal(t)),
  { description: "ks (p-value ≤ threshold drifts), wasserstein (normed), psi, jensenshannon (value ≥ threshold drifts)." },
);

const TestChoice = T.Object(
  {
    test: DriftTestSchema,
    threshold: T.Number({ minimum: 0, description: "Drift when p ≤ threshold (ks) or value ≥ threshold (others)." }),
  },
  strict,
);

const FeatureType = T.Union([T.Literal("numeric"), T.Literal("categorical")]);

export const MonitoringConfigSchema = T.Object(
  {
    models: T.Record(
      T.String(),
      T.Object(
        {
          features: T.Record(T.String(), FeatureType, {
            description: "Declared features and their type; drift overrides may only name these (or `score`).",
          }),
        },
        strict,
      ),
      { default: {}, description: "Optional declaration of each model's features (the baseline also says)." },
    ),
    window: T.Object(
      {
        size: T.Integer({ minimum: 10, maximum: 100_000, default: 1000, description: "Current window: last N observations per model version." }),
        maxAgeSeconds: T.Integer({ minimum: 0, default: 0, description: "Also drop observations older than this (0: no age limit)." }),
      },
      { ...strict, default: {} },
    ),
    drift: T.Object(
      {
        minObservations: T.Integer({ minimum: 1, default: 100, description: "No drift verdict with fewer current observations." }),
        evaluateEvery: T.Integer({ minimum: 1, default: 100, description: "Re-evaluate a model version after this many new observations." }),
        evaluateIntervalMs: T.Integer({
          minimum: 0,
          default: 1000,
          description: "…and at most this often (ms): at thousands of observations a second, drift tests once a second are plenty.",
        }),
        datasetDriftShare: T.Number({ minimum: 0, maximum: 1, default: 0.5, description: "Dataset drift when at least this share of features drift." }),
        largeReference: T.Integer({ minimum: 1, default: 1000, description: "Reference rows above which the 'large' defaults apply (Evidently: 1000)." }),
        defaults: T.Object(
          {
            numeric: T.Object(
              {
                small: T.Optional(TestChoice),
                large: T.Optional(TestChoice),
              },
              { ...strict, default: {} },
            ),
            categorical: T.Optional(TestChoice),
          },
          { ...strict, default: {}, description: "Tests per column kind; unset: Evidently's (ks 0.05 / wasserstein 0.1 / jensenshannon 0.1)." },
        ),
        features: T.Record(T.String(), TestChoice, {
          default: {},
          description: "Per-feature test, keyed `<model>.<feature>` (or `<model>.score`); the model must be declared under `models`.",
        }),
      },
      { ...strict, default: {} },
    ),
    quality: T.Object(
      {
        maxMissingIncrease: T.Number({ minimum: 0, maximum: 1, default: 0.1, description: "Alert when a feature's missing rate exceeds the baseline's by more." }),
        maxOutOfRangeRate: T.Number({ minimum: 0, maximum: 1, default: 0.05, description: "Alert when more numeric values fall outside the baseline's [min, max]." }),
        maxNewCategoryRate: T.Number({ minimum: 0, maximum: 1, default: 0.05, description: "Alert when more categorical values are unseen in the baseline." }),
        maxSchemaViolationRate: T.Number({ minimum: 0, maximum: 1, default: 0, description: "Alert when more values have the wrong type." }),
      },
      { ...strict, default: {} },
    ),
    accuracy: T.Object(
      {
        window: T.Integer({ minimum: 1, default: 1000, description: "Last N labelled predictions per model version." }),
        threshold: T.Number({ minimum: 0, maximum: 1, default: 0.5, description: "Score at or above which a prediction counts as positive." }),
        retainPredictions: T.Integer({ minimum: 100, default: 1_000_000, description: "Predictions kept for late labels (oldest dropped)." }),
      },
      { ...strict, default: {} },
    ),
    slo: T.Object(
      {
        latencyP95Ms: T.Optional(T.Number({ minimum: 0, description: "Alert when p95 of observed latencyMs exceeds this." })),
        errorRate: T.Optional(T.Number({ minimum: 0, maximum: 1, description: "Alert when the share of observations with error exceeds this." })),
        windowSeconds: T.Integer({ minimum: 1, default: 60, description: "Time window the SLOs are judged over." }),
        minRequests: T.Integer({ minimum: 1, default: 20, description: "No SLO verdict on fewer observations in the window." }),
      },
      { ...strict, default: {} },
    ),
    alerts: T.Object(
      {
        cooldownSeconds: T.Number({ minimum: 0, default: 300, description: "An alert still active is re-sent at most this often." }),
        clearAfter: T.Integer({ minimum: 1, default: 3, description: "Evaluations in a row without the breach before an alert is cleared." }),
        webhooks: T.Array(
          T.Object(
            {
              url: T.String({ pattern: "^https?://", description: "POSTed the alert as JSON." }),
              kinds: T.Optional(T.Array(T.String(), { description: "Only these alert kinds (default: all)." })),
              timeoutMs: T.Integer({ minimum: 1, default: 2000 }),
            },
            strict,
          ),
          { default: [] },
        ),
        actions: T.Array(
          T.Object(
            {
              kinds: T.Optional(T.Array(T.String(), { description: "Alert kinds that trigger it (default: all)." })),
              module: T.String({ description: "Bus operation to call, e.g. a retraining pipeline." }),
              operation: T.String(),
              input: T.Record(T.String(), T.Unknown(), { default: {}, description: "Static input of the call." }),
              alertField: T.Optional(T.String({ description: "Put the alert into the input under this key." })),
            },
            strict,
          ),
          { default: [] },
        ),
      },
      { ...strict, default: {} },
    ),
    baselineSource: T.Optional(
      T.Object(
        {
          module: T.String({ description: "Module to ask for a baseline it has not been given, e.g. registry." }),
          operation: T.String({ description: "Its operation with the contract's `baselineLookupOperation` shape." }),
          retrySeconds: T.Integer({ minimum: 1, default: 60, description: "Ask again for a missing baseline at most this often." }),
        },
        strict,
      ),
    ),
    subscribe: T.Array(
      T.Object(
        {
          module: T.String({ description: "Module whose event carries observations, e.g. decision." }),
          event: T.String({ description: "Its event short name, e.g. made; payload: one observation or {observations}." }),
        },
        strict,
      ),
      { default: [], description: "Events to observe, in addition to the observe operation." },
    ),
    timelineBucketSeconds: T.Integer({ minimum: 1, default: 10, description: "Bucket width of the dashboard's time series." }),
  },
  { ...strict, default: {} },
);

export type MonitoringConfig = Static<typeof MonitoringConfigSchema>;
export type DriftTest = (typeof DRIFT_TESTS)[number];
