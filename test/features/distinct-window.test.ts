/**
 * Distinct counts are kept between calls (a sliding window per state and feature): whatever sequence of appends,
 * out-of-order inserts, expiries and queries (forward, backward, overlapping) a state sees, every count must equal
 * the one a fresh scan of the window gives.
 */
import { expect, test } from "bun:test";
import type { CompiledFeature } from "../../src/modules/feature/definitions";
import { aggregate, type Cell, type EntityState } from "../../src/modules/feature/engine";
import { rng } from "../harness/rng";
import { HOUR, randomHistory } from "./window-ops";

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

/** Few values (mostly repeats), or many of every type, with look-alikes that are distinct (1 and "1") or equal (0, -0). */
const domains: Record<string, (random: () => number) => Cell> = {
  "six merchants": (random) => (random() < 0.05 ? null : `m${Math.floor(random() * 6)}`),
  "hundreds of mixed values": (random) => {
    const n = Math.floor(random() * 400);
    const r = random();
    return r < 0.05 ? null : r < 0.4 ? `${n}` : r < 0.7 ? n : r < 0.75 ? -0 : r < 0.8 ? n % 2 === 0 : `card_${n}`;
  },
};

for (const [domain, value] of Object.entries(domains)) for (const seed of [1, 2, 3]) {
  test(`incremental distinct counts equal a fresh scan (${domain}, seed ${seed})`, () => {
    const random = rng(seed);
    const { kept } = randomHistory(random, features, () => value(random), (s, f, end, asOf) => {
      const expected = scan(s, f, asOf);
      expect(aggregate(f, s, end, asOf)).toBe(expected);
      // The same events without a kept window: counted from scratch (by comparison when there are few).
      expect(aggregate(f, { ts: s.ts, seq: s.seq, cols: s.cols }, end, asOf)).toBe(expected);
    });
    expect(kept).toBeGreaterThan(500);
  });
}
