/**
 * The demo model's bootstrap: when the registry has no `<model>@champion`, take the SYNTHETIC history of the demo
 * world (stream.ts), ingest it (so the online features have the history the model was trained on), train the demo
 * model on the same events with the feature module's engine, push it with its metrics, lineage and baseline, approve it, point the
 * alias at it, and give monitoring its baseline. Everything goes through the bus, so it works in any placement;
 * it retries while the modules it needs are still starting (split placement). Deterministic for a given seed: a
 * second run pushes the same bytes (the registry answers with the existing version) and re-ingests nothing new.
 */
import type { FeaturePlan } from "../modules/feature/definitions";
import { transactionEvent } from "../ml/dataset";
import { FRAUD_FEATURES } from "../ml/feature-names";
import { type TrainResult, trainFraudModel } from "../ml/train";
import { demoWorld } from "./stream";
import { featureContract } from "../modules/feature/contract";
import { batchLimitOf, ingestionContract } from "../modules/ingestion/contract";
import { monitoringContract } from "../modules/monitoring/contract";
import { registryContract } from "../modules/registry/contract";
import type { Bus } from "../runtime/bus/bus";
import { CleaveError } from "../runtime/errors";
import type { Logger } from "../runtime/log";

export interface BootstrapOptions {
  model: string;
  seed: number;
  transactions: number;
  plan: FeaturePlan;
  /** Give up waiting for the modules after this long. */
  waitMs?: number;
}

/** Who the bootstrap acts as: it promotes what it trained, as an approver would. */
const ACTOR = { id: "cleave-bootstrap", roles: ["approver", "ml-admin"] };
const INGEST_BATCH = 5000;
const BASELINE_SAMPLE = 5000;

async function retrying<T>(what: string, log: Logger, until: number, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const retriable = err instanceof CleaveError && (err.code === "UNAVAILABLE" || err.code === "DEADLINE_EXCEEDED");
      if (!retriable || Date.now() > until) throw err;
      if (attempt % 5 === 1) log.info({ what, reason: (err as Error).message }, "bootstrap waiting for the deployment");
      await Bun.sleep(1000);
    }
  }
}

/** Returns the champion version: the existing one, or the one it just trained and promoted. */
export async function bootstrapDemoModel(bus: Bus, opts: BootstrapOptions, log: Logger): Promise<number> {
  const until = Date.now() + (opts.waitMs ?? 120_000);
  const call = { identity: ACTOR, timeoutMs: 30_000 };
  const existing = await retrying("registry", log, until, () =>
    bus.call(registryContract, "resolve", { model: opts.model, ref: "champion" }, call).catch((err) => {
      if (err instanceof CleaveError && err.code === "NOT_FOUND") return undefined;
      throw err;
    }),
  );
  if (existing) {
    log.info({ model: opts.model, version: existing.version }, "demo model already promoted; bootstrap skipped");
    return existing.version;
  }

  const started = performance.now();
  const { history } = demoWorld(opts.seed, opts.transactions);
  const trained = trainFraudModel({ seed: opts.seed, transactions: opts.transactions, plan: opts.plan, history });
  log.info({ auc: trained.sidecar.metrics.holdout.auc, ms: Math.round(performance.now() - started) }, "demo model trained");

  // The history goes into the deployment too, so that online features start where training left off.
  let lastSeq = 0;
  // Batches as large as ingestion takes (modules.ingestion.maxBatchEvents may be below INGEST_BATCH).
  let batchSize = INGEST_BATCH;
  for (let i = 0; i < trained.transactions.length; ) {
    const events = trained.transactions.slice(i, i + batchSize).map(transactionEvent);
    let result;
    try {
      result = await retrying("ingestion", log, until, () => bus.call(ingestionContract, "ingest", { events }, call));
    } catch (err) {
      const limit = batchLimitOf(err);
      if (limit === undefined || limit >= events.length) throw err;
      batchSize = limit;
      continue;
    }
    for (const seq of result.seqs) if (seq !== null && seq > lastSeq) lastSeq = seq;
    i += events.length;
  }
  // Promote only once the feature module has applied the whole history: a transaction scored before that would
  // move the feature watermark past the rest of the history, which would then arrive too late to count.
  await retrying("feature", log, until, () =>
    bus.call(featureContract, "get", { rows: [{ entities: {} }], minSeq: lastSeq }, { ...call, timeoutMs: 60_000 }),
  );

  const pushed = await bus.call(
    registryContract,
    "push",
    {
      model: opts.model,
      bytes: trained.onnx,
      actor: ACTOR,
      description: trained.sidecar.description,
      metrics: { auc: trained.sidecar.metrics.holdout.auc, train_auc: trained.sidecar.metrics.train.auc },
      tags: { kind: "demo", data: "synthetic" },
      lineage: {
        dataRef: `cleave demo world seed=${opts.seed} transactions=${opts.transactions} (history part)`,
        codeVersion: "cleave demo bootstrap",
        params: { seed: opts.seed, trees: trained.sidecar.params.trees, maxDepth: trained.sidecar.params.maxDepth },
      },
      columns: FRAUD_FEATURES.map((name, i) => ({ name, tensor: "input", index: i })),
    },
    call,
  );
  const version = pushed.version.version;
  await bus.call(registryContract, "approve", { model: opts.model, version, reason: "demo bootstrap", actor: ACTOR }, call);
  await bus.call(registryContract, "setAlias", { model: opts.model, alias: "champion", version, reason: "demo bootstrap", actor: ACTOR }, call);
  await retrying("monitoring", log, until, () => bus.call(monitoringContract, "setBaseline", monitoringBaseline(opts.model, version, trained), call));
  log.info({ model: opts.model, version, ms: Math.round(performance.now() - started) }, "demo model pushed, approved and promoted to champion");
  return version;
}

/**
 * Monitoring's reference sample: the holdout rows, the latest quarter of the history and so the closest reference
 * for the live traffic that follows it (evenly spaced rows, at most BASELINE_SAMPLE).
 */
function monitoringBaseline(model: string, version: number, trained: TrainResult) {
  const { values, rows } = trained.holdout;
  const step = Math.max(1, Math.floor(rows / BASELINE_SAMPLE));
  const F = FRAUD_FEATURES.length;
  const features = Object.fromEntries(
    FRAUD_FEATURES.map((name, f) => {
      const sample: number[] = [];
      for (let r = 0; r < rows; r += step) sample.push(values[r * F + f]);
      return [name, { type: "numeric" as const, values: sample }];
    }),
  );
  return { model, version: String(version), features };
}
