/**
 * Training rows for the demo model, computed by the feature module's own engine (the code online serving runs) over
 * the simulated history as it is ingested: each transaction is a scoring moment, and its row is the feature vector
 * as of its timestamp, including itself — exactly what `feature.observe` answers when the pipeline scores it.
 */
import type { FeaturePlan } from "../modules/feature/definitions";
import type { EngineEvent } from "../modules/feature/engine";
import { pointInTimeVectors, type LabelRow } from "../modules/feature/offline";
import { modelRow } from "./model-input";
import type { SimTransaction } from "../sim/transactions";

export const TRANSACTION_EVENT = "transaction";

/** A simulated transaction as the event the pipeline ingests: ground truth (label, pattern) stays out. */
export function transactionEvent(tx: SimTransaction) {
  const { id, timestamp, label: _label, pattern: _pattern, ...data } = tx;
  return { id, type: TRANSACTION_EVENT, timestamp, data };
}

export interface FeatureTable {
  names: readonly string[];
  /** Row-major: rows × names.length. */
  values: Float32Array;
  rows: number;
  labels: Uint8Array;
}

export function featureTable(plan: FeaturePlan, txs: readonly SimTransaction[], modelFeatures: readonly string[]): FeatureTable {
  for (const name of modelFeatures) {
    if (!plan.names.includes(name)) {
      throw new Error(`model feature "${name}" is not produced by modules.feature; it produces: ${plan.names.join(", ")}`);
    }
  }
  const events: EngineEvent[] = txs.map((tx, i) => {
    const e = transactionEvent(tx);
    return { seq: i + 1, type: e.type, ts: e.timestamp, data: e.data };
  });
  const rows: LabelRow[] = events.map((e) => ({
    ts: e.ts,
    entities: Object.fromEntries(
      plan.entities.filter((en) => typeof e.data[en.key] === "string").map((en) => [en.name, e.data[en.key] as string]),
    ),
    request: e.data,
  }));
  const { values } = pointInTimeVectors(plan, events, rows);
  const F = modelFeatures.length;
  const table = new Float32Array(txs.length * F);
  values.forEach((v, i) => table.set(modelRow(modelFeatures, plan.names, v), i * F));
  return { names: modelFeatures, values: table, rows: txs.length, labels: Uint8Array.from(txs, (t) => t.label) };
}
