/**
 * The event outbox over a real nats-server that goes away: an event committed while the bus is down stays pending
 * and is published once NATS is back, without anyone calling again.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registryContract } from "../../src/modules/registry/contract";
import { Outbox } from "../../src/modules/registry/outbox";
import { RegistryStore } from "../../src/modules/registry/store";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { NatsServer } from "../harness/nats-server";

let nats: NatsServer;
let p: TestProcess;
const dir = mkdtempSync(join(tmpdir(), "cleave-outbox-"));

beforeAll(async () => {
  nats = await NatsServer.start();
  p = await startTestProcess({ placement: "nats", natsUrl: nats.url, deployment: `ob${process.pid}`, modules: { registry: {} }, local: [], http: false });
});
afterAll(async () => {
  await p?.close();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("an event committed while NATS is down is published when it returns", async () => {
  const got: unknown[] = [];
  await p.bus.subscribe(registryContract, "version.approved", (e) => void got.push(e), { group: "outbox-test" });
  const store = new RegistryStore(join(dir, "registry.db"));
  const outbox = new Outbox(store.db, p.bus, p.log);
  const event = { model: "m", version: 1, digest: `sha256:${"0".repeat(64)}`, actor: "carol", reason: "ok", at: new Date().toISOString() };
  // Warm up the stream so the outage below hits the publish itself.
  store.atomically(() => outbox.enqueue("version.approved", { ...event, version: 0 }));
  await outbox.flush();
  expect(outbox.pending()).toBe(0);

  await nats.kill();
  store.atomically(() => outbox.enqueue("version.approved", event));
  await outbox.flush();
  expect(outbox.pending()).toBe(1);

  await nats.restart();
  const end = Date.now() + 20_000;
  while (outbox.pending() > 0 && Date.now() < end) await Bun.sleep(100);
  expect(outbox.pending()).toBe(0);
  while (got.length < 2 && Date.now() < end) await Bun.sleep(50);
  expect(got[1]).toEqual(event);
  await outbox.stop();
  store.close();
}, 40_000);
