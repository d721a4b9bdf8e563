/**
 * Acknowledged JetStream publishing, shared by the bus's events and ingestion's log, against a real nats-server:
 * the stored sequence, a repeated id answered with the first one's, and a subject no stream captures failing at
 * once with a clear reason rather than at the deadline.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import { CleaveError } from "../../src/runtime/errors";
import { JetStreamPublisher } from "../../src/runtime/bus/jetstream-publisher";
import { connectNats } from "../../src/runtime/bus/nats-socket";
import { NatsServer } from "../harness/nats-server";

let nats: NatsServer;
let nc: NatsConnection;
let publisher: JetStreamPublisher;

beforeAll(async () => {
  nats = await NatsServer.start();
  nc = await connectNats({ servers: [nats.url] });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "PUB_TEST", subjects: ["pub.test.>"] });
  publisher = new JetStreamPublisher(nc, 2_000);
});
afterAll(async () => {
  await nc.close();
  await nats.stop();
});

const withId = (id: string) => {
  const h = headers();
  h.set("Nats-Msg-Id", id);
  return h;
};

test("published messages get their stream sequence; a repeated id gets the first one's, marked duplicate", async () => {
  const [a, b] = await Promise.all([
    publisher.publish("pub.test.x", "one", withId("m-1"), "message m-1"),
    publisher.publish("pub.test.x", "two", withId("m-2"), "message m-2"),
  ]);
  expect(b.seq).toBe(a.seq + 1);
  expect([a.duplicate, b.duplicate]).toEqual([false, false]);
  expect(await publisher.publish("pub.test.x", "one again", withId("m-1"), "message m-1")).toEqual({ seq: a.seq, duplicate: true });
});

test("a subject no stream captures fails at once, naming what was published", async () => {
  const started = performance.now();
  const err = await publisher.publish("nowhere.x", "lost", undefined, "event nowhere").catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CleaveError);
  expect((err as CleaveError).code).toBe("UNAVAILABLE");
  expect((err as CleaveError).message).toBe("no JetStream stream stores event nowhere");
  expect((err as CleaveError).details).toEqual({ noStream: true });
  expect(performance.now() - started).toBeLessThan(1_000);
});
