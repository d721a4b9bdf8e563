/**
 * Distinct counts are kept between calls (a sliding window per state and feature): whatever sequence of appends,
 * out-of-order inserts, expiries and queries (forward, backward, overlapping) a state sees, every count must equal
 * the one a fresh scan of the window gives.
 */
import { expect, test } from "bun:test";
import type { CompiledFeature } from "../../src/modules/feature/definitions";
import { aggregate, emptyState, expireBefore, insertEvent, type Cell, type EntityState } from "../../src/modules/feature/engine";
import { rng } from "../harness/rng";

const HOUR = 3_600_000;
const features: CompiledFeature[] = [
  { name: "merchants_1h", agg: "distinct_count", column: 0, windowMs: HOUR },
  { name: "merchants_24h", agg: "distinct_count", column: 0, windowMs: 24 * HOUR },
];

/** Distinct non-null values of column 0 over (asOf - window, asOf], by a plain scan of the events. */
function scan(s: EntityState, f: CompiledFeature, asOf: number): number {
  const seen = new Set<Cell>();
  for (let i = 0; i < s.ts.length; i++) {
    if (s.ts[i] > asOf - f.windowMs && s.ts[i] <= asOf && s.cols[0][i] !== null) seen.add(s.cols[0][i]);
  }
  return seen.size;
}

const countAtOrBefore = (ts: number[], t: number) => ts.filter((x) => x <= t).length;

for (const seed of [1, 2, 3]) {
  test(`incremental distinct counts equal a fresh scan (seed ${seed})`, () => {
    const random = rng(seed);
    const s = emptyState(1);
    let now = 0;
    let seq = 0;
    let incremental = 0;
    for (let step = 0; step < 4000; step++) {
      const r = random();
      if (r < 0.6) {
        // Gaps from seconds to half an hour: 1 h windows hold from none to dozens of events (both ways of counting).
        now += Math.floor(random() ** 3 * 1_800_000);
        // Mostly in order; sometimes late (an insert in the middle moves the indexes).
        const ts = random() < 0.1 ? now - Math.floor(random() * 2 * HOUR) : now;
        const value = random() < 0.05 ? null : `m${Math.floor(random() * 6)}`;
        insertEvent(s, ts, ++seq, [value]);
      } else if (r < 0.65) {
        expireBefore(s, now - 30 * HOUR);
      } else {
        // Mostly as of the newest event (scoring), sometimes in the past (point-in-time retrieval).
        const asOf = random() < 0.8 ? now : now - Math.floor(random() * 30 * HOUR);
        for (const f of features) {
          const end = countAtOrBefore(s.ts, asOf);
          if (s.windows?.has(f)) incremental++;
          const expected = scan(s, f, asOf);
          expect(aggregate(f, s, end, asOf)).toBe(expected);
          // The same events without a kept window: counted from scratch (by comparison when there are few).
          expect(aggregate(f, { ts: s.ts, seq: s.seq, cols: s.cols }, end, asOf)).toBe(expected);
        }
      }
    }
    // The kept windows were actually used, not rebuilt every time.
    expect(incremental).toBeGreaterThan(500);
  });
}
