/**
 * Windows kept between calls, per entity state and feature, so that a distinct count, sum, mean or standard
 * deviation costs the events that entered and left the window since the last call instead of the whole window
 * (scoring asks for a window that ends at the newest event and has barely moved; a busy merchant's 7-day window
 * holds thousands of events). Derived data: never stored, rebuilt when missing. Every kept value is exact — an
 * integer count, or an exact sum (./exact.ts) rounded once when read — so it is bit-identical to the value a
 * fresh computation over the same events gives, and online and offline features stay equal.
 */
import type { CompiledFeature } from "./definitions";
import type { Cell, EntityState } from "./engine";
import { addExact, addProduct, inExactRange, roundExact, varianceExact } from "./exact";

/** The non-null values of one column over the events [lo, hi) with their multiplicities. */
interface DistinctWindow {
  kind: "distinct";
  lo: number;
  hi: number;
  counts: Map<Cell, number>;
}

/** The numbers of one column over the events [lo, hi): how many, and their exact sum (and sum of squares). */
interface SumWindow {
  kind: "sum";
  lo: number;
  hi: number;
  n: number;
  s1: number[];
  /** Kept for standard deviations only. */
  s2?: number[];
  /** Numbers outside the exact range (./exact.ts): while any is in the window, it is computed by a scan. */
  inexact: number;
}

export type KeptWindow = DistinctWindow | SumWindow;

/** Below this many events a window is computed afresh: as cheap as keeping one, and needs no memory. */
const KEEP_MIN = 8;

function enter(w: KeptWindow, v: Cell): void {
  if (w.kind === "distinct") {
    if (v !== null) w.counts.set(v, (w.counts.get(v) ?? 0) + 1);
  } else if (typeof v === "number") {
    w.n++;
    if (!inExactRange(v)) w.inexact++;
    else {
      addExact(w.s1, v);
      if (w.s2) addProduct(w.s2, v, v, 1);
    }
  }
}

function leave(w: KeptWindow, v: Cell): void {
  if (w.kind === "distinct") {
    if (v === null) return;
    const left = w.counts.get(v)! - 1;
    if (left === 0) w.counts.delete(v);
    else w.counts.set(v, left);
  } else if (typeof v === "number") {
    w.n--;
    if (!inExactRange(v)) w.inexact--;
    else {
      addExact(w.s1, -v);
      if (w.s2) addProduct(w.s2, v, v, -1);
    }
  }
}

/** One window reused for the sums too small to keep: read at once and never retained, so nothing is allocated. */
const scratch: SumWindow = { kind: "sum", lo: 0, hi: 0, n: 0, s1: [], s2: undefined, inexact: 0 };
const scratchSquares: number[] = [];

function scratchSum(squares: boolean): SumWindow {
  scratch.n = 0;
  scratch.inexact = 0;
  scratch.s1.length = 0;
  scratchSquares.length = 0;
  scratch.s2 = squares ? scratchSquares : undefined;
  return scratch;
}

/**
 * The feature's window over [start, end): moved from the kept one edge by edge, in either direction, when the two
 * overlap and moving is cheaper than building afresh (backwards: a read as of an earlier time, or an event scored
 * as of its own time when a concurrent later one is already in the state); otherwise built and kept.
 */
function windowOf(f: CompiledFeature, s: EntityState, col: Cell[], start: number, end: number): KeptWindow {
  let w = s.windows?.get(f);
  if (w && start <= w.hi && w.lo <= end && Math.abs(start - w.lo) + Math.abs(end - w.hi) < end - start) {
    for (let i = w.hi; i < end; i++) enter(w, col[i]);
    for (let i = start; i < w.lo; i++) enter(w, col[i]);
    for (let i = end; i < w.hi; i++) leave(w, col[i]);
    for (let i = w.lo; i < start; i++) leave(w, col[i]);
  } else {
    const keep = end - start >= KEEP_MIN;
    if (f.agg === "distinct_count") w = { kind: "distinct", lo: start, hi: end, counts: new Map() };
    else if (keep) w = { kind: "sum", lo: start, hi: end, n: 0, s1: [], s2: f.agg === "stddev" ? [] : undefined, inexact: 0 };
    else w = scratchSum(f.agg === "stddev");
    for (let i = start; i < end; i++) enter(w, col[i]);
    if (keep) (s.windows ??= new Map()).set(f, w);
  }
  w.lo = start;
  w.hi = end;
  return w;
}

export function distinctCount(f: CompiledFeature, s: EntityState, col: Cell[], start: number, end: number): number {
  if (end - start < KEEP_MIN && !s.windows?.has(f)) {
    // A handful of values: comparing each with the ones before it beats hashing them all.
    let n = 0;
    outer: for (let i = start; i < end; i++) {
      const v = col[i];
      if (v === null) continue;
      for (let j = start; j < i; j++) if (col[j] === v) continue outer;
      n++;
    }
    return n;
  }
  return (windowOf(f, s, col, start, end) as DistinctWindow).counts.size;
}

const finite = (x: number): Cell => (Number.isFinite(x) ? x : null);

/** sum (0 over no numbers), mean or population standard deviation of the window's numbers. */
export function sumAggregate(f: CompiledFeature, s: EntityState, col: Cell[], start: number, end: number): Cell {
  const w = windowOf(f, s, col, start, end) as SumWindow;
  if (w.inexact > 0) return scanned(f, col, start, end);
  if (f.agg === "sum") return finite(roundExact(w.s1));
  if (w.n === 0) return null;
  if (f.agg === "mean") return finite(roundExact(w.s1) / w.n);
  return finite(Math.sqrt(varianceExact(w.n, w.s1, w.s2!)));
}

/** The plain computation, for windows holding a number outside the exact range. */
function scanned(f: CompiledFeature, col: Cell[], start: number, end: number): Cell {
  let n = 0;
  let sum = 0;
  for (let i = start; i < end; i++) {
    const v = col[i];
    if (typeof v !== "number") continue;
    n++;
    sum += v;
  }
  if (f.agg === "sum") return finite(sum);
  if (n === 0) return null;
  const mean = sum / n;
  if (f.agg === "mean") return finite(mean);
  let sq = 0;
  for (let i = start; i < end; i++) {
    const v = col[i];
    if (typeof v === "number") sq += (v - mean) * (v - mean);
  }
  return finite(Math.sqrt(sq / n));
}

/** An event inserted at index i: before a window it moves the window's indexes, inside it joins it. */
export function shiftWindows(s: EntityState, i: number, values: Cell[]): void {
  if (!s.windows) return;
  for (const [f, w] of s.windows) {
    if (i <= w.lo) {
      w.lo++;
      w.hi++;
    } else if (i < w.hi) {
      w.hi++;
      enter(w, values[f.column]);
    }
  }
}

/** The first n events expired: windows after them move down, windows that held any are dropped (rebuilt). */
export function expireWindows(s: EntityState, n: number): void {
  if (!s.windows) return;
  for (const [f, w] of s.windows) {
    if (w.lo >= n) {
      w.lo -= n;
      w.hi -= n;
    } else s.windows.delete(f);
  }
}
