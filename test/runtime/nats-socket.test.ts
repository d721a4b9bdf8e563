/**
 * The NATS client transport on Bun sockets, against a real nats-server: bursts large enough that the kernel takes
 * only part of a write (the rest must go out on `drain`, in order), and connections that survive a server restart.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { BunSocketTransport, connectNats } from "../../src/runtime/bus/nats-socket";
import { NatsServer } from "../harness/nats-server";
import { rng } from "../harness/rng";

let nats: NatsServer;
const conns: NatsConnection[] = [];
const open = async () => {
  const nc = await connectNats({ servers: [nats.url], maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  conns.push(nc);
  return nc;
};
/** The transport a connection is on (nats-core keeps it on its protocol handler). */
const transportOf = (nc: NatsConnection) => (nc as unknown as { protocol: { transport: unknown } }).protocol.transport;

beforeAll(async () => {
  nats = await NatsServer.start();
});
afterAll(async () => {
  for (const nc of conns) await nc.close();
  await nats.stop();
});

test("a burst of large requests and replies arrives intact, in any order, over partial writes", async () => {
  const server = await open();
  const client = await open();
  expect(transportOf(server)).toBeInstanceOf(BunSocketTransport);
  expect(transportOf(client)).toBeInstanceOf(BunSocketTransport);
  // The reply is the request's SHA-256 followed by the request itself.
  server.subscribe("echo", {
    callback: (_err, msg) => {
      const digest = createHash("sha256").update(msg.data).digest();
      const reply = new Uint8Array(32 + msg.data.length);
      reply.set(digest);
      reply.set(msg.data, 32);
      msg.respond(reply);
    },
  });
  await server.flush();
  const random = rng(5);
  // 200 × ~250 KB in one turn: ~50 MB queued at once, far beyond a loopback socket's buffer.
  const bodies = Array.from({ length: 200 }, () => {
    const b = new Uint8Array(200_000 + Math.floor(random() * 100_000));
    for (let i = 0; i < b.length; i += 4096) b[i] = Math.floor(random() * 256);
    return b;
  });
  const replies = await Promise.all(bodies.map((b) => client.request("echo", b, { timeout: 30_000 })));
  replies.forEach((r, i) => {
    expect(r.data.length).toBe(bodies[i].length + 32);
    expect(Buffer.from(r.data.subarray(0, 32))).toEqual(createHash("sha256").update(bodies[i]).digest());
    expect(Buffer.compare(Buffer.from(r.data.subarray(32)), Buffer.from(bodies[i]))).toBe(0);
  });
}, 60_000);

test("after the server restarts, the same connections reconnect (on Bun sockets again) and carry requests", async () => {
  const server = await open();
  const client = await open();
  server.subscribe("ping", { callback: (_err, msg) => void msg.respond(msg.data) });
  await server.flush();
  await nats.kill("SIGKILL");
  await nats.restart();
  let answered: string | undefined;
  for (let i = 0; i < 100 && answered === undefined; i++) {
    answered = await client
      .request("ping", new TextEncoder().encode("again"), { timeout: 500 })
      .then((m) => m.string())
      .catch(() => undefined);
    if (answered === undefined) await Bun.sleep(100);
  }
  expect(answered).toBe("again");
  expect(transportOf(client)).toBeInstanceOf(BunSocketTransport);
}, 30_000);
