/**
 * Durability in split placement: ingestion (JetStream log, with the gateway) and feature are real child processes
 * over a real nats-server. Both are killed with SIGKILL while events pour in, then restarted; after the producer
 * retries, every event is counted exactly once (JetStream dedup by Nats-Msg-Id + the feature's committed position).
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { modules } from "../features/config";
import { NatsServer } from "../harness/nats-server";
import { Child } from "./child";

const dir = mkdtempSync(join(tmpdir(), "cleave-crash-split-"));
let nats: NatsServer;
let ingestion: Child;
let feature: Child;
afterAll(async () => {
  await Promise.all([ingestion?.stop(), feature?.stop()]);
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const T0 = Date.parse("2026-03-01T00:00:00Z");
const CARDS = 10;
const TOTAL = 6000;
const event = (i: number) => ({
  id: `ev-${i}`, type: "transaction", timestamp: T0 + i, data: { card: `card-${i % CARDS}`, customer: "c", merchant: "m", amount: 1 },
});
const post = (url: string, events: object[]) => fetch(`${url}/v1/events`, { method: "POST", body: JSON.stringify(events) });

test("kill -9 ingestion and feature processes mid-ingestion over NATS: each event counted exactly once", async () => {
  nats = await NatsServer.start();
  const extra = { bus: { transport: "nats", nats: { servers: [nats.url] } } };
  ingestion = await Child.create(dir, modules, { extra, name: "ingestion", args: ["--modules", "ingestion"] });
  feature = await Child.create(dir, modules, { extra, name: "feature", args: ["--modules", "feature"], http: false });
  await ingestion.start("/healthz");
  await feature.start();
  let acked = 0;
  let next = 0;
  let killed = false;
  const sender = async () => {
    while (next < TOTAL && !killed) {
      const start = next;
      next += 200;
      try {
        if ((await post(ingestion.url, Array.from({ length: 200 }, (_, k) => event(start + k)))).status === 200) acked += 200;
      } catch {
        // died with the process
      }
    }
  };
  const senders = Promise.all([sender(), sender()]);
  while (acked < 1000) await Bun.sleep(5);
  killed = true;
  await Promise.all([ingestion.kill9(), feature.kill9()]);
  await senders;
  expect(acked).toBeLessThan(TOTAL);

  await ingestion.start("/healthz");
  await feature.start();
  // The producer retries everything; what JetStream already holds is acknowledged as a duplicate.
  let duplicates = 0;
  for (let start = 0; start < TOTAL; start += 500) {
    const res = await post(ingestion.url, Array.from({ length: 500 }, (_, k) => event(start + k)));
    expect(res.status).toBe(200);
    duplicates += ((await res.json()) as { duplicates: number }).duplicates;
  }
  expect(duplicates).toBeGreaterThanOrEqual(acked);

  const until = Date.now() + 30_000;
  for (;;) {
    const { head } = (await (await fetch(`${ingestion.url}/v1/events/stats`)).json()) as { head: number };
    const res = await fetch(`${ingestion.url}/v1/features/stats`);
    if (res.ok && ((await res.json()) as { position: number }).position >= head) break;
    if (Date.now() > until) throw new Error("feature consumer did not catch up");
    await Bun.sleep(50);
  }
  const rows = Array.from({ length: CARDS }, (_, c) => ({ entities: { card: `card-${c}` }, asOf: T0 + TOTAL }));
  const out = (await (await fetch(`${ingestion.url}/v1/features`, { method: "POST", body: JSON.stringify({ rows }) })).json()) as
    { featureNames: string[]; rows: { values: number[] }[] };
  const count = out.featureNames.indexOf("card.txn_count_24h");
  for (const row of out.rows) expect(row.values[count]).toBe(TOTAL / CARDS);
}, 90_000);
