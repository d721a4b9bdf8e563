/**
 * The current window of one model version: its last N observations (a ring buffer), optionally also bounded in
 * age. Drift and quality are computed over what is in it at evaluation time.
 */
import type { Observation } from "./contract";

export interface WindowEntry {
  ts: number;
  features: Observation["features"];
  score?: number;
}

export class ObservationWindow {
  private readonly buf: (WindowEntry | undefined)[];
  private next = 0;
  private filled = 0;
  /** Observations added since the last evaluation. */
  sinceEvaluation = 0;
  /** When the last automatic evaluation ran (ms since the epoch). */
  evaluatedAt = 0;
  total = 0;

  constructor(
    readonly capacity: number,
    private readonly maxAgeMs: number,
  ) {
    this.buf = new Array(capacity);
  }

  add(entry: WindowEntry): void {
    this.buf[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    if (this.filled < this.capacity) this.filled++;
    this.sinceEvaluation++;
    this.total++;
  }

  /** Entries oldest first, without those older than the age limit. */
  entries(now = Date.now()): WindowEntry[] {
    const out: WindowEntry[] = [];
    const start = this.filled < this.capacity ? 0 : this.next;
    const oldest = this.maxAgeMs > 0 ? now - this.maxAgeMs : -Infinity;
    for (let i = 0; i < this.filled; i++) {
      const e = this.buf[(start + i) % this.capacity]!;
      if (e.ts >= oldest) out.push(e);
    }
    return out;
  }
}

/** What a column of the window holds once split by type. */
export interface CurrentColumn {
  numbers: number[];
  categories: string[];
  missing: number;
  /** Values of a type the column cannot hold (a string in a numeric feature, an object...). */
  violations: number;
  count: number;
}

export function column(entries: WindowEntry[], name: string, kind: "numeric" | "categorical"): CurrentColumn {
  const col: CurrentColumn = { numbers: [], categories: [], missing: 0, violations: 0, count: entries.length };
  for (const e of entries) {
    const v = name === "\u0000score" ? e.score : e.features[name];
    if (v === null || v === undefined || (typeof v === "number" && Number.isNaN(v))) col.missing++;
    else if (kind === "numeric") {
      if (typeof v === "number" && Number.isFinite(v)) col.numbers.push(v);
      else col.violations++;
    } else if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") col.categories.push(String(v));
    else col.violations++;
  }
  return col;
}

/** Column name under which the model's score is read from a window entry. */
export const SCORE_COLUMN = "\u0000score";
