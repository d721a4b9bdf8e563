/**
 * Baselines: the training-time reference of each model version, stored in SQLite as given (the contract's
 * `Baseline`) and kept in memory in the form the drift tests use — sorted numeric samples, category counts.
 */
import type { Baseline, FeatureBaseline } from "./contract";
import type { Db } from "../../runtime/native/sqlite";
import { populationStd, type Value } from "./stats";
import { tally } from "./stats/binning";

export type FeatureKind = "numeric" | "categorical";

export interface ReferenceColumn {
  kind: FeatureKind;
  /** Numeric: the reference sample (raw values, or the quantile points of a summary), sorted. */
  sample?: Float64Array;
  /** Numeric: the sample's population standard deviation (Wasserstein's scale), computed once. */
  std?: number;
  /** Numeric: the sample's counts per value, in ascending value order; built on first use (few-valued columns). */
  sampleTally?: () => Map<Value, number>;
  /** Categorical: counts per category. */
  counts?: Map<string, number>;
  /** Rows the reference stands for (drives Evidently's small/large reference rule). */
  rows: number;
  distinct: number;
  min: number;
  max: number;
  missingRate: number;
  /** Summaries are approximations of the data: reported so a reader knows. */
  fromSummary: boolean;
}

export interface PreparedBaseline {
  model: string;
  version: string;
  features: Map<string, ReferenceColumn>;
  score?: ReferenceColumn;
}

export const BASELINE_MIGRATIONS = [
  `CREATE TABLE baselines (model TEXT NOT NULL, version TEXT NOT NULL, body TEXT NOT NULL, stored_at INTEGER NOT NULL,
     PRIMARY KEY (model, version))`,
];

export function prepareColumn(b: FeatureBaseline): ReferenceColumn {
  const missingRate = b.missingRate ?? 0;
  if (b.type === "categorical") {
    const counts = new Map<string, number>();
    if ("counts" in b) for (const [k, c] of Object.entries(b.counts)) counts.set(k, c);
    else for (const v of b.values) counts.set(String(v), (counts.get(String(v)) ?? 0) + 1);
    let rows = 0;
    for (const c of counts.values()) rows += c;
    return { kind: "categorical", counts, rows, distinct: counts.size, min: NaN, max: NaN, missingRate, fromSummary: "counts" in b };
  }
  const fromSummary = "quantiles" in b;
  const sample = Float64Array.from(fromSummary ? b.quantiles : b.values).sort();
  const min = "min" in b && b.min !== undefined ? b.min : sample[0];
  const max = "max" in b && b.max !== undefined ? b.max : sample[sample.length - 1];
  let counts: Map<Value, number> | undefined;
  return {
    kind: "numeric",
    sample,
    std: populationStd(sample),
    sampleTally: () => (counts ??= tally(Array.from(sample))),
    rows: fromSummary ? b.count : sample.length,
    distinct: new Set(sample).size,
    min,
    max,
    missingRate,
    fromSummary,
  };
}

export function prepareBaseline(b: Baseline): PreparedBaseline {
  const features = new Map<string, ReferenceColumn>();
  for (const [name, f] of Object.entries(b.features)) features.set(name, prepareColumn(f));
  return { model: b.model, version: b.version, features, score: b.score ? prepareColumn(b.score) : undefined };
}

export class BaselineStore {
  private readonly cache = new Map<string, PreparedBaseline>();

  constructor(private readonly db: Db) {
    for (const row of db.prepare("SELECT body FROM baselines").all() as { body: string }[]) {
      const b = JSON.parse(row.body) as Baseline;
      this.cache.set(key(b.model, b.version), prepareBaseline(b));
    }
  }

  put(b: Baseline): PreparedBaseline {
    const prepared = prepareBaseline(b);
    this.db
      .prepare("INSERT OR REPLACE INTO baselines (model, version, body, stored_at) VALUES (?, ?, ?, ?)")
      .run(b.model, b.version, JSON.stringify(b), Date.now());
    this.cache.set(key(b.model, b.version), prepared);
    return prepared;
  }

  get(model: string, version: string): PreparedBaseline | undefined {
    return this.cache.get(key(model, version));
  }
}

export const key = (model: string, version: string) => `${model}@${version}`;
