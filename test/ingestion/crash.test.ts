/**
 * Durability: a real `cleave serve` child is killed with SIGKILL while events pour in, then restarted on the same
 * data. Every acknowledged event is in the log, and after the producer retries what was not acknowledged, every
 * event is counted exactly once by the features (none lost, none applied twice).
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { modules } from "../features/config";
import { Child } from "./child";

const dir = mkdtempSync(join(tmpdir(), "cleave-crash-"));
let child: Child;
afterAll(async () => {
  await child?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const T0 = Date.parse("2026-03-01T00:00:00Z");
const CARDS = 20;
const event = (i: number) => ({
  id: `ev-${i}`,
  type: "transaction",
  timestamp: T0 + i,
  data: { card: `card-${i % CARDS}`, customer: "c", merchant: "m", amount: 1 },
});
const post = (url: string, events: object[]) =>
  fetch(`${url}/v1/events`, { method: "POST", body: JSON.stringify(events) });

test("kill -9 mid-ingestion: every acknowledged event counted exactly once after restart", async () => {
  child = await Child.create(dir, modules);
  await child.start();
  const TOTAL = 20_000;
  const BATCH = 250;
  const acked = new Set<number>();
  let next = 0;
  let killed = false;
  const sender = async () => {
    while (next < TOTAL && !killed) {
      const start = next;
      next += BATCH;
      try {
        const res = await post(child.url, Array.from({ length: BATCH }, (_, k) => event(start + k)));
        if (res.status === 200) for (let k = 0; k < BATCH; k++) acked.add(start + k);
      } catch {
        // the connection died with the process: this batch is not acknowledged
      }
    }
  };
  const senders = Promise.all([sender(), sender(), sender()]);
  while (acked.size < 3000) await Bun.sleep(5);
  killed = true;
  await child.kill9();
  await senders;
  expect(acked.size).toBeLessThan(TOTAL);

  await child.start();
  // Every acknowledged event survived the crash: resent, it is recognised as a duplicate.
  const seen = new Set<string>();
  // The producer retries everything (acknowledged or not): duplicates are acknowledged and not stored again.
  let duplicates = 0;
  for (let start = 0; start < TOTAL; start += 1000) {
    const res = await post(child.url, Array.from({ length: 1000 }, (_, k) => event(start + k)));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { duplicates: number; duplicateIndexes: number[] };
    duplicates += body.duplicates;
    for (const index of body.duplicateIndexes) seen.add(`ev-${start + index}`);
  }
  for (const i of acked) expect(seen.has(`ev-${i}`)).toBe(true);
  expect(duplicates).toBeGreaterThanOrEqual(acked.size);

  // Features: each card counted exactly its number of distinct events.
  const stats = await (await fetch(`${child.url}/v1/events/stats`)).json() as { head: number };
  const until = Date.now() + 20_000;
  for (;;) {
    const f = await (await fetch(`${child.url}/v1/features/stats`)).json() as { position: number };
    if (f.position >= stats.head) break;
    if (Date.now() > until) throw new Error("feature consumer did not catch up");
    await Bun.sleep(50);
  }
  const rows = Array.from({ length: CARDS }, (_, c) => ({ entities: { card: `card-${c}` }, asOf: T0 + TOTAL }));
  const res = await fetch(`${child.url}/v1/features`, { method: "POST", body: JSON.stringify({ rows }) });
  const out = (await res.json()) as { featureNames: string[]; rows: { values: number[] }[] };
  const col = out.featureNames.indexOf("card.txn_count_24h");
  const sumCol = out.featureNames.indexOf("card.amount_sum_24h");
  for (const row of out.rows) {
    expect(row.values[col]).toBe(TOTAL / CARDS);
    expect(row.values[sumCol]).toBe(TOTAL / CARDS);
  }
}, 90_000);
