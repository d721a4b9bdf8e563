/**
 * The online store's disk stays bounded by active entities: a sweep deletes entities with no event left inside
 * their retention, a few hundred per call, and a pass over a table larger than one call covers every row. States
 * written as tails read back whole.
 */
import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Value } from "@sinclair/typebox/value";
import { FeatureConfig } from "../../src/modules/feature/contract";
import { compilePlan } from "../../src/modules/feature/definitions";
import { FeatureApplier } from "../../src/modules/feature/engine";
import { encodeState } from "../../src/modules/feature/state-codec";
import { OnlineStore } from "../../src/modules/feature/store";
import { eventTypes, featureConfig } from "./config";

const DAY = 86_400_000;

test("sweeps delete every entity silent past its retention, and only those, over passes of several calls", async () => {
  const plan = compilePlan(Value.Default(FeatureConfig, structuredClone(featureConfig)) as never, eventTypes as never);
  const store = new OnlineStore(mkdtempSync(join(tmpdir(), "cleave-store-")), plan, 100_000);
  const applier = new FeatureApplier(plan, store.stateOf, store.touched);
  const t0 = Date.UTC(2026, 0, 1);
  let seq = 0;
  const pay = (card: string, ts: number) =>
    applier.insert({ seq: ++seq, type: "transaction", ts, data: { card, customer: `cu-${card}`, merchant: "m", amount: 1 } }, ts);
  // 1,200 cards seen once long ago, 30 seen recently: more rows than one sweep reads.
  for (let i = 0; i < 1200; i++) pay(`old-${i}`, t0);
  for (let i = 0; i < 30; i++) pay(`new-${i}`, t0 + 60 * DAY);
  await store.checkpoint({ position: seq, watermark: t0 + 60 * DAY, applied: seq, lateDropped: 0 });
  const before = store.stats().stored;

  let removed = 0;
  let calls = 0;
  for (let done = false; !done; calls++) {
    const swept = store.sweep(t0 + 60 * DAY);
    removed += swept.removed;
    done = swept.passDone;
  }
  expect(calls).toBeGreaterThan(1);
  expect(removed).toBeGreaterThanOrEqual(1200); // the old cards (and the old customers, and the old merchant)
  for (let i = 0; i < 30; i++) expect(store.peek(0, `new-${i}`)).toBeDefined();
  expect(store.peek(0, "old-7")).toBeUndefined();
  expect(before - removed).toBe(30 * 2 + 1); // new cards and their customers, and the one merchant they share
  await store.close();
});

test("states written as tails between whole writes read back the same after a restart, stale tails adding nothing", async () => {
  const plan = compilePlan(Value.Default(FeatureConfig, structuredClone(featureConfig)) as never, eventTypes as never);
  const dir = mkdtempSync(join(tmpdir(), "cleave-store-"));
  let store = new OnlineStore(dir, plan, 100_000);
  const applier = new FeatureApplier(plan, store.stateOf, store.touched);
  const t0 = Date.UTC(2026, 0, 1);
  let seq = 0;
  const pay = (card: string, ts: number, amount: number) =>
    applier.insert({ seq: ++seq, type: "transaction", ts, data: { card, customer: "cu", merchant: "m", amount } }, ts);
  const checkpoint = () => store.checkpoint({ position: seq, watermark: t0, applied: seq, lateDropped: 0 });
  // Rounds of appends (tails), one out-of-order insert (a whole write), more rounds past the tail limits.
  for (let round = 0; round < 40; round++) {
    for (let k = 0; k < 5; k++) pay("c1", t0 + round * 60_000 + k, round * 10 + k);
    if (round === 12) pay("c1", t0 + 5 * 60_000 + 30_000, -1); // before the last event: spliced
    await checkpoint();
  }
  const tails = () => (store as unknown as { db: { prepare(sql: string): { get(): unknown } } }).db.prepare("SELECT count(*) AS n FROM entity_tails").get() as { n: number };
  expect(tails().n).toBeGreaterThan(0);
  const live = structuredClone({ ts: store.peek(0, "c1")!.ts, seq: store.peek(0, "c1")!.seq, cols: store.peek(0, "c1")!.cols });
  // A stale tail, as a crash between a whole write and the removal of the tails before it would leave.
  expect(plan.entities[0].name).toBe("card");
  const db = (store as unknown as { db: { prepare(sql: string): { run(...a: unknown[]): unknown } } }).db;
  db.prepare("INSERT OR REPLACE INTO entity_tails (kind, id, n, chunk) VALUES (?, ?, ?, ?)").run(
    "card", "c1", 99, encodeState({ ts: live.ts.slice(0, 3), seq: live.seq.slice(0, 3), cols: live.cols.map((c) => c.slice(0, 3)) }),
  );
  await store.close();

  store = new OnlineStore(dir, plan, 100_000);
  const back = store.peek(0, "c1")!;
  expect({ ts: back.ts, seq: back.seq, cols: back.cols }).toEqual(live);
  expect(live.ts).toHaveLength(201);
  await store.close();
});
