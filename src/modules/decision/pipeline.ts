/**
 * POST /v1/score: the fraud pipeline. The transaction is recorded durably by ingestion (its id is the idempotency
 * key), applied to the online features and read back as of its time (feature.observe), scored by the model the
 * registry's alias points at (inference), and decided by the rules here; monitoring sees it through the `scored`
 * event. Every hop is a bus call, so each stage can run in another process.
 *
 * Transactions that arrive in the same turn of the event loop go through the stages together: one ingest call, one
 * observe call and one model run for all of them. Under load that divides the per-call costs (a NATS round trip,
 * a JSON envelope, a promise chain) by the batch size; at low load a batch is one transaction and waits for nothing.
 * Each transaction's answer is the one it would get alone: observe applies events in log order and each vector
 * includes exactly the events logged before it, and the model scores rows independently.
 */
import { type Context, context } from "@opentelemetry/api";
import type { Static } from "@sinclair/typebox";
import type { Registry } from "prom-client";
import { toModelInput } from "../../ml/model-input";
import type { Bus } from "../../runtime/bus/bus";
import type { CallContext } from "../../runtime/contract";
import { CleaveError, type ErrorShape, invalidArgument, toCleaveError, unavailable } from "../../runtime/errors";
import type { Logger } from "../../runtime/log";
import { HotMetric } from "../../runtime/metrics";
import { inBatchSpan } from "../../runtime/tracing";
import { TurnBatcher } from "../../runtime/turn-batcher";
import { featureContract } from "../feature/contract";
import { inferenceContract } from "../inference/contract";
import { batchLimitOf, ingestionContract } from "../ingestion/contract";
import { type DecideInput, type DecideOutput, type DecisionConfig, decisionContract, type ScoreInput, type ScoreOutput } from "./contract";

type Pipeline = DecisionConfig["pipeline"];
type Scalar = string | number | boolean | null;
type Observation = Static<(typeof decisionContract.events)["scored"]>["observations"][number];
type Decide = (input: DecideInput, call: CallContext) => DecideOutput;

interface Pending {
  tx: Static<typeof ScoreInput>;
  call: CallContext;
  trace: Context;
  started: number;
  resolve: (out: ScoreOutput) => void;
  reject: (err: unknown) => void;
}

interface Rejection {
  index: number;
  reason: string;
}

/** Ingestion refuses a batch whose every event is invalid; its error's details still say why, event by event. */
function rejectionsOf(err: unknown): Rejection[] | undefined {
  if (!(err instanceof CleaveError) || err.code !== "INVALID_ARGUMENT") return undefined;
  const rejected = (err.details as { rejected?: unknown } | undefined)?.rejected;
  return Array.isArray(rejected) ? (rejected as Rejection[]) : undefined;
}

const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000];

export function createScorer(bus: Bus, p: Pipeline, decide: Decide, log: Logger, registry: Registry) {
  const batchSize = new HotMetric("cleave_score_batch_size", "Transactions scored together (one ingest, observe and model run)", "histogram", ["model"], BATCH_BUCKETS);
  registry.registerMetric(batchSize as never);
  const batchSizeOf = batchSize.child([p.model]);

  const publishScored = (observations: Observation[]) => {
    if (observations.length === 0) return;
    bus.publish(decisionContract, "scored", { observations }).catch((err) => log.warn({ err: (err as Error).message }, "scored event not published"));
  };

  /**
   * The most events ingestion takes per call, once it has refused a batch for its size: later batches are formed
   * at most that large, and the refused one is scored in pieces that fit.
   */
  let ingestLimit = Infinity;

  /** Runs one batch through the stages; every request in it is settled, whatever fails. */
  const run = async (batch: Pending[]): Promise<void> => {
    let open = batch.map((_, i) => i);
    const fail = (i: number, err: unknown) => batch[i].reject(err);
    try {
      // The batch's calls may take as long as its most patient request; each request still ends at its own deadline.
      const deadline = Math.max(...batch.map((b) => b.call.deadline));
      const opts = () => ({ timeoutMs: deadline - Date.now(), identity: batch[0].call.identity });
      const events = batch.map(({ tx }) => {
        const { id, timestamp, ...data } = tx;
        return { id, type: p.eventType, timestamp: timestamp ?? Date.now(), data };
      });

      let seqs: (number | null)[];
      let rejected: Rejection[];
      try {
        ({ seqs, rejected } = await bus.call(ingestionContract, "ingest", { events }, opts()));
      } catch (err) {
        const limit = batchLimitOf(err);
        if (limit !== undefined && limit < batch.length) {
          ingestLimit = limit;
          // One piece after the other, so that each is logged and observed after the ones before it.
          for (let i = 0; i < batch.length; i += limit) await run(batch.slice(i, i + limit));
          return;
        }
        const all = rejectionsOf(err);
        if (!all) throw err;
        seqs = events.map(() => null);
        rejected = all;
      }
      for (const r of rejected) fail(r.index, invalidArgument(`transaction rejected: ${r.reason}`));
      open = open.filter((i) => seqs[i] !== null && seqs[i] !== undefined);
      if (open.length === 0) return;

      const observed = await bus.call(featureContract, "observe", { events: open.map((i) => ({ seq: seqs[i]!, event: events[i] })) }, opts());
      for (const f of observed.failures) fail(open[f.index], CleaveError.fromShape(f as ErrorShape));
      const rows = open.map((i, k) => ({ i, row: observed.rows[k] })).filter((r) => r.row !== null);
      open = rows.map((r) => r.i);
      if (open.length === 0) return;

      // The model's columns picked from each vector once: for the answer and, as numbers, for the model.
      const columns = p.features.map((name) => observed.featureNames.indexOf(name));
      const width = p.features.length;
      const input = new Float32Array(rows.length * width);
      const features = rows.map(({ row }, k) => {
        const picked = columns.map((c) => (c < 0 ? null : row!.values[c]));
        input.set(toModelInput(picked), k * width);
        const named: Record<string, Scalar> = {};
        p.features.forEach((name, j) => (named[name] = picked[j]));
        return named;
      });

      let inferred;
      try {
        inferred = await bus.call(
          inferenceContract,
          "infer",
          { name: p.model, inputs: [{ name: p.input, datatype: "FP32", shape: [rows.length, width], data: input }], outputs: [{ name: p.output }] },
          opts(),
        );
      } catch (err) {
        // No such model (not promoted yet, or an alias that points nowhere) is the deployment's state, not a bug.
        if (err instanceof CleaveError && err.code === "NOT_FOUND") {
          throw unavailable(`model "${p.model}" is not being served: ${err.message}`, { retryAfterSeconds: 5 });
        }
        throw err;
      }
      const out = inferred.outputs[0];
      const probabilities = out?.data as ArrayLike<number> | undefined;
      const classes = Number(out?.shape[1] ?? 1);
      const model = { name: inferred.model_name, version: inferred.model_version };

      const observations: Observation[] = [];
      open.forEach((i, k) => {
        const { call, started, resolve } = batch[i];
        const { id, data } = events[i];
        try {
          const score = Number(probabilities?.[k * classes + p.positiveIndex]);
          if (!Number.isFinite(score)) {
            throw new CleaveError("INTERNAL", `model "${p.model}" output "${p.output}" has no probability at index ${p.positiveIndex}`);
          }
          const decided = decide({ transaction: { id, ...data }, score, model, features: features[k] }, call);
          const latencyMs = Math.round((performance.now() - started) * 1000) / 1000;
          observations.push({
            model: model.name,
            version: model.version,
            features: features[k],
            score,
            decisionId: decided.decisionId,
            eventId: id,
            ts: events[i].timestamp,
            latencyMs,
            outcome: decided.decision,
          });
          resolve({
            decision: decided.decision,
            score,
            reasons: decided.reasons,
            rules_fired: decided.rulesFired.map((r) => r.id),
            model,
            features: features[k],
            trace_id: call.traceId,
            decision_id: decided.decisionId,
            latency_ms: latencyMs,
          });
        } catch (err) {
          fail(i, err);
        }
      });
      publishScored(observations);
    } catch (err) {
      if (toCleaveError(err).code === "INTERNAL") log.error({ err }, "scoring batch failed");
      // Settling twice is harmless: requests already answered keep their answer.
      for (const i of open) fail(i, err);
    }
  };

  // A call carries one identity: requests from different callers go in separate batches.
  const batches = new TurnBatcher<Pending>(
    () => Math.min(p.maxBatch, ingestLimit),
    () => 1,
    (_caller, batch) => {
      batchSizeOf.observe(batch.length);
      bus.detached(() => inBatchSpan("score batch", batch.map((b) => b.trace), () => run(batch)));
    },
  );

  return function score(tx: Static<typeof ScoreInput>, call: CallContext): Promise<ScoreOutput> {
    return new Promise((resolve, reject) => {
      const caller = call.identity ? `@${call.identity.id}` : "";
      batches.add(caller, { tx, call, trace: context.active(), started: performance.now(), resolve, reject });
    });
  };
}
