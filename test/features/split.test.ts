/**
 * Split placement: ingestion (JetStream log) and feature in separate processes over a real nats-server give the
 * same vectors as the monolith (SQLite log) for the same stream; producers can also submit over a NATS subject.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
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

beforeAll(async () => {
  nats = await NatsServer.start();
  const common = { placement: "nats" as const, modules, natsUrl: nats.url, deployment: "split" };
  ingestion = await startTestProcess({ ...common, local: ["ingestion"] });
  feature = await startTestProcess({ ...common, local: ["feature"], http: false });
  monolith = await startTestProcess({ placement: "inprocess", modules });
});
afterAll(async () => {
  await Promise.all([feature?.close(), ingestion?.close(), monolith?.close()]);
  await nats?.stop();
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
