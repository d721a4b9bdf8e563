/** Retrieval semantics: window edges, lateness, statuses (present/missing/stale), request features, bad requests. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { modules } from "./config";

let proc: TestProcess;
beforeAll(async () => {
  proc = await startTestProcess({ placement: "serialized", modules });
});
afterAll(() => proc.close());

const T = Date.parse("2026-04-01T12:00:00Z");
const MIN = 60_000;
const txn = (id: string, at: number, amount: number, merchant: string) => ({
  id, type: "transaction", timestamp: at, data: { card: "c1", customer: "u1", merchant, amount },
});
async function ingest(events: object[]): Promise<number> {
  const res = await fetch(`${proc.url}/v1/events`, { method: "POST", body: JSON.stringify(events) });
  const body = (await res.json()) as { seqs: number[] };
  return Math.max(...body.seqs);
}
async function features(body: object) {
  const res = await fetch(`${proc.url}/v1/features`, { method: "POST", body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}
async function vector(asOf: number, minSeq = 0, request?: object, card = "c1") {
  const { status, body } = await features({ entities: { card }, asOf, minSeq, request });
  expect(status).toBe(200);
  const out: Record<string, { value: unknown; status: string }> = {};
  body.featureNames.forEach((n: string, i: number) => (out[n] = { value: body.rows[0].values[i], status: body.rows[0].statuses[i] }));
  return out;
}

test("sliding windows: (asOf - window, asOf], aggregates, last value and time since last", async () => {
  const seq = await ingest([txn("a", T, 10, "m1"), txn("b", T + 5 * MIN, 20, "m2"), txn("c", T + 30 * MIN, 30, "m1")]);
  let v = await vector(T + 10 * MIN, seq);
  expect(v["card.txn_count_10m"].value).toBe(1); // the event exactly 10 min before is outside the window
  v = await vector(T + 30 * MIN, seq);
  expect(v["card.txn_count_10m"].value).toBe(1);
  expect(v["card.txn_count_1h"].value).toBe(3);
  expect(v["card.amount_sum_24h"].value).toBe(60);
  expect(v["card.amount_mean_30d"].value).toBe(20);
  expect(v["card.amount_std_30d"].value).toBe(Math.sqrt(200 / 3));
  expect(v["card.amount_min_7d"].value).toBe(10);
  expect(v["card.amount_max_7d"].value).toBe(30);
  expect(v["card.merchant_distinct_7d"].value).toBe(2);
  expect(v["card.last_merchant"].value).toBe("m1");
  expect(v["card.since_last"].value).toBe(0);
  expect((await vector(T + 40 * MIN))["card.since_last"].value).toBe(600);
  // Point in time: asking as of before an event ignores it.
  expect((await vector(T + 4 * MIN))["card.txn_count_1h"].value).toBe(1);
});

test("late events: within the allowed lateness applied in time order, later ones counted and reported", async () => {
  const before = (await proc.bus.call("feature", "stats", {})) as { lateDropped: number };
  const seq = await ingest([txn("late-ok", T + 25 * MIN, 40, "m9"), txn("too-late", T + 1 * MIN, 1000, "m7")]);
  const v = await vector(T + 30 * MIN, seq);
  expect(v["card.txn_count_1h"].value).toBe(4);
  expect(v["card.amount_max_7d"].value).toBe(40);
  expect(v["card.last_merchant"].value).toBe("m1"); // the late event is older than the last one
  const after = (await proc.bus.call("feature", "stats", {})) as { lateDropped: number };
  expect(after.lateDropped).toBe(before.lateDropped + 1);
});

test("statuses: missing for unknown entities and empty aggregates, stale past staleAfter, transforms follow", async () => {
  const unknown = await vector(T + 30 * MIN, 0, undefined, "nobody");
  expect(unknown["card.txn_count_1h"]).toEqual({ value: null, status: "missing" });
  const stale = await vector(T + 8 * 86_400_000, 0, { amount: 20 });
  expect(stale["card.amount_mean_30d"]).toEqual({ value: 25, status: "stale" });
  expect(stale["card.txn_count_24h"]).toEqual({ value: 0, status: "stale" });
  expect(stale["amount_z"].status).toBe("stale");
  const fresh = await vector(T + 30 * MIN, 0, { amount: 100 });
  expect(fresh["request.amount"]).toEqual({ value: 100, status: "present" });
  expect(fresh["request.channel"]).toEqual({ value: null, status: "missing" });
  expect(fresh["amount_log"].value).toBe(Math.log1p(100));
  expect(fresh["amount_bucket"].value).toBe(2); // [100, 1000)
  expect(fresh["hour"].value).toBe(12);
  expect(fresh["velocity_ratio"].value).toBe(1);
  expect(fresh["customer.events_1h"].status).toBe("missing"); // no customer given in the row
});

test("many rows in one call, as Feast's get_online_features", async () => {
  const { body } = await features({ rows: [{ entities: { card: "c1" }, asOf: T + 30 * MIN }, { entities: { card: "x" }, asOf: T }] });
  expect(body.rows).toHaveLength(2);
  const cardColumns = body.featureNames.flatMap((n: string, i: number) => (n.startsWith("card.") ? [i] : []));
  expect(cardColumns.map((i: number) => body.rows[1].statuses[i]).every((s: string) => s === "missing")).toBe(true);
  expect(cardColumns.map((i: number) => body.rows[0].statuses[i]).every((s: string) => s === "present")).toBe(true);
});

test("bad retrieval requests are 400s naming the problem", async () => {
  const cases: [object, RegExp][] = [
    [{ entities: { planet: "x" } }, /unknown entity "planet"; defined: card, customer, merchant/],
    [{ entities: { card: "c1" }, request: { amount: "12" } }, /request field "amount" must be a number/],
    [{ entities: { card: "c1" }, asOf: "last tuesday" }, /asOf "last tuesday" is neither ISO-8601/],
    [{ rows: [] }, /rows/],
    [{ entities: { card: { id: 1 } } }, /entities/],
  ];
  for (const [body, message] of cases) {
    const r = await features(body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(message);
  }
});

test("observe: many events in one call are applied in log order, each vector including those before it; a bad one fails alone", async () => {
  const at = T + 2 * 24 * 60 * MIN;
  // A millisecond apart, in log order: whether or not the log's consumer got to them first, each vector as of its
  // event's time holds exactly the events up to it.
  const events = [0, 1, 2].map((i) => ({ ...txn(`obs-${i}`, at + i, 5, "m1"), data: { card: "c-obs", customer: "u1", merchant: "m1", amount: 5 } }));
  const res = await fetch(`${proc.url}/v1/events`, { method: "POST", body: JSON.stringify(events) });
  const { seqs } = (await res.json()) as { seqs: number[] };
  // Given out of order, with a request field of the wrong type on the second.
  const out = (await proc.bus.call("feature", "observe", {
    events: [
      { seq: seqs[2], event: events[2] },
      { seq: seqs[1], event: events[1], request: { amount: "five" } },
      { seq: seqs[0], event: events[0] },
    ],
  })) as { featureNames: string[]; rows: ({ values: unknown[] } | null)[]; failures: { index: number; code: string; message: string }[] };
  const count = out.featureNames.indexOf("card.txn_count_1h");
  expect(out.rows[2]!.values[count]).toBe(1);
  expect(out.rows[0]!.values[count]).toBe(3);
  expect(out.rows[1]).toBeNull();
  expect(out.failures).toEqual([{ index: 1, code: "INVALID_ARGUMENT", message: expect.stringContaining('request field "amount" must be a number') }]);
  // The failed event's vector failed, not the event: it is in the state.
  expect((await vector(at + 2, seqs[2], undefined, "c-obs"))["card.txn_count_1h"].value).toBe(3);
});
