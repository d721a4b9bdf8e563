/**
 * Sums, means and standard deviations kept between calls (src/modules/feature/windows.ts) against two references:
 * the same events computed afresh (online and offline must be bit-identical, whatever happened to the window), and
 * an exact BigInt computation for values that are multiples of 1/1024 (the kept value is the correctly rounded one).
 */
import { expect, test } from "bun:test";
import type { CompiledFeature } from "../../src/modules/feature/definitions";
import { aggregate, emptyState, expireBefore, insertEvent, type EntityState } from "../../src/modules/feature/engine";
import { addExact, roundExact } from "../../src/modules/feature/exact";
import { rng } from "../harness/rng";
import { HOUR, randomHistory } from "./window-ops";

const features: CompiledFeature[] = [
  { name: "sum_1h", agg: "sum", column: 0, windowMs: HOUR },
  { name: "mean_24h", agg: "mean", column: 0, windowMs: 24 * HOUR },
  { name: "std_24h", agg: "stddev", column: 0, windowMs: 24 * HOUR },
];

/** Exact value of the window for values k/1024, from BigInt sums; null where the feature has no value. */
function oracle(s: EntityState, f: CompiledFeature, asOf: number): number | null {
  let n = 0n;
  let s1 = 0n;
  let s2 = 0n;
  for (let i = 0; i < s.ts.length; i++) {
    const v = s.cols[0][i];
    if (s.ts[i] <= asOf - f.windowMs || s.ts[i] > asOf || typeof v !== "number") continue;
    const k = BigInt(v * 1024);
    n++;
    s1 += k;
    s2 += k * k;
  }
  if (f.agg === "sum") return Number(s1) / 1024;
  if (n === 0n) return null;
  if (f.agg === "mean") return Number(s1) / 1024 / Number(n);
  const d = n * s2 - s1 * s1; // n²·variance·1024²
  return Math.sqrt(Math.max(0, Number(d) / 1048576) / Number(n) / Number(n));
}

for (const [seed, dyadic] of [[1, true], [2, true], [3, false], [4, false]] as const) {
  test(`kept sums equal a fresh computation${dyadic ? " and the exact value" : ""} (seed ${seed})`, () => {
    const random = rng(seed);
    // Amounts around 10^4 with cents (or multiples of 1/1024), some missing: cancellation-prone for naive sums.
    const amount = () => (random() < 0.05 ? null : dyadic ? Math.floor(random() * 2 ** 24) / 1024 : 10_000 + Math.round(random() * 1e6) / 100);
    const { kept } = randomHistory(random, features, amount, (s, f, end, asOf) => {
      const value = aggregate(f, s, end, asOf);
      expect(aggregate(f, { ts: s.ts, seq: s.seq, cols: s.cols }, end, asOf)).toBe(value);
      if (dyadic) expect(value).toBe(oracle(s, f, asOf));
    });
    expect(kept).toBeGreaterThan(500);
  });
}

test("exact sums are order-independent and correctly rounded", () => {
  const sum = (xs: number[]) => {
    const p: number[] = [];
    for (const x of xs) addExact(p, x);
    return roundExact(p);
  };
  expect(sum([1e16, 1, -1e16])).toBe(1); // naive: 0
  expect(sum([0.1, 0.2, 0.3])).toBe(0.6); // naive: 0.6000000000000001
  expect(sum([1, 1e100, 1, -1e100])).toBe(2);
  expect(sum([])).toBe(0);
  // Half-way case decided by a lower partial (CPython's fsum test).
  expect(sum([1, 2 ** -53, 2 ** -80])).toBe(1 + 2 ** -52);
  const random = rng(9);
  const xs = Array.from({ length: 500 }, () => (random() - 0.5) * 10 ** Math.floor(random() * 20));
  const shuffled = [...xs].sort(() => random() - 0.5);
  expect(sum(shuffled)).toBe(sum(xs));
  // Adding then removing values leaves exactly what was there.
  const p: number[] = [];
  for (const x of xs) addExact(p, x);
  for (const x of xs.slice(0, 250)) addExact(p, -x);
  expect(roundExact(p)).toBe(sum(xs.slice(250)));
});

test("a window holding a number too large or too small to sum exactly is computed by a scan, the same online and offline", () => {
  const s = emptyState(1);
  const f = features[0];
  for (let i = 0; i < 20; i++) insertEvent(s, i * 1000, i + 1, [i === 5 ? 1e200 : i]);
  const end = s.ts.length;
  const kept = aggregate(f, s, end, 19_000);
  expect(kept).toBe(aggregate(f, { ts: s.ts, seq: s.seq, cols: s.cols }, end, 19_000));
  expect(kept).toBe(1e200 + 185);
  expireBefore(s, 6000); // the large one leaves: exact again
  expect(aggregate(f, s, s.ts.length, 19_000)).toBe(6 + 7 + 8 + 9 + 10 + 11 + 12 + 13 + 14 + 15 + 16 + 17 + 18 + 19);
  // A subnormal-scale value: its square's rounding error would underflow.
  const tiny = emptyState(1);
  for (let i = 0; i < 20; i++) insertEvent(tiny, i * 1000, i + 1, [i === 3 ? 1e-300 : i / 10]);
  const std = features[2];
  const keptStd = aggregate(std, tiny, tiny.ts.length, 19_000);
  expect(keptStd).toBe(aggregate(std, { ts: tiny.ts, seq: tiny.seq, cols: tiny.cols }, tiny.ts.length, 19_000));
  // The plain two-pass population standard deviation of the same values, in state order.
  const xs = tiny.cols[0] as number[];
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  expect(keptStd).toBe(Math.sqrt(xs.reduce((a, b) => a + (b - mean) * (b - mean), 0) / xs.length));
});
