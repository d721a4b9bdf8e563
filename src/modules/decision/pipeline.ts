/**
 * POST /v1/score: the fraud pipeline. The transaction is recorded durably by ingestion (its id is the idempotency
 * key), applied to the online features and read back as of its time (feature.observe), scored by the model the
 * registry's alias points at (inference), and decided by the rules here; monitoring sees it through the `scored`
 * event. Every hop is a bus call, so each stage can run in another process.
 */
import type { Static } from "@sinclair/typebox";
import { toModelInput } from "../../ml/model-input";
import type { Bus } from "../../runtime/bus/bus";
import type { CallContext } from "../../runtime/contract";
import { CleaveError, invalidArgument, unavailable } from "../../runtime/errors";
import type { Logger } from "../../runtime/log";
import { featureContract } from "../feature/contract";
import { inferenceContract } from "../inference/contract";
import { ingestionContract } from "../ingestion/contract";
import { type DecideInput, type DecideOutput, type DecisionConfig, decisionContract, type ScoreInput, type ScoreOutput } from "./contract";

type Pipeline = DecisionConfig["pipeline"];
type Scalar = string | number | boolean | null;

export function createScorer(bus: Bus, p: Pipeline, decide: (input: DecideInput, call: CallContext) => DecideOutput, log: Logger) {
  const publishScored = (payload: Static<(typeof decisionContract.events)["scored"]>) => {
    bus.publish(decisionContract, "scored", payload).catch((err) => log.warn({ err: (err as Error).message }, "scored event not published"));
  };

  return async function score(tx: Static<typeof ScoreInput>, call: CallContext): Promise<ScoreOutput> {
    const started = performance.now();
    const { id, timestamp, ...data } = tx;
    const event = { id, type: p.eventType, timestamp: timestamp ?? Date.now(), data };

    const ingested = await bus.call(ingestionContract, "ingest", { events: [event] });
    const seq = ingested.seqs[0];
    if (seq === null || seq === undefined) {
      const reason = ingested.rejected[0]?.reason ?? "rejected";
      throw invalidArgument(`transaction rejected: ${reason}`, { rejected: ingested.rejected });
    }
    const vector = await bus.call(featureContract, "observe", { seq, event });
    const row = vector.rows[0];
    // The model's columns picked from the vector once: for the answer and, as numbers, for the model.
    const picked = p.features.map((name) => {
      const i = vector.featureNames.indexOf(name);
      return i < 0 ? null : row.values[i];
    });
    const features: Record<string, Scalar> = {};
    p.features.forEach((name, i) => (features[name] = picked[i]));

    let inferred;
    try {
      inferred = await bus.call(inferenceContract, "infer", {
        name: p.model,
        inputs: [{ name: p.input, datatype: "FP32", shape: [1, p.features.length], data: toModelInput(picked) }],
        outputs: [{ name: p.output }],
      });
    } catch (err) {
      // No such model (not promoted yet, or an alias that points nowhere) is the deployment's state, not a bug.
      if (err instanceof CleaveError && err.code === "NOT_FOUND") {
        throw unavailable(`model "${p.model}" is not being served: ${err.message}`, { retryAfterSeconds: 5 });
      }
      throw err;
    }
    const probabilities = inferred.outputs[0]?.data as ArrayLike<number> | undefined;
    const scoreValue = Number(probabilities?.[p.positiveIndex]);
    if (!Number.isFinite(scoreValue)) {
      throw new CleaveError("INTERNAL", `model "${p.model}" output "${p.output}" has no probability at index ${p.positiveIndex}`);
    }
    const model = { name: inferred.model_name, version: inferred.model_version };
    const decided = decide({ transaction: { id, ...data }, score: scoreValue, model, features }, call);
    const latencyMs = Math.round((performance.now() - started) * 1000) / 1000;
    publishScored({
      observations: [
        { model: model.name, version: model.version, features, score: scoreValue, decisionId: decided.decisionId, eventId: id, ts: event.timestamp, latencyMs, outcome: decided.decision },
      ],
    });
    return {
      decision: decided.decision,
      score: scoreValue,
      reasons: decided.reasons,
      rules_fired: decided.rulesFired.map((r) => r.id),
      model,
      features,
      trace_id: call.traceId,
      decision_id: decided.decisionId,
      latency_ms: latencyMs,
    };
  };
}
