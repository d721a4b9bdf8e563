/**
 * Serving behaviour: several versions at once, swap and unload while traffic flows (no request lost), adaptive
 * batching giving the same answers as single runs, and a bounded queue answering 429 with Retry-After.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { mlp, rowSum, slowMlp } from "../fixtures/make-models";

let proc: TestProcess;
beforeAll(async () => {
  proc = await startTestProcess({ placement: "inprocess", modules: { inference: {} } });
});
afterAll(() => proc.close());

const load = (name: string, version: string, bytes: Uint8Array, extra: object = {}) =>
  proc.bus.call("inference", "load", { name, version, bytes, ...extra }, { timeoutMs: 60_000 });
const row = (i: number) => Array.from({ length: 30 }, (_, j) => Math.sin(i + j));
async function predict(path: string, rows: number[][]) {
  const res = await fetch(`${proc.url}${path}`, {
    method: "POST",
    body: JSON.stringify({ inputs: [{ name: "x", datatype: "FP32", shape: [rows.length, rows[0].length], data: rows }] }),
  });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}
const stats = async (name: string, version: string) =>
  ((await proc.bus.call("inference", "stats", {})) as any).models.find((m: any) => m.name === name && m.version === version);

test("versions: the highest takes default traffic, others stay addressable, swaps lose no request", async () => {
  await load("m", "1", mlp([30, 64, 1], { seed: 1 }));
  await load("m", "2", mlp([30, 64, 1], { seed: 2 }));
  const v1 = await predict("/v2/models/m/versions/1/infer", [row(0)]);
  const v2 = await predict("/v2/models/m/versions/2/infer", [row(0)]);
  const dflt = await predict("/v2/models/m/infer", [row(0)]);
  expect(v1.body.outputs[0].data).not.toEqual(v2.body.outputs[0].data);
  expect(dflt.body).toEqual(v2.body);
  expect((await (await fetch(`${proc.url}/v2/models/m`)).json() as any).versions).toEqual(["1", "2"]);

  // Replace version 2 with new weights while requests flow: every request succeeds, answered by old or new.
  let stop = false;
  const statuses: number[] = [];
  const traffic = Array.from({ length: 4 }, async () => {
    while (!stop) statuses.push((await predict("/v2/models/m/infer", [row(0)])).status);
  });
  await Bun.sleep(30);
  await load("m", "2", mlp([30, 64, 1], { seed: 3 }));
  await Bun.sleep(30);
  stop = true;
  await Promise.all(traffic);
  expect(statuses.length).toBeGreaterThan(10);
  expect(statuses.every((s) => s === 200)).toBe(true);
  const swapped = await predict("/v2/models/m/infer", [row(0)]);
  expect(swapped.body.outputs[0].data).not.toEqual(v2.body.outputs[0].data);

  expect((await proc.bus.call("inference", "unload", { name: "m", version: "1" })) as any).toEqual({ unloaded: ["1"] });
  expect((await predict("/v2/models/m/versions/1/infer", [row(0)])).status).toBe(404);
  expect((await fetch(`${proc.url}/v2/models/m/versions/1/ready`)).status).toBe(404); // unloaded: no such version now
});

test("unloading lets in-flight requests on the old version finish", async () => {
  await load("slow", "1", slowMlp(20), { workers: 1 });
  const rows = Array.from({ length: 32 }, () => Array(64).fill(0.5));
  const inflight = fetch(`${proc.url}/v2/models/slow/infer`, {
    method: "POST",
    body: JSON.stringify({ inputs: [{ name: "x", datatype: "FP32", shape: [32, 64], data: rows }] }),
  });
  await Bun.sleep(15);
  const unloaded = proc.bus.call("inference", "unload", { name: "slow" });
  expect((await inflight).status).toBe(200);
  await unloaded;
  expect((await fetch(`${proc.url}/v2/models/slow/ready`)).status).toBe(404); // unloaded: no such model now
});

test("concurrent requests are batched, and each gets exactly its own rows back", async () => {
  await load("b", "1", mlp([30, 64, 3], { seed: 4 }), { workers: 0 });
  const singles = await Promise.all(Array.from({ length: 8 }, (_, i) => predict("/v2/models/b/infer", [row(i)])));
  const before = await stats("b", "1");
  const sizes = [1, 2, 3, 1, 4, 1, 2, 1];
  const results = await Promise.all(
    Array.from({ length: 64 }, (_, k) => {
      const n = sizes[k % sizes.length];
      const rows = Array.from({ length: n }, (_, r) => row((k + r) % 8));
      return predict("/v2/models/b/infer", rows).then((res) => ({ k, n, res }));
    }),
  );
  const after = await stats("b", "1");
  for (const { k, n, res } of results) {
    expect(res.status).toBe(200);
    expect(res.body.outputs[0].shape).toEqual([n, 3]);
    const expected = Array.from({ length: n }, (_, r) => singles[(k + r) % 8].body.outputs[0].data).flat();
    expect(res.body.outputs[0].data).toEqual(expected);
  }
  const batches = after.batches - before.batches;
  expect(after.requests - before.requests).toBe(64);
  expect(batches).toBeLessThan(64);
  expect(after.batchSize.max).toBeGreaterThan(1);
});

test("an event-loop model works through a backlog of quick runs in the turn it starts, not a turn per run", async () => {
  await load("turns", "1", mlp([30, 64, 1], { seed: 8 }), { workers: 0, batching: { maxBatchSize: 1 } });
  const call = (i: number) => proc.bus.call("inference", "infer", { name: "turns", inputs: [{ name: "x", datatype: "FP32", shape: [1, 30], data: row(i) }] });
  await call(0);
  let turns = 0;
  let done = false;
  const tick = () => {
    turns++;
    if (!done) setImmediate(tick);
  };
  setImmediate(tick);
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => call(i)));
  done = true;
  expect(results.every((r: any) => r.outputs[0].shape[0] === 1)).toBe(true);
  expect((await stats("turns", "1")).batches).toBe(9);
  // onnxruntime-node's own run() defers each run to a later turn (setImmediate): eight runs took eight turns. Here
  // they follow each other at the end of the first, unless a stall (a collection, a busy machine) pushes the chain
  // past its 1 ms.
  expect(turns).toBeLessThan(4);
});

test("a full queue answers 429 with Retry-After", async () => {
  await load("q", "1", slowMlp(20), { workers: 1, batching: { maxBatchSize: 1, maxQueue: 2 } });
  const rows = Array.from({ length: 8 }, () => Array(64).fill(0.5));
  const results = await Promise.all(Array.from({ length: 10 }, () => predict("/v2/models/q/infer", rows)));
  const rejected = results.filter((r) => r.status === 429);
  expect(rejected.length).toBeGreaterThan(0);
  expect(rejected[0].headers.get("retry-after")).toBe("1");
  expect(rejected[0].body.error).toContain("queue is full");
  expect(results.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(2);
  expect((await stats("q", "1")).rejected).toBe(rejected.length);
}, 30_000);

test("maxQueueDelayMs lets an idle model wait for company", async () => {
  await load("delay", "1", mlp([30, 64, 1], { seed: 6 }), { workers: 0, batching: { maxQueueDelayMs: 80 } });
  const first = predict("/v2/models/delay/infer", [row(1)]);
  await Bun.sleep(15);
  const second = predict("/v2/models/delay/infer", [row(2)]);
  expect((await first).status).toBe(200);
  expect((await second).status).toBe(200);
  const s = await stats("delay", "1");
  expect(s.batches).toBe(1);
  expect(s.batchSize.max).toBe(2);
});

test("a request whose deadline passes in the queue is not run", async () => {
  await load("dl", "1", slowMlp(20), { workers: 1, batching: { maxBatchSize: 1 } });
  const rows = Array.from({ length: 32 }, () => Array(64).fill(0.5));
  const input = { name: "dl", inputs: [{ name: "x", datatype: "FP32", shape: [32, 64], data: rows.flat() }] };
  const long = proc.bus.call("inference", "infer", input, { timeoutMs: 30_000 });
  const short = proc.bus.call("inference", "infer", input, { timeoutMs: 20 });
  await expect(short).rejects.toThrow(/deadline|did not answer/);
  await long;
  await Bun.sleep(20);
  const s = await stats("dl", "1");
  expect(s.batches).toBe(1);
  expect(s.errors).toBe(1);
}, 30_000);

test("a model whose outputs do not keep rows gets batching turned off and each request its own answer", async () => {
  await load("sum", "1", rowSum(), { workers: 0 });
  const input = (v: number) => ({ name: "sum", inputs: [{ name: "x", datatype: "FP32", shape: [2, 4], data: Array(8).fill(v) }] });
  // Issued in one tick, so they queue together and the first run is a batch of four requests.
  const results = (await Promise.all([1, 2, 3, 4].map((v) => proc.bus.call("inference", "infer", input(v))))) as any[];
  results.forEach((r, i) => {
    expect(r.outputs[0].shape).toEqual([1, 4]);
    expect(Array.from(r.outputs[0].data)).toEqual(Array(4).fill(2 * (i + 1)));
  });
  const index = (await proc.bus.call("inference", "index", {})) as any;
  expect(index.models.find((m: any) => m.name === "sum").batching).toBe(false);
});

test("stats over REST, filtered by model and version", async () => {
  const all: any = await (await fetch(`${proc.url}/v2/models/b/stats`)).json();
  expect(all.models.map((m: any) => `${m.name}:${m.version}`)).toEqual(["b:1"]);
  expect(all.models[0].requests).toBeGreaterThanOrEqual(72);
  expect(all.models[0].latencyMs.buckets.at(-1)).toEqual([-1, all.models[0].requests]);
  expect((await fetch(`${proc.url}/v2/models/b/versions/9/stats`)).status).toBe(404);
});
