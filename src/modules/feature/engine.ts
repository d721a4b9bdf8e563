/**
 * The feature code, shared by online serving and the offline export so the two cannot disagree. An entity's state
 * is its events within the retention, sorted by (event time, log seq); a feature value is computed from that state
 * as of a time, using only events at or before it. Same events + same asOf → bit-identical values in both paths.
 */
import { invalidArgument } from "../../runtime/errors";
import type { CompiledEntity, CompiledFeature, CompiledTransform, FeaturePlan } from "./definitions";
import { intern } from "./intern";
import { distinctCount, expireWindows, type KeptWindow, shiftWindows, sumAggregate } from "./windows";

export type Cell = number | string | boolean | null;
export type Status = "present" | "missing" | "stale";

/** Columnar events of one entity: ts[i], seq[i] and cols[c][i] describe event i. */
export interface EntityState {
  ts: number[];
  seq: number[];
  cols: Cell[][];
  /** Windows kept between calls, per feature (./windows.ts; derived data: never stored, rebuilt when missing). */
  windows?: Map<CompiledFeature, KeptWindow>;
  /** An event went in before the last one since the store last wrote the whole state (./store.ts appends otherwise). */
  spliced?: boolean;
}

export interface EngineEvent {
  seq: number;
  type: string;
  ts: number;
  data: Record<string, unknown>;
}

export const emptyState = (columns: number): EntityState => ({ ts: [], seq: [], cols: Array.from({ length: columns }, () => []) });

/** Inserts in (ts, seq) order; false when this seq is already there (an event applied twice is applied once). */
export function insertEvent(s: EntityState, ts: number, seq: number, values: Cell[]): boolean {
  let i = s.ts.length;
  while (i > 0 && (s.ts[i - 1] > ts || (s.ts[i - 1] === ts && s.seq[i - 1] >= seq))) {
    if (s.ts[i - 1] === ts && s.seq[i - 1] === seq) return false;
    i--;
  }
  if (i === s.ts.length) {
    s.ts.push(ts);
    s.seq.push(seq);
    for (let c = 0; c < values.length; c++) s.cols[c].push(values[c]);
  } else {
    s.ts.splice(i, 0, ts);
    s.seq.splice(i, 0, seq);
    s.spliced = true;
    for (let c = 0; c < values.length; c++) s.cols[c].splice(i, 0, values[c]);
    shiftWindows(s, i, values);
  }
  return true;
}

/** Drops events older than `cutoff`; they can no longer fall inside any window that will be asked for. */
export function expireBefore(s: EntityState, cutoff: number): void {
  let n = 0;
  while (n < s.ts.length && s.ts[n] < cutoff) n++;
  if (n === 0) return;
  s.ts.splice(0, n);
  s.seq.splice(0, n);
  for (const col of s.cols) col.splice(0, n);
  expireWindows(s, n);
}

/** Number of events with ts <= t (so the last one at or before t is at index result - 1). */
function countAtOrBefore(ts: number[], t: number): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const finite = (x: number): Cell => (Number.isFinite(x) ? x : null);

/** One aggregation over the window (asOf - window, asOf]. */
export function aggregate(f: CompiledFeature, s: EntityState, end: number, asOf: number): Cell {
  const start = countAtOrBefore(s.ts, asOf - f.windowMs);
  if (f.agg === "count") return end - start;
  if (f.agg === "time_since_last") return end > start ? (asOf - s.ts[end - 1]) / 1000 : null;
  const col = s.cols[f.column];
  if (f.agg === "last") {
    for (let i = end - 1; i >= start; i--) if (col[i] !== null) return col[i];
    return null;
  }
  if (f.agg === "distinct_count") return distinctCount(f, s, col, start, end);
  if (f.agg === "sum" || f.agg === "mean" || f.agg === "stddev") return sumAggregate(f, s, col, start, end);
  let n = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = start; i < end; i++) {
    const v = col[i] as number | null;
    if (v === null) continue;
    n++;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (n === 0) return null;
  return f.agg === "min" ? min : max;
}

/** The event's values for an entity's columns, and the entity id it belongs to (undefined: not this entity's). */
export function entityIdOf(e: CompiledEntity, event: EngineEvent): string | undefined {
  if (!e.eventTypes.has(event.type)) return undefined;
  const id = event.data[e.key];
  return typeof id === "string" || typeof id === "number" ? String(id) : undefined;
}

export function columnValues(e: CompiledEntity, event: EngineEvent): Cell[] {
  return e.columns.map((c) => {
    const v = event.data[c];
    return v === undefined ? null : typeof v === "string" ? intern(v) : (v as Cell);
  });
}

/** Applies events in log order with the lateness rule; state storage is the caller's (SQLite online, memory offline). */
export class FeatureApplier {
  watermark = -Infinity;
  applied = 0;
  lateDropped = 0;

  constructor(
    readonly plan: FeaturePlan,
    private readonly stateOf: (entity: number, id: string) => EntityState,
    private readonly touched: (entity: number, id: string, state: EntityState) => void,
  ) {}

  /** Lateness rule: an event older than the watermark minus the allowed lateness is counted, not applied. */
  admit(ts: number): boolean {
    if (ts < this.watermark - this.plan.allowedLatenessMs) {
      this.lateDropped++;
      return false;
    }
    if (ts > this.watermark) this.watermark = ts;
    return true;
  }

  /** Online: admit then insert, expiring relative to the watermark. */
  apply(event: EngineEvent): "applied" | "late" {
    if (!this.admit(event.ts)) return "late";
    this.insert(event, this.watermark);
    return "applied";
  }

  /**
   * Adds an event to the states of its entities and expires what fell out of retention as seen from `progress`
   * (the watermark online; the replay's current event time offline: expiry never touches a window still asked for).
   */
  insert(event: EngineEvent, progress: number): void {
    let matched = false;
    let inserted = false;
    this.plan.entities.forEach((e, i) => {
      const id = entityIdOf(e, event);
      if (id === undefined) return;
      matched = true;
      const state = this.stateOf(i, id);
      inserted = insertEvent(state, event.ts, event.seq, columnValues(e, event)) || inserted;
      expireBefore(state, progress - e.retentionMs - this.plan.allowedLatenessMs);
      this.touched(i, id, state);
    });
    if (inserted || !matched) this.applied++; // an event seen before (same seq) is not counted again
  }
}

/** Checks request-time fields against their declared types; a wrong type is the caller's mistake (400). */
export function checkRequest(plan: FeaturePlan, request: Record<string, unknown> | undefined): void {
  for (const r of plan.request) {
    const v = request?.[r.name];
    if (v !== undefined && v !== null && typeof v !== r.type) {
      throw invalidArgument(`request field "${r.name}" must be a ${r.type}, got ${JSON.stringify(v)}`);
    }
    if (typeof v === "number" && !Number.isFinite(v)) throw invalidArgument(`request field "${r.name}" must be finite`);
  }
}

/** The feature vector as of `asOf`: states[i] is the state of plan.entities[i] for the row (undefined: none). */
export function computeVector(
  plan: FeaturePlan,
  states: (EntityState | undefined)[],
  request: Record<string, unknown> | undefined,
  asOf: number,
): { values: Cell[]; statuses: Status[] } {
  const values: Cell[] = [];
  const statuses: Status[] = [];
  plan.entities.forEach((e, i) => {
    const s = states[i];
    const end = s ? countAtOrBefore(s.ts, asOf) : 0;
    const known = s !== undefined && end > 0 && s.ts[end - 1] > asOf - e.retentionMs;
    const stale = known && e.staleAfterMs !== undefined && asOf - s!.ts[end - 1] > e.staleAfterMs;
    for (const f of e.features) {
      const v = known ? aggregate(f, s!, end, asOf) : null;
      values.push(v);
      statuses.push(v === null ? "missing" : stale ? "stale" : "present");
    }
  });
  for (const r of plan.request) {
    const v = request?.[r.name];
    values.push(v === undefined ? null : (v as Cell));
    statuses.push(v === undefined || v === null ? "missing" : "present");
  }
  for (const t of plan.transforms) {
    const ins = t.inputs.map((i) => values[i]);
    const v = ins.some((x) => x === null) ? null : transform(t, ins, asOf);
    values.push(v);
    statuses.push(v === null ? "missing" : t.inputs.some((i) => statuses[i] === "stale") ? "stale" : "present");
  }
  return { values, statuses };
}

function transform(t: CompiledTransform, ins: Cell[], asOf: number): Cell {
  const x = ins.map((v) => (typeof v === "number" ? v : typeof v === "boolean" ? Number(v) : NaN));
  switch (t.spec.op) {
    case "log":
      return x[0] > 0 ? finite(Math.log(x[0])) : null;
    case "log1p":
      return x[0] > -1 ? finite(Math.log1p(x[0])) : null;
    case "ratio":
      return x[1] !== 0 ? finite(x[0] / x[1]) : null;
    case "zscore":
      return x[2] > 0 ? finite((x[0] - x[1]) / x[2]) : null;
    case "bucket": {
      if (!Number.isFinite(x[0])) return null;
      const b = t.spec.boundaries!;
      let k = 0;
      while (k < b.length && x[0] >= b[k]) k++;
      return k;
    }
    case "hour_of_day":
      return new Date(asOf).getUTCHours();
    case "day_of_week":
      return new Date(asOf).getUTCDay();
  }
}
