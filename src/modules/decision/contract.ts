/** The decision module's public contract: the only part of it other modules and the gateway may import. */
import { type Static, Type as T } from "@sinclair/typebox";
import { FRAUD_FEATURES } from "../../ml/feature-names";
import { defineContract } from "../../runtime/contract";
import { StringMap } from "../../runtime/validation";
import { ObservationBatchSchema } from "../monitoring/contract";
import { pingOperation, pingRoute } from "../../runtime/ping";

export const Outcome = T.Union([T.Literal("approve"), T.Literal("review"), T.Literal("block")]);
export type Outcome = Static<typeof Outcome>;

const Scalar = T.Union([T.String(), T.Number(), T.Boolean(), T.Null()]);

/** What `decide` needs: the pipeline passes the request, the model's answer and the feature vector as they are. */
export const DecideInput = T.Object(
  {
    transaction: StringMap(Scalar, {
      description: "The request fields (id, card_id, merchant_id, amount, country, device_id, …) that rules may test",
    }),
    score: T.Number({ minimum: 0, maximum: 1, description: "The model's fraud probability" }),
    model: T.Object({ name: T.String({ minLength: 1 }), version: T.Union([T.String(), T.Number()]) }),
    features: T.Optional(StringMap(Scalar)),
  },
  { additionalProperties: false },
);
export type DecideInput = Static<typeof DecideInput>;

export const RuleFired = T.Object({
  id: T.String(),
  /** The rule's own outcome (first-match policy) or its contribution (score-sum policy). */
  outcome: T.Optional(Outcome),
  score: T.Optional(T.Number()),
  reason: T.String(),
});
export type RuleFired = Static<typeof RuleFired>;

export const DecideOutput = T.Object({
  decisionId: T.String(),
  decision: Outcome,
  reasons: T.Array(T.String()),
  rulesFired: T.Array(RuleFired),
  ruleSetVersion: T.String(),
  policy: T.String(),
  /** Sum of the fired rules' scores (score-sum policy only). */
  ruleScore: T.Optional(T.Number()),
});
export type DecideOutput = Static<typeof DecideOutput>;

const RuleSetInfo = T.Object({
  version: T.String(),
  policy: T.String(),
  rules: T.Array(T.String()),
  source: T.String(),
  loadedAt: T.String(),
});

const Override = T.Object({
  decision: Outcome,
  reason: T.String(),
  analyst: T.Union([T.String(), T.Null()]),
  at: T.String(),
});

export const DecisionRecord = T.Object({
  decisionId: T.String(),
  at: T.String(),
  decision: Outcome,
  /** The last override's outcome, or the original decision when there is none. */
  effectiveDecision: Outcome,
  transaction: StringMap(Scalar),
  features: StringMap(Scalar),
  score: T.Number(),
  model: T.Object({ name: T.String(), version: T.String() }),
  ruleSetVersion: T.String(),
  rulesFired: T.Array(RuleFired),
  reasons: T.Array(T.String()),
  latencyUs: T.Number(),
  caller: T.Union([T.String(), T.Null()]),
  traceId: T.String(),
  overrides: T.Array(Override),
});
export type DecisionRecord = Static<typeof DecisionRecord>;

const DecisionEvent = T.Object({
  decisionId: T.String(),
  decision: Outcome,
  score: T.Number(),
  model: T.Object({ name: T.String(), version: T.String() }),
  ruleSetVersion: T.String(),
  rulesFired: T.Array(T.String()),
  reasons: T.Array(T.String()),
  transactionId: T.Union([T.String(), T.Null()]),
  at: T.String(),
});
export type DecisionEvent = Static<typeof DecisionEvent>;

export const DECISION_EVENTS = ["decision.made", "decision.alert"] as const;

const Webhook = T.Object(
  {
    url: T.String({ pattern: "^https?://", description: "http(s) URL that receives a JSON POST per event" }),
    events: T.Array(T.Union(DECISION_EVENTS.map((e) => T.Literal(e))), { default: ["decision.alert"], minItems: 1 }),
    timeoutMs: T.Integer({ minimum: 1, default: 2000 }),
    maxAttempts: T.Integer({ minimum: 1, maximum: 20, default: 5 }),
    backoffMs: T.Integer({ minimum: 0, default: 200, description: "first retry delay; doubles each attempt" }),
  },
  { additionalProperties: false },
);

const Audit = T.Object(
  {
    flushIntervalMs: T.Integer({ minimum: 1, default: 5, description: "group-commit period: the durability window" }),
    batchSize: T.Integer({ minimum: 1, default: 512, description: "flush early when this many records are buffered" }),
    synchronous: T.Union([T.Literal("NORMAL"), T.Literal("FULL")], { default: "NORMAL" }),
    maxPending: T.Integer({
      minimum: 1,
      default: 100_000,
      description: "records waiting for a commit (e.g. disk full) beyond which decide answers 503 instead of deciding unaudited",
    }),
    retentionDays: T.Number({ exclusiveMinimum: 0, default: 90 }),
    retentionCheckIntervalMs: T.Integer({ minimum: 1000, default: 3_600_000 }),
  },
  { additionalProperties: false, default: {} },
);

/** The scoring pipeline behind POST /v1/score: which event type a transaction is, which model scores it, how. */
const Pipeline = T.Object(
  {
    model: T.String({ default: "fraud", description: "Inference model that scores transactions (served from the registry alias)" }),
    eventType: T.String({ default: "transaction", description: "Ingestion event type of a scored transaction" }),
    features: T.Array(T.String(), {
      default: [...FRAUD_FEATURES],
      description: "The model's input columns, in order: feature-vector names as the feature module names them",
    }),
    input: T.String({ default: "input", description: "Name of the model's input tensor (float32 [1, features])" }),
    output: T.String({ default: "probabilities", description: "Name of the output holding class probabilities [1, classes]" }),
    positiveIndex: T.Integer({ minimum: 0, default: 1, description: "Index of the fraud class in that output" }),
    maxBatch: T.Integer({
      minimum: 1,
      maximum: 1000,
      default: 256,
      description:
        "Most transactions taken through the stages together (those that arrive in the same event-loop turn); capped at what ingestion takes per call (modules.ingestion.maxBatchEvents)",
    }),
    bootstrap: T.Object(
      {
        enabled: T.Boolean({
          default: false,
          description:
            "At start, when the registry has no <model>@champion: simulate a SYNTHETIC history, ingest it, train the demo " +
            "model on it with the feature module's definitions, push, approve and promote it",
        }),
        seed: T.Integer({ minimum: 0, default: 7, description: "Simulator seed: the same seed gives the same model" }),
        transactions: T.Integer({ minimum: 1000, default: 30_000, description: "Size of the simulated history" }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

const Scalar4 = T.Union([T.String(), T.Number(), T.Boolean(), T.Null()]);

/** A transaction to score: an id, an optional timestamp, and the fields of the ingestion event type. */
export const ScoreInput = T.Object(
  {
    id: T.String({ minLength: 1, maxLength: 200, description: "Transaction id: the idempotency key of its event" }),
    timestamp: T.Optional(T.Union([T.Number(), T.String({ maxLength: 40 })], { description: "Epoch ms or ISO-8601; default now" })),
  },
  { additionalProperties: Scalar4 },
);

export const ScoreOutput = T.Object({
  decision: Outcome,
  score: T.Number(),
  reasons: T.Array(T.String()),
  rules_fired: T.Array(T.String()),
  model: T.Object({ name: T.String(), version: T.String() }),
  features: StringMap(Scalar4),
  trace_id: T.String(),
  decision_id: T.String(),
  latency_ms: T.Number(),
});
export type ScoreOutput = Static<typeof ScoreOutput>;

export const DecisionConfig = T.Object(
  {
    rules: T.Optional(T.Unknown({ description: "an inline rule set (see docs/decision.md); exclusive with rulesFile" })),
    rulesFile: T.Optional(T.String({ description: "YAML/JSON rule set file, relative to the working directory" })),
    watchRulesFile: T.Boolean({ default: false }),
    features: T.Array(T.String(), { default: [...FRAUD_FEATURES], description: "feature names rules may use" }),
    audit: Audit,
    webhooks: T.Array(Webhook, { default: [] }),
    webhookQueueLimit: T.Integer({ minimum: 1, default: 10_000 }),
    pipeline: Pipeline,
  },
  { additionalProperties: false },
);
export type DecisionConfig = Static<typeof DecisionConfig>;

const RuleSetBody = T.Object(
  {
    ruleSet: T.Optional(T.Unknown({ description: "a rule set object" })),
    text: T.Optional(T.String({ description: "a rule set as YAML or JSON text" })),
  },
  { additionalProperties: false },
);

export const decisionContract = defineContract({
  name: "decision",
  description: "Applies business rules to scores and features: approve, review or block, with reasons.",
  operations: {
    ping: pingOperation,
    score: {
      input: ScoreInput,
      output: ScoreOutput,
      summary: "The fraud pipeline: record the transaction, update and read its features, score it, decide",
    },
    decide: { input: DecideInput, output: DecideOutput, summary: "Approve, review or block one scored transaction" },
    reloadRules: {
      input: RuleSetBody,
      output: RuleSetInfo,
      summary: "Replace the rule set (given, or re-read from its source); a bad one is refused and the current stays",
    },
    getRules: { input: T.Object({}), output: RuleSetInfo, summary: "The rule set in force" },
    getDecision: { input: T.Object({ id: T.String() }), output: DecisionRecord, summary: "One audited decision" },
    overrideDecision: {
      input: T.Object(
        { id: T.String(), decision: Outcome, reason: T.String({ minLength: 1 }), analyst: T.Optional(T.String()) },
        { additionalProperties: false },
      ),
      output: DecisionRecord,
      summary: "Append an analyst's override to a decision (the original stays)",
    },
    deadLetters: {
      input: T.Object({ limit: T.Optional(T.Integer({ minimum: 1, maximum: 1000 })) }),
      output: T.Array(
        T.Object({ id: T.Integer(), url: T.String(), event: T.String(), payload: T.Unknown(), attempts: T.Integer(), error: T.String(), at: T.String() }),
      ),
      summary: "Webhook deliveries that kept failing",
    },
  },
  events: {
    "decision.made": DecisionEvent,
    "decision.alert": DecisionEvent,
    /** What monitoring watches: the scored transaction's model, features, score and outcome. */
    scored: ObservationBatchSchema,
  },
  routes: [
    pingRoute("decision"),
    { method: "POST", path: "/v1/score", operation: "score" },
    { method: "POST", path: "/v1/decide", operation: "decide" },
    { method: "GET", path: "/v1/decision/rules", operation: "getRules", toInput: () => ({}) },
    {
      method: "POST",
      path: "/v1/decision/rules/reload",
      operation: "reloadRules",
      toInput: (req) => (req.body === undefined ? {} : req.body),
    },
    { method: "GET", path: "/v1/decisions/:id", operation: "getDecision" },
    { method: "POST", path: "/v1/decisions/:id/override", operation: "overrideDecision" },
    {
      method: "GET",
      path: "/v1/decision/dead-letters",
      operation: "deadLetters",
      toInput: (req) => (req.query.limit === undefined ? {} : { limit: Number(req.query.limit) }),
    },
  ],
  config: DecisionConfig,
});
