/**
 * Point-in-time-correct feature rows for training, computed by the same engine as online serving. Events come in
 * log order (the order ingestion accepted them), so the lateness rule drops exactly what the online consumer
 * dropped; then events and label rows are merged in event time, and each row's vector is computed from the events
 * at or before its timestamp — never a later one.
 */
import type { FeaturePlan } from "./definitions";
import { computeVector, emptyState, FeatureApplier, type Cell, type EngineEvent, type EntityState, type Status } from "./engine";

export interface LabelRow {
  ts: number;
  entities: Record<string, string>;
  request: Record<string, unknown>;
}

export interface OfflineResult {
  values: Cell[][];
  statuses: Status[][];
  lateDropped: number;
}

/** Entity states kept in memory only, per entity kind (the online store keeps them in SQLite), and their lookup. */
export function memoryStates(plan: FeaturePlan): { states: Map<string, EntityState>[]; stateOf: (entity: number, id: string) => EntityState } {
  const states = plan.entities.map(() => new Map<string, EntityState>());
  const stateOf = (entity: number, id: string) => {
    let s = states[entity].get(id);
    if (!s) states[entity].set(id, (s = emptyState(plan.entities[entity].columns.length)));
    return s;
  };
  return { states, stateOf };
}

export function pointInTimeVectors(plan: FeaturePlan, eventsInLogOrder: EngineEvent[], labels: LabelRow[]): OfflineResult {
  const { states, stateOf } = memoryStates(plan);
  const applier = new FeatureApplier(plan, stateOf, () => {});
  const admitted = eventsInLogOrder.filter((e) => applier.admit(e.ts));
  admitted.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
  const order = labels.map((_, i) => i).sort((a, b) => labels[a].ts - labels[b].ts || a - b);
  const values: Cell[][] = new Array(labels.length);
  const statuses: Status[][] = new Array(labels.length);
  let next = 0;
  for (const i of order) {
    const row = labels[i];
    // Every event at or before the row's time, and none after it.
    while (next < admitted.length && admitted[next].ts <= row.ts) {
      applier.insert(admitted[next], admitted[next].ts);
      next++;
    }
    const rowStates = plan.entities.map((e, k) => (e.name in row.entities ? states[k].get(row.entities[e.name]) : undefined));
    const v = computeVector(plan, rowStates, row.request, row.ts);
    values[i] = v.values;
    statuses[i] = v.statuses;
  }
  return { values, statuses, lateDropped: applier.lateDropped };
}
