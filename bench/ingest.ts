/**
 * Ingestion + feature benchmark: durable events/s with features updated (monolith on SQLite, split over JetStream),
 * feature retrieval latency, and state size per entity. Run: `bun bench/ingest.ts [--events N] [--nats-events N] [--entities N] [--parts mono,split,state,decision] [--durability process|power]`.
 * The server runs as real `cleave serve` child processes; this process is only the load generator. Throughput counts
 * from the first request until every event is acknowledged (durable) and applied by the feature consumer.
 */
import { type Subprocess, spawn } from "bun";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { modules } from "../test/features/config";
import { startTestProcess } from "../test/harness/deployment";
import { freePort, NatsServer } from "../test/harness/nats-server";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "300000" },
    "nats-events": { type: "string", default: "100000" },
    entities: { type: "string", default: "1000000" },
    batch: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "4" },
    parts: { type: "string", default: "mono,split,state,decision" },
    durability: { type: "string", default: "process" },
  },
});
const BATCH = Number(values.batch);
const PARTS = new Set(values.parts!.split(","));
const CONCURRENCY = Number(values.concurrency);
const T0 = Date.parse("2026-03-01T00:00:00Z");
const dir = mkdtempSync(join(tmpdir(), "cleave-bench-"));
// The test feature set with production settings: default checkpoint interval, lag limit above the run size.
const { checkpointMs: _, ...feature } = modules.feature;
const benchModules = {
  ingestion: { ...modules.ingestion, maxConsumerLag: 10_000_000, durability: values.durability },
  feature,
};

async function serve(name: string, config: object, args: string[] = []) {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ deployment: "bench", dataDir: join(dir, name), log: { level: "warn" }, ...config }));
  const proc = spawn(["bun", "src/cli/main.ts", "serve", "--config", file, ...args], { stdout: "ignore", stderr: "inherit" });
  children.push(proc);
  return proc;
}

const children: Subprocess[] = [];

/** Waits for `/readyz` (every module of the deployment answers) or, with `path`, another endpoint. */
async function ready(url: string, path = "/readyz") {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}${path}`)).ok) return;
    } catch {
      // not yet listening
    }
    await Bun.sleep(50);
  }
  throw new Error(`${url} never became ready`);
}

const getJson = async (url: string) => (await (await fetch(url)).json()) as any;
const rssMb = (p: Subprocess) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, "utf8"))![1]) / 1024;

function event(i: number, cards: number, run: string) {
  return {
    id: `${run}-${i}`,
    type: "transaction",
    timestamp: T0 + i * 10,
    data: { card: `card-${i % cards}`, customer: `cust-${i % 50_000}`, merchant: `m-${i % 500}`, amount: (i % 997) + 0.5 },
  };
}

/** Posts `total` events in batches from `concurrency` clients; events/s acknowledged, and applied by features. */
async function ingestRate(url: string, total: number, cards: number, run: string) {
  const bodies: string[] = [];
  for (let start = 0; start < total; start += BATCH) {
    bodies.push(JSON.stringify(Array.from({ length: Math.min(BATCH, total - start) }, (_, k) => event(start + k, cards, run))));
  }
  let next = 0;
  const t0 = performance.now();
  const client = async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      for (;;) {
        const res = await fetch(`${url}/v1/events`, { method: "POST", body });
        if (res.status === 200) break;
        if (res.status !== 429) throw new Error(`ingest failed: ${res.status} ${await res.text()}`);
        await Bun.sleep(Number(res.headers.get("retry-after") ?? 1) * 100);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, client));
  const acked = performance.now() - t0;
  for (;;) {
    const { head } = await getJson(`${url}/v1/events/stats`);
    const { position } = await getJson(`${url}/v1/features/stats`);
    if (position >= head) break;
    await Bun.sleep(5);
  }
  const applied = performance.now() - t0;
  return { ackedPerSec: total / (acked / 1000), appliedPerSec: total / (applied / 1000) };
}

async function retrievalLatency(url: string, cards: number, n: number) {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = (i * 7919) % cards;
    const body = JSON.stringify({
      entities: { card: `card-${c}`, customer: `cust-${c % 50_000}`, merchant: `m-${c % 500}` },
      request: { amount: 42 },
      asOf: T0 + 1_000_000,
    });
    const t = performance.now();
    await (await fetch(`${url}/v1/features`, { method: "POST", body })).arrayBuffer();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return `${q(0.5).toFixed(2)} / ${q(0.99).toFixed(2)}`;
}

const rows: [string, string][] = [];
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

try {
  // 1. Monolith: SQLite log, in-process bus, one process.
  if (PARTS.has("mono")) {
    const total = Number(values.events);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const p = await serve("mono", { modules: benchModules, http: { port } });
    await ready(url);
    const r = await ingestRate(url, total, 20_000, "mono");
    rows.push([`monolith (SQLite log): ${fmt(total)} events, HTTP batches of ${BATCH} × ${CONCURRENCY} clients — acknowledged ev/s`, fmt(r.ackedPerSec)]);
    rows.push(["monolith: durable AND applied to features, ev/s", fmt(r.appliedPerSec)]);
    rows.push(["monolith: POST /v1/features (3 entities, 23 values) p50 / p99 ms", await retrievalLatency(url, 20_000, 3000)]);
    p.kill();
    await p.exited;
  }

  // 2. Split: JetStream log; gateway+ingestion and feature in separate processes over a real nats-server.
  if (PARTS.has("split")) {
    const total = Number(values["nats-events"]);
    const nats = await NatsServer.start();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const config = { modules: benchModules, bus: { transport: "nats", nats: { servers: [nats.url] } } };
    const ing = await serve("split-ingestion", config, ["--modules", "ingestion", "--http-port", String(port)]);
    await ready(url, "/healthz");
    const feat = await serve("split-feature", config, ["--modules", "feature"]);
    await ready(url); // readyz covers every module of the deployment, feature included
    const r = await ingestRate(url, total, 20_000, "nats");
    rows.push([`split (JetStream log): ${fmt(total)} events — acknowledged ev/s`, fmt(r.ackedPerSec)]);
    rows.push(["split: durable AND applied to features (feature process pulls over NATS), ev/s", fmt(r.appliedPerSec)]);
    rows.push(["split: POST /v1/features, gateway → NATS → feature process, p50 / p99 ms", await retrievalLatency(url, 20_000, 2000)]);
    for (const p of [feat, ing]) {
      p.kill();
      await p.exited;
    }
    await nats.stop();
  }

  // 3. State size: N distinct cards (one event each; customers and merchants on top).
  if (PARTS.has("state")) {
    const n = Number(values.entities);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const p = await serve("state", { modules: benchModules, http: { port } });
    await ready(url);
    const rss0 = rssMb(p);
    const r = await ingestRate(url, n, n, "state");
    await Bun.sleep(2500); // the last checkpoint, and the stats' entity count refresh
    const s = await getJson(`${url}/v1/features/stats`);
    rows.push([`state: ${fmt(n)} events over ${fmt(n)} distinct cards — durable and applied, ev/s`, fmt(r.appliedPerSec)]);
    rows.push(["state: entities stored (cards + customers + merchants)", fmt(s.entitiesStored)]);
    rows.push(["state: feature SQLite (MB) / bytes per entity", `${(s.dbBytes / 1e6).toFixed(1)} / ${Math.round(s.dbBytes / s.entitiesStored)}`]);
    rows.push([`state: process RSS growth (MB), ${fmt(s.entitiesCached)} entities cached (cacheEntities)`, (rssMb(p) - rss0).toFixed(0)]);
    p.kill();
    await p.exited;
  }
  // 4. The decision path in one process: record a transaction durably, then its feature vector including it.
  if (PARTS.has("decision")) {
    const p = await startTestProcess({ placement: "inprocess", modules: benchModules });
    const times: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const e = event(i, 2000, "decision");
      const t = performance.now();
      const { seqs } = (await p.bus.call("ingestion", "ingest", { events: [e] })) as { seqs: number[] };
      await p.bus.call("feature", "observe", { events: [{ seq: seqs[0], event: e }] });
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const q = (x: number) => times[Math.floor(x * times.length)].toFixed(2);
    rows.push(["decision path, one process: ingestion.ingest (1 event) + feature.observe, p50 / p99 ms", `${q(0.5)} / ${q(0.99)}`]);
    await p.close();
  }
} finally {
  for (const c of children) c.kill();
  await Promise.all(children.map((c) => c.exited));
  rmSync(dir, { recursive: true, force: true });
}

const width = Math.max(...rows.map((r) => r[0].length));
console.log(`${"measure".padEnd(width)} | value`);
console.log(`${"-".repeat(width)}-|-${"-".repeat(12)}`);
for (const [k, v] of rows) console.log(`${k.padEnd(width)} | ${v}`);
