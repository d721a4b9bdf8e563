/**
 * The online store's disk stays bounded by active entities: a sweep deletes entities with no event left inside
 * their retention, a few hundred per call, and a pass over a table larger than one call covers every row. States
 * written as tails read back whole.
 */
import { afterAll, expect, test } from "bun:test";
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
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
const t0 = Date.UTC(2026, 0, 1);
const newPlan = () => compilePlan(Value.Default(FeatureConfig, structuredClone(featureConfig)) as never, eventTypes as never);

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "cleave-store-"));
  dirs.push(dir);
  return dir;
};

/** A store in a fresh directory, and the applier that feeds it. */
function openStore(maxCached = 100_000) {
  const plan = newPlan();
  const dir = freshDir();
  const store = new OnlineStore(dir, plan, maxCached);
  return { plan, dir, store, applier: new FeatureApplier(plan, store.stateOf, store.touched) };
}

/** Card payments in log order (each card with a customer of its own, one merchant), checkpointed at their position. */
function cardPayments(store: OnlineStore, applier: FeatureApplier) {
  let seq = 0;
  return {
    pay: (card: string, ts: number) =>
      applier.insert({ seq: ++seq, type: "transaction", ts, data: { card, customer: `cu-${card}`, merchant: "m", amount: 1 } }, ts),
    checkpoint: (watermark: number) => store.checkpoint({ position: seq, watermark, applied: seq, lateDropped: 0 }),
  };
}

/** One full pass of the sweep over the table: what it removed, in how many calls. */
function sweepAll(store: OnlineStore, watermark: number): { removed: number; calls: number } {
  let removed = 0;
  let calls = 0;
  for (let done = false; !done; calls++) {
    const swept = store.sweep(watermark);
    removed += swept.removed;
    done = swept.passDone;
  }
  return { removed, calls };
}

test("sweeps delete every entity silent past its retention, and only those, over passes of several calls", async () => {
  const { store, applier } = openStore();
  const { pay, checkpoint } = cardPayments(store, applier);
  // 1,200 cards seen once long ago, 30 seen recently: more rows than one sweep reads.
  for (let i = 0; i < 1200; i++) pay(`old-${i}`, t0);
  for (let i = 0; i < 30; i++) pay(`new-${i}`, t0 + 60 * DAY);
  await checkpoint(t0 + 60 * DAY);
  const before = store.stats().stored;

  const { removed, calls } = sweepAll(store, t0 + 60 * DAY);
  expect(calls).toBeGreaterThan(1);
  expect(removed).toBeGreaterThanOrEqual(1200); // the old cards (and the old customers, and the old merchant)
  for (let i = 0; i < 30; i++) expect(store.peek(0, `new-${i}`)).toBeDefined();
  expect(store.peek(0, "old-7")).toBeUndefined();
  expect(before - removed).toBe(30 * 2 + 1); // new cards and their customers, and the one merchant they share
  await store.close();
});

test("a sweep while a checkpoint is writing keeps the states being written, judged by their events in memory", async () => {
  const { store, applier } = openStore();
  const { pay, checkpoint } = cardPayments(store, applier);
  // Stored long ago, then active again: on disk their newest event is past retention until this checkpoint commits.
  for (let i = 0; i < 40; i++) pay(`back-${i}`, t0);
  await checkpoint(t0);
  const now = t0 + 60 * DAY;
  for (let i = 0; i < 40; i++) pay(`back-${i}`, now);
  const writing = checkpoint(now);
  // The checkpoint has handed its first slice to the writer thread (those states are clean, not yet committed).
  const { removed } = sweepAll(store, now);
  await writing;
  expect(removed).toBe(0);
  for (let i = 0; i < 40; i++) expect(store.peek(0, `back-${i}`)!.ts.at(-1)).toBe(now);
  await store.close();
});

test("states written as tails between whole writes read back the same after a restart, stale tails adding nothing", async () => {
  const opened = openStore();
  const { plan, dir, applier } = opened;
  let store = opened.store;
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

test("a checkpoint that appends a tail writes the new events and the entity's time, not its stored state again", async () => {
  const { dir, store, applier } = openStore();
  let seq = 0;
  const pay = (ts: number) => applier.insert({ seq: ++seq, type: "transaction", ts, data: { card: "c1", customer: "cu", merchant: "m", amount: 1 } }, ts);
  const checkpoint = () => store.checkpoint({ position: seq, watermark: t0, applied: seq, lateDropped: 0 });
  for (let i = 0; i < 500; i++) pay(t0 + i);
  await checkpoint(); // whole
  // SQLite rewrites a record whole when any of its columns changes: count the writes to the stored states.
  const watcher = new Database(join(dir, "features.sqlite"));
  watcher.exec(`CREATE TABLE state_writes (n INTEGER);
    CREATE TRIGGER state_updated AFTER UPDATE ON entities BEGIN INSERT INTO state_writes VALUES (1); END;
    CREATE TRIGGER state_inserted AFTER INSERT ON entities BEGIN INSERT INTO state_writes VALUES (1); END;`);
  for (let round = 1; round <= 3; round++) {
    for (let k = 0; k < 5; k++) pay(t0 + 1000 * round + k);
    await checkpoint(); // tails
  }
  expect((watcher.prepare("SELECT count(*) AS n FROM state_writes").get() as { n: number }).n).toBe(0);
  expect((watcher.prepare("SELECT count(*) AS n FROM entity_tails WHERE kind = 'card' AND id = 'c1'").get() as { n: number }).n).toBe(3);
  expect((watcher.prepare("SELECT last_ts FROM entity_seen WHERE kind = 'card' AND id = 'c1'").get() as { last_ts: number }).last_ts).toBe(t0 + 3004);
  watcher.close();
  await store.close();
});

test("a store written by the schema before entity_seen opens with its states, tails and times", async () => {
  const plan = newPlan();
  const dir = freshDir();
  const cols = plan.entities[0].columns.length;
  const state = (from: number, to: number) => ({
    ts: Array.from({ length: to - from }, (_, i) => t0 + from + i),
    seq: Array.from({ length: to - from }, (_, i) => from + i + 1),
    cols: Array.from({ length: cols }, () => Array.from({ length: to - from }, () => null)),
  });
  // Schema version 2, as the previous build wrote it.
  const old = new Database(join(dir, "features.sqlite"));
  old.pragma("journal_mode = WAL");
  old.exec(`CREATE TABLE entities (kind TEXT NOT NULL, id TEXT NOT NULL, last_ts REAL NOT NULL, state BLOB NOT NULL, PRIMARY KEY (kind, id)) WITHOUT ROWID;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value REAL NOT NULL);
    CREATE TABLE entity_tails (kind TEXT NOT NULL, id TEXT NOT NULL, n INTEGER NOT NULL, chunk BLOB NOT NULL, PRIMARY KEY (kind, id, n)) WITHOUT ROWID;
    PRAGMA user_version = 2;`);
  old.prepare("INSERT INTO entities VALUES ('card', 'kept', ?, ?)").run(t0 + 9, encodeState(state(0, 8)));
  old.prepare("INSERT INTO entity_tails VALUES ('card', 'kept', 1, ?)").run(encodeState(state(8, 10)));
  old.prepare("INSERT INTO entities VALUES ('card', 'silent', ?, ?)").run(t0 - 400 * DAY, encodeState({ ...state(0, 1), ts: [t0 - 400 * DAY] }));
  old.close();

  const store = new OnlineStore(dir, plan, 100_000);
  expect(store.peek(0, "kept")!.ts).toEqual(state(0, 10).ts);
  expect(sweepAll(store, t0).removed).toBe(1);
  expect(store.peek(0, "silent")).toBeUndefined();
  expect(store.peek(0, "kept")).toBeDefined();
  await store.close();
});

test("a checkpoint that cannot write (disk full) fails as a whole, keeps its states for the next one, and does not end the process", async () => {
  const { dir, store, applier } = openStore();
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  let seq = 0;
  // 100 cards: several checkpoint slices, each its own write to the writer thread.
  for (let i = 0; i < 100; i++) {
    applier.insert({ seq: ++seq, type: "transaction", ts: t0 + i, data: { card: `c${i}`, customer: `cu${i}`, merchant: "m", amount: 1 } }, t0 + i);
  }
  // SQLite's own error for a full disk, raised inside the writer thread's inserts.
  const db = new Database(join(dir, "features.sqlite"));
  db.exec("CREATE TRIGGER full BEFORE INSERT ON entities BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END;");
  const cp = { position: seq, watermark: t0 + 100, applied: seq, lateDropped: 0 };
  await expect(store.checkpoint(cp)).rejects.toThrow("database or disk is full");
  await Bun.sleep(50); // a rejection left unhandled is reported after the turn it happened in
  expect(unhandled).toEqual([]);
  expect(store.pendingChanges).toBe(201); // 100 cards, 100 customers, one merchant: all still to be written
  // Each slice is one transaction: no entity's time was stored without its state.
  expect((db.prepare("SELECT count(*) AS n FROM entity_seen").get() as { n: number }).n).toBe(0);

  db.exec("DROP TRIGGER full");
  await store.checkpoint(cp);
  expect(store.pendingChanges).toBe(0);
  const stored = db.prepare("SELECT count(*) AS n FROM entities").get() as { n: number };
  expect(stored.n).toBe(201);
  process.off("unhandledRejection", onUnhandled);
  db.close();
  await store.close();
});

test("the events held in memory are counted through inserts, expiry, eviction and loads, without a pass over the cache", async () => {
  const { plan, store, applier } = openStore(10);
  const card = plan.entities.findIndex((e) => e.name === "card");
  const held = () => store.memory()[card];
  let seq = 0;
  // 30 cards, 3 events each, one a day: the card's retention (30 days) keeps them all for now.
  for (let day = 0; day < 3; day++) {
    for (let i = 0; i < 30; i++) {
      applier.insert({ seq: ++seq, type: "transaction", ts: t0 + day * DAY + i, data: { card: `c${i}`, customer: `u${i}`, merchant: "m", amount: 1 } }, t0 + day * DAY + i);
    }
  }
  expect(held()).toMatchObject({ entities: 30, events: 90, largest: 3 });
  expect(held().largest).toBe(0); // nothing changed since the last call

  // A checkpoint evicts clean states down to 10 cached (over all entity kinds): their events leave the count.
  await store.checkpoint({ position: seq, watermark: t0 + 2 * DAY + 29, applied: seq, lateDropped: 0 });
  const cached = held().entities;
  expect(cached).toBeLessThan(30);
  expect(held().events).toBe(3 * cached);

  // Reading the cards back: a cached one adds nothing, an evicted one is loaded with its 3 events.
  let loaded: string | undefined;
  for (let i = 0; i < 30 && loaded === undefined; i++) {
    const before = held().events;
    expect(store.peek(card, `c${i}`)?.ts.length).toBe(3);
    if (held().events === before + 3) loaded = `c${i}`;
    else expect(held().events).toBe(before);
  }
  expect(loaded).toBeDefined();
  expect(held()).toMatchObject({ entities: cached + 1, events: 3 * (cached + 1) });

  // 40 days on, the loaded card's next event expires its three old ones: 3 leave, 1 enters.
  applier.insert({ seq: ++seq, type: "transaction", ts: t0 + 40 * DAY, data: { card: loaded, customer: "u", merchant: "m", amount: 1 } }, t0 + 40 * DAY);
  expect(held()).toMatchObject({ entities: cached + 1, events: 3 * cached + 1, largest: 1 });
  await store.close();
});
