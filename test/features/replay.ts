/**
 * Replaying a stream through a running deployment and capturing the online vector at scoring moments, plus the files
 * `cleave features export` takes — shared by the consistency and split-placement tests.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Bus } from "../../src/runtime/bus/bus";
import { featureConfig } from "./config";
import { type StreamEvent, tsOf } from "./stream";

const LATENESS_MS = featureConfig.allowedLatenessSeconds * 1000;
const isValid = (e: StreamEvent) => !e.id.startsWith("bad");

/**
 * Transactions at which online serving has complete information: no event accepted later in the stream is at or
 * before their time (a late arrival would be in the training row but could not have been seen online), and they
 * are within the allowed lateness of the watermark. Every `every`-th such moment is used.
 */
export function scoringMoments(stream: StreamEvent[], every: number): number[] {
  const seen = new Set<string>();
  const admitted: boolean[] = [];
  let watermark = -Infinity;
  for (const e of stream) {
    const ts = tsOf(e);
    const ok = isValid(e) && !seen.has(e.id) && ts >= watermark - LATENESS_MS;
    if (isValid(e)) seen.add(e.id);
    if (ok) watermark = Math.max(watermark, ts);
    admitted.push(ok);
  }
  const laterMin: number[] = new Array(stream.length + 1).fill(Infinity);
  for (let i = stream.length - 1; i >= 0; i--) laterMin[i] = Math.min(laterMin[i + 1], admitted[i] ? tsOf(stream[i]) : Infinity);
  const moments: number[] = [];
  let eligible = 0;
  stream.forEach((e, i) => {
    if (e.type === "transaction" && admitted[i] && tsOf(e) < laterMin[i + 1] && eligible++ % every === 0) moments.push(i);
  });
  return moments;
}

export interface Captured {
  featureNames: string[];
  moments: number[];
  vectors: (number | string | boolean | null)[][];
}

const post = async (url: string, body: string) => {
  const res = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json" } });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(json)}`);
  return json as any;
};

/** Ingests the stream over HTTP in batches ending at each scoring moment and captures the vector there. */
export async function replayAndCapture(url: string, bus: Bus, stream: StreamEvent[], moments: number[]): Promise<Captured> {
  const vectors: Captured["vectors"] = [];
  let featureNames: string[] = [];
  let cursor = 0;
  for (const [k, m] of moments.entries()) {
    const batch = stream.slice(cursor, m + 1);
    cursor = m + 1;
    // Alternate the two batch encodings the API takes.
    const body = k % 2 ? batch.map((e) => JSON.stringify(e)).join("\n") : JSON.stringify(batch);
    const ack = await post(`${url}/v1/events`, body);
    const seq = ack.seqs[batch.length - 1];
    const e = stream[m];
    let out;
    if (k % 2 === 0) {
      const entities = { card: e.data.card, customer: e.data.customer, merchant: e.data.merchant };
      const request = { amount: e.data.amount, channel: e.data.channel };
      out = await post(`${url}/v1/features`, JSON.stringify({ entities, request, asOf: tsOf(e), minSeq: seq }));
    } else {
      out = await bus.call("feature", "observe", { events: [{ seq, event: e }] });
    }
    featureNames = out.featureNames;
    vectors.push(out.rows[0].values);
  }
  if (cursor < stream.length) await post(`${url}/v1/events`, JSON.stringify(stream.slice(cursor)));
  return { featureNames, moments, vectors };
}

/** The export's inputs: the event file as ingested, and one label row per scoring moment. */
export function writeExportInputs(dir: string, stream: StreamEvent[], moments: number[]) {
  const events = join(dir, "events.ndjson");
  const labels = join(dir, "labels.csv");
  writeFileSync(events, stream.map((e) => JSON.stringify(e)).join("\n"));
  const rows = moments.map((m, i) => {
    const e = stream[m];
    const d = e.data as Record<string, unknown>;
    return [tsOf(e), i % 7 === 0 ? 1 : 0, d.card, d.customer, d.merchant, d.amount, d.channel ?? ""].join(",");
  });
  writeFileSync(labels, ["timestamp,label,card,customer,merchant,amount,channel", ...rows].join("\n"));
  return { events, labels };
}

/** Cells of the exported CSV that differ from the online values (exact equality; empty cell = null). */
export function mismatches(header: string[], rows: string[][], captured: Captured): string[] {
  const out: string[] = [];
  captured.vectors.forEach((vector, i) => {
    vector.forEach((v, j) => {
      const cell = rows[i][header.indexOf(captured.featureNames[j])];
      const same = v === null ? cell === "" : typeof v === "number" ? cell !== "" && Number(cell) === v : String(v) === cell;
      if (!same) out.push(`row ${i} ${captured.featureNames[j]}: online ${JSON.stringify(v)} offline "${cell}"`);
    });
  });
  return out;
}

/** Waits until the feature consumer has applied everything in the log. */
export async function caughtUp(bus: Bus, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { head } = (await bus.call("ingestion", "stats", {})) as { head: number };
    const { position } = (await bus.call("feature", "stats", {})) as { position: number };
    if (position >= head) return;
    if (Date.now() > until) throw new Error(`feature consumer stuck at ${position}, log head ${head}`);
    await Bun.sleep(20);
  }
}
