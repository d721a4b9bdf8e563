/**
 * Split placement: ingestion (JetStream log) and feature in separate processes over a real nats-server give the
 * same vectors as the monolith (SQLite log) for the same stream; producers can also submit over a NATS subject.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { NatsServer } from "../harness/nats-server";
import { modules } from "./config";
import { caughtUp, replayAndCapture, scoringMoments } from "./replay";
import { syntheticStream } from "./stream";

let nats: NatsServer;
let ingestion: TestProcess;
let feature: TestProcess;
let monolith: TestProcess;
const featureDir = mkdtempSync(join(tmpdir(), "cleave-split-feature-"));

beforeAll(async () => {
  nats = await NatsServer.start();
  const common = { placement: "nats" as const, modules, natsUrl: nats.url, deployment: "split" };
  ingestion = await startTestProcess({ ...common, local: ["ingestion"] });
  feature = await startTestProcess({ ...common, local: ["feature"], http: false, dataDir: featureDir });
  monolith = await startTestProcess({ placement: "inprocess", modules });
});
afterAll(async () => {
  await Promise.all([feature?.close(), ingestion?.close(), monolith?.close()]);
  await nats?.stop();
  rmSync(featureDir, { recursive: true, force: true });
});

test("ingestion and feature in separate processes over NATS give the same features as the monolith", async () => {
  const stream = syntheticStream(1500, 11);
  const moments = scoringMoments(stream, 8);
  expect(moments.length).toBeGreaterThan(50);
  const split = await replayAndCapture(ingestion.url!, ingestion.bus, stream, moments);
  const mono = await replayAndCapture(monolith.url!, monolith.bus, stream, moments);
  expect(split.featureNames).toEqual(mono.featureNames);
  expect(split.vectors).toEqual(mono.vectors);

  await caughtUp(ingestion.bus);
  await caughtUp(monolith.bus);
  const s = (await ingestion.bus.call("feature", "stats", {})) as { applied: number; lateDropped: number };
  const m = (await monolith.bus.call("feature", "stats", {})) as { applied: number; lateDropped: number };
  expect(s.applied).toBe(m.applied);
  expect(s.lateDropped).toBe(m.lateDropped);
  const log = (await ingestion.bus.call("ingestion", "stats", {})) as { log: string };
  expect(log.log).toBe("jetstream");
}, 60_000);

test("the feature process resumes from its committed state and position after a restart (JetStream log)", async () => {
  const earlier = { entities: { card: "card-3", customer: "cust-4" }, asOf: Date.parse("2026-03-02T12:00:00Z") };
  const get = async (body: object) =>
    (await (await fetch(`${ingestion.url}/v1/features`, { method: "POST", body: JSON.stringify(body) })).json()) as
      { featureNames: string[]; rows: { values: unknown[] }[] };
  const before = await get(earlier);
  const { position } = (await ingestion.bus.call("feature", "stats", {})) as { position: number };
  await feature.close();
  // Drop the log up to the committed position: the restarted process must not need it.
  const nc = await connect({ servers: nats.url });
  await (await jetstreamManager(nc)).streams.purge("CLEAVE_split_INGEST", { seq: position + 1 });
  await nc.close();
  const T = Date.parse("2026-03-10T00:00:00Z");
  const events = Array.from({ length: 300 }, (_, i) => ({
    id: `restart-${i}`, type: "transaction", timestamp: T + i * 1000, data: { card: "restart-card", customer: "u", merchant: "m", amount: 2 },
  }));
  expect((await fetch(`${ingestion.url}/v1/events`, { method: "POST", body: JSON.stringify(events) })).status).toBe(200);
  feature = await startTestProcess({
    placement: "nats", modules, natsUrl: nats.url, deployment: "split", local: ["feature"], http: false, dataDir: featureDir,
  });
  await caughtUp(ingestion.bus);
  expect((await get(earlier)).rows[0].values).toEqual(before.rows[0].values);
  expect(before.rows[0].values.filter((v) => typeof v === "number" && v > 0).length).toBeGreaterThan(5);
  const fresh = await get({ entities: { card: "restart-card" }, asOf: T + 299_000 });
  expect(fresh.rows[0].values[fresh.featureNames.indexOf("card.amount_sum_24h")]).toBe(600);
});

test("producers speaking NATS submit NDJSON on the producer subject; JetStream deduplicates ids", async () => {
  const nc = await connect({ servers: nats.url });
  const event = { id: "nats-1", type: "login", timestamp: Date.parse("2026-03-05T00:00:00Z"), data: { customer: "n", device: "d" } };
  const body = `${JSON.stringify(event)}\n${JSON.stringify({ ...event, id: "nats-bad", type: "unknown" })}`;
  const first = (await nc.request("cleave.split.ingest.submit", body, { timeout: 5000 })).json<any>();
  expect(first.accepted).toBe(1);
  expect(first.rejected[0]).toMatchObject({ index: 1, id: "nats-bad" });
  const again = (await nc.request("cleave.split.ingest.submit", JSON.stringify(event), { timeout: 5000 })).json<any>();
  expect(again.duplicates).toBe(1);
  expect(again.seqs[0]).toBe(first.seqs[0]);
  const bad = (await nc.request("cleave.split.ingest.submit", "", { timeout: 5000 })).json<any>();
  expect(bad.code).toBe("INVALID_ARGUMENT");
  await nc.close();
});
