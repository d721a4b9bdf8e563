/**
 * Feature definitions: checked against the event schemas and compiled once at start, into the plan the engine runs
 * both online and offline. Every mistake is reported with the config key it is about.
 */
import { ConfigError } from "../../runtime/config/load";
import type { IngestionConfig } from "../ingestion/contract";
import type { FeatureConfig } from "./contract";

type EventTypes = IngestionConfig["eventTypes"];
export type Agg = FeatureConfig["entities"][string]["features"][string]["agg"];
export type Transform = FeatureConfig["transforms"][string];

export interface CompiledFeature {
  name: string;
  agg: Agg;
  /** Index of the aggregated field among the entity's stored columns; -1 when the aggregation needs none. */
  column: number;
  windowMs: number;
}

export interface CompiledEntity {
  name: string;
  key: string;
  eventTypes: Set<string>;
  /** Data fields kept per event, in column order. */
  columns: string[];
  features: CompiledFeature[];
  /** How much event time an entity's state covers: the longest window (or `retention`). */
  retentionMs: number;
  staleAfterMs?: number;
}

export interface CompiledTransform {
  name: string;
  spec: Transform;
  /** Indexes into the vector of the values it reads, in the order the op takes them. */
  inputs: number[];
}

export interface FeaturePlan {
  entities: CompiledEntity[];
  request: { name: string; type: "number" | "string" | "boolean" }[];
  transforms: CompiledTransform[];
  /** Every output name, in vector order: entity features, request fields, transforms. */
  names: string[];
  allowedLatenessMs: number;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const NUMERIC_AGGS = new Set<Agg>(["sum", "mean", "min", "max", "stddev"]);
const FIELDLESS_AGGS = new Set<Agg>(["count", "time_since_last"]);
const DEFAULT_RETENTION_MS = 30 * 86_400_000;

export function durationMs(text: string): number {
  const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`"${text}" is not a duration`);
  return Number(m[1]) * UNITS[m[2]];
}

const TRANSFORM_ARGS: Record<Transform["op"], (keyof Transform)[]> = {
  log: ["input"],
  log1p: ["input"],
  bucket: ["input"],
  ratio: ["num", "den"],
  zscore: ["input", "mean", "std"],
  hour_of_day: [],
  day_of_week: [],
};

export function compilePlan(cfg: FeatureConfig, eventTypes: EventTypes): FeaturePlan {
  const key = (path: string) => `modules.feature.${path}`;
  const fail = (path: string, message: string): never => {
    throw new ConfigError(`key "${key(path)}" ${message}`);
  };
  const entities: CompiledEntity[] = [];
  const names: string[] = [];
  for (const [name, spec] of Object.entries(cfg.entities)) {
    const types = spec.eventTypes ?? Object.keys(eventTypes).filter((t) => spec.key in eventTypes[t].fields);
    for (const [i, t] of types.entries()) {
      if (!eventTypes[t]) fail(`entities.${name}.eventTypes.${i}`, `names unknown event type "${t}"; known: ${Object.keys(eventTypes).join(", ") || "(none)"}`);
      if (!(spec.key in eventTypes[t].fields)) fail(`entities.${name}.key`, `is "${spec.key}", which event type "${t}" does not have`);
    }
    if (types.length === 0) fail(`entities.${name}.key`, `is "${spec.key}", a field no event type declares`);
    const columns: string[] = [];
    const features: CompiledFeature[] = [];
    let longest = 0;
    for (const [fname, f] of Object.entries(spec.features)) {
      const at = `entities.${name}.features.${fname}`;
      let column = -1;
      if (FIELDLESS_AGGS.has(f.agg)) {
        if (f.field !== undefined) fail(`${at}.field`, `is not used by aggregation "${f.agg}"; remove it`);
      } else {
        if (f.field === undefined) fail(`${at}.field`, `is missing: aggregation "${f.agg}" needs a field`);
        const field = f.field!;
        const declared = types.filter((t) => field in eventTypes[t].fields);
        if (declared.length === 0) {
          fail(`${at}.field`, `is "${field}", which is not a field of event types ${types.join(", ")}`);
        }
        const numeric = declared.every((t) => ["number", "integer"].includes(eventTypes[t].fields[field].type));
        if (NUMERIC_AGGS.has(f.agg) && !numeric) fail(`${at}.field`, `is "${field}", not numeric: "${f.agg}" needs numbers`);
        column = columns.indexOf(field);
        if (column < 0) column = columns.push(field) - 1;
      }
      const windowMs = f.window ? durationMs(f.window) : 0;
      if (f.window === undefined && !["last", "time_since_last"].includes(f.agg)) {
        fail(`${at}.window`, `is missing: aggregation "${f.agg}" is computed over a window (e.g. 1h)`);
      }
      longest = Math.max(longest, windowMs);
      features.push({ name: fname, agg: f.agg, column, windowMs });
      names.push(`${name}.${fname}`);
    }
    const retentionMs = spec.retention ? durationMs(spec.retention) : longest || DEFAULT_RETENTION_MS;
    if (retentionMs < longest) fail(`entities.${name}.retention`, `is shorter than its longest window (${longest} ms)`);
    // Window-less aggregations (last, time since last) look back over the whole retained history.
    for (const f of features) if (f.windowMs === 0) f.windowMs = retentionMs;
    entities.push({
      name,
      key: spec.key,
      eventTypes: new Set(types),
      columns,
      features,
      retentionMs,
      staleAfterMs: spec.staleAfter ? durationMs(spec.staleAfter) : undefined,
    });
  }
  const request = Object.entries(cfg.request).map(([name, r]) => ({ name, type: r.type }));
  for (const r of request) names.push(`request.${r.name}`);
  const transforms: CompiledTransform[] = [];
  for (const [name, spec] of Object.entries(cfg.transforms)) {
    const at = `transforms.${name}`;
    if (names.includes(name)) fail(at, `reuses the name of another feature`);
    const inputs = TRANSFORM_ARGS[spec.op].map((arg) => {
      const ref = spec[arg] as string | undefined;
      if (ref === undefined) return fail(`${at}.${arg}`, `is missing: "${spec.op}" needs ${TRANSFORM_ARGS[spec.op].join(", ")}`);
      const index = names.indexOf(ref);
      if (index < 0) return fail(`${at}.${arg}`, `is "${ref}", which is not an earlier feature (known: ${names.join(", ")})`);
      return index;
    });
    if (spec.op === "bucket") {
      const b = spec.boundaries;
      if (!b) fail(`${at}.boundaries`, `is missing: "bucket" needs ascending boundaries`);
      if (b!.some((x, i) => i > 0 && x <= b![i - 1])) fail(`${at}.boundaries`, `must be strictly ascending`);
    }
    transforms.push({ name, spec, inputs });
    names.push(name);
  }
  return { entities, request, transforms, names, allowedLatenessMs: cfg.allowedLatenessSeconds * 1000 };
}
