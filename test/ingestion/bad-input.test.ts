/** Every kind of bad input answered by a clear 4xx naming the problem; the good events of a batch still accepted. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { eventTypes } from "../features/config";

let proc: TestProcess;
beforeAll(async () => {
  proc = await startTestProcess({
    placement: "serialized",
    modules: { ingestion: { eventTypes, maxBatchEvents: 100, maxConsumerLag: 50, retryAfterSeconds: 3 } },
  });
});
afterAll(() => proc.close());

const ok = (i: number, extra: object = {}) => ({
  id: `ok-${i}`,
  type: "transaction",
  timestamp: "2026-03-01T10:00:00Z",
  data: { card: "c1", customer: "u1", merchant: "m1", amount: 12.5 },
  ...extra,
});
const post = async (body: string | object) => {
  const res = await fetch(`${proc.url}/v1/events`, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
};

describe("a single bad event is a 400 that says why", () => {
  const cases: [string, object, RegExp][] = [
    ["schema violation", ok(1, { data: { card: "c1", customer: "u1", merchant: "m1", amount: "12" } }), /data\.amount.*number/],
    ["missing required field", ok(2, { data: { card: "c1", customer: "u1", merchant: "m1" } }), /data\.amount/],
    ["undeclared field", ok(3, { data: { card: "c", customer: "u", merchant: "m", amount: 1, cvv: "1" } }), /data\.cvv.*not declared/],
    ["missing id", { type: "transaction", timestamp: 1, data: {} }, /missing id/],
    ["empty id", ok(4, { id: "" }), /id must be a non-empty string/],
    ["id with a line break", ok(9, { id: "tx-1\r\nNats-Expected-Stream: x" }), /id must not contain a line break/],
    ["missing timestamp", { id: "x", type: "transaction", data: {} }, /missing timestamp/],
    ["unparseable timestamp", ok(5, { timestamp: "yesterday" }), /neither an ISO-8601/],
    ["timestamp far in the future", ok(6, { timestamp: Date.now() + 86_400_000 }), /in the future.*maxFutureSeconds/],
    ["unknown event type", ok(7, { type: "refund" }), /unknown event type "refund"; known: transaction, login/],
    ["unknown top-level key", ok(8, { amount: 3 }), /unknown key "amount"/],
  ];
  for (const [name, event, reason] of cases) {
    test(name, async () => {
      const r = await post(event);
      expect(r.status).toBe(400);
      expect(r.body.code).toBe("INVALID_ARGUMENT");
      expect(r.body.error).toMatch(reason);
    });
  }

  test("malformed bodies", async () => {
    expect((await post("")).body.error).toMatch(/empty/);
    const broken = await post('[{"id": 1,');
    expect(broken.status).toBe(400);
    expect(broken.body.error).toMatch(/not a valid JSON array/);
    expect((await post("[42]")).body.error).toMatch(/must be a JSON object/);
  });
});

test("a batch: good events stored, bad ones reported by index with the reason", async () => {
  const batch = [ok(10), ok(11, { type: "nope" }), ok(12), { id: "no-ts", type: "transaction", data: {} }, ok(10)];
  const r = await post(batch);
  expect(r.status).toBe(200);
  expect(r.body.accepted).toBe(2);
  expect(r.body.duplicates).toBe(1); // ok-10 twice in one batch: stored once
  expect(r.body.rejected).toEqual([
    { index: 1, id: "ok-11", reason: 'unknown event type "nope"; known: transaction, login' },
    { index: 3, id: "no-ts", reason: "missing timestamp" },
  ]);
  expect(r.body.seqs[1]).toBeNull();
  expect(r.body.seqs[3]).toBeNull();
  expect(r.body.duplicateIndexes).toEqual([4]);
  expect(r.body.seqs[4]).toBe(r.body.seqs[0]); // the duplicate answers with the original's position
});

test("NDJSON: an unparseable line is rejected by its index, the rest accepted", async () => {
  const body = [JSON.stringify(ok(20)), "{not json", "", JSON.stringify(ok(21))].join("\n");
  const r = await post(body);
  expect(r.status).toBe(200);
  expect(r.body.accepted).toBe(2);
  expect(r.body.rejected).toHaveLength(1);
  expect(r.body.rejected[0].index).toBe(1);
  expect(r.body.rejected[0].reason).toMatch(/line 2 is not valid JSON/);
});

test("huge batches get 413: by event count and by body size", async () => {
  const many = await post(Array.from({ length: 101 }, (_, i) => ok(1000 + i)));
  expect(many.status).toBe(413);
  expect(many.body.error).toMatch(/101 events exceeds the limit of 100.*maxBatchEvents/);
  const big = await post(JSON.stringify([ok(1), { pad: "x".repeat(1_100_000) }]));
  expect(big.status).toBe(413);
  expect(big.body.code).toBe("PAYLOAD_TOO_LARGE");
});

test("a log read from a position replays the events after it, in order", async () => {
  const { events, head } = (await proc.bus.call("ingestion", "read", { consumer: "replayer", after: 0, max: 1000 })) as any;
  expect(events.map((e: { id: string }) => e.id)).toEqual(["ok-10", "ok-12", "ok-20", "ok-21"]);
  const from = (await proc.bus.call("ingestion", "read", { consumer: "replayer", after: events[1].seq, max: 1000 })) as any;
  expect(from.events.map((e: { id: string }) => e.id)).toEqual(["ok-20", "ok-21"]);
  expect(head).toBe(events[3].seq);
  expect(events[0].ts).toBe(Date.parse("2026-03-01T10:00:00Z"));
});

test("backpressure: a consumer lagging beyond maxConsumerLag makes ingest answer 429 with Retry-After", async () => {
  await proc.bus.call("ingestion", "read", { consumer: "slow", after: 0, max: 1 });
  const first = await post(Array.from({ length: 60 }, (_, i) => ok(2000 + i)));
  expect(first.status).toBe(200);
  const refused = await post([ok(3000)]);
  expect(refused.status).toBe(429);
  expect(refused.headers.get("retry-after")).toBe("3");
  expect(refused.body.error).toMatch(/consumer "(slow|replayer)" is \d+ events behind/);
  // Once the consumers catch up, ingestion resumes.
  const { head } = (await proc.bus.call("ingestion", "stats", {})) as { head: number };
  await proc.bus.call("ingestion", "read", { consumer: "slow", after: head, max: 1 });
  await proc.bus.call("ingestion", "read", { consumer: "replayer", after: head, max: 1 });
  expect((await post([ok(3000)])).status).toBe(200);
});
