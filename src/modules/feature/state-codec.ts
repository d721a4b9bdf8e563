/**
 * Entity states on disk, and the pieces a checkpoint writes between whole states: a tail (the events after a given
 * one) and how a loaded state takes its tails back.
 */
import type { EntityState } from "./engine";

/**
 * State on disk: [u32 n][f64 ts × n][f64 seq × n][JSON of the columns]. Times and positions as raw doubles keep a
 * checkpoint cheap for entities with many events; the columns hold mixed values, so JSON.
 */
export function encodeState(s: EntityState): Buffer {
  const n = s.ts.length;
  const cols = Buffer.from(JSON.stringify(s.cols));
  const buf = Buffer.allocUnsafe(8 + 16 * n + cols.length);
  buf.writeUInt32LE(n, 0);
  const nums = new Float64Array(buf.buffer, buf.byteOffset + 8, 2 * n);
  for (let i = 0; i < n; i++) {
    nums[i] = s.ts[i];
    nums[n + i] = s.seq[i];
  }
  cols.copy(buf, 8 + 16 * n);
  return buf;
}

/** Its events from index `from` on, as a state of their own (a tail). */
export function suffixOf(s: EntityState, from: number): EntityState {
  return { ts: s.ts.slice(from), seq: s.seq.slice(from), cols: s.cols.map((c) => c.slice(from)) };
}

/** Index of the first event after (ts, seq), searching from the end: new events are few. */
export function firstAfter(s: EntityState, ts: number, seq: number): number {
  let i = s.ts.length;
  while (i > 0 && (s.ts[i - 1] > ts || (s.ts[i - 1] === ts && s.seq[i - 1] > seq))) i--;
  return i;
}

/** Appends a tail's events that come after the state's last (a stale tail, left by a crash, adds nothing). */
export function appendTail(s: EntityState, tail: EntityState): void {
  const n = s.ts.length;
  const start = n === 0 ? 0 : firstAfter(tail, s.ts[n - 1], s.seq[n - 1]);
  for (let i = start; i < tail.ts.length; i++) {
    s.ts.push(tail.ts[i]);
    s.seq.push(tail.seq[i]);
    for (let c = 0; c < s.cols.length; c++) s.cols[c].push(tail.cols[c][i]);
  }
}

export function decodeState(buf: Uint8Array): EntityState {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = view.getUint32(0, true);
  const ts: number[] = new Array(n);
  const seq: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    ts[i] = view.getFloat64(8 + 8 * i, true);
    seq[i] = view.getFloat64(8 + 8 * (n + i), true);
  }
  const cols = JSON.parse(new TextDecoder().decode(buf.subarray(8 + 16 * n))) as EntityState["cols"];
  return { ts, seq, cols };
}
