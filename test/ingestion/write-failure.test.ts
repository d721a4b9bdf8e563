/**
 * A log that cannot write (a full disk, a broken file) shows in `/readyz`: ingestion turns "degraded" with since when
 * and why, the deployment stays ready (reads still work), and the first write that succeeds again clears it.
 * Real SQLite file; the failure is a trigger another connection adds, as a full disk cannot be made on demand here.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import Database from "better-sqlite3";
import { join } from "node:path";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { eventTypes } from "../features/config";

let proc: TestProcess;
beforeAll(async () => {
  proc = await startTestProcess({ placement: "inprocess", modules: { ingestion: { eventTypes } } });
});
afterAll(() => proc.close());

const post = (i: number) =>
  fetch(`${proc.url}/v1/events`, {
    method: "POST",
    body: JSON.stringify({ id: `w-${i}`, type: "transaction", timestamp: Date.now(), data: { card: "c1", customer: "u1", merchant: "m1", amount: 1 } }),
  });
const ingestionHealth = async () => {
  const res = await fetch(`${proc.url}/readyz`);
  const body = (await res.json()) as { status: string; modules: Record<string, { status: string; details: any }> };
  return { http: res.status, ready: body.status, ...body.modules.ingestion };
};

test("failing writes make ingestion degraded in /readyz until one succeeds again", async () => {
  expect((await post(1)).status).toBe(200);
  expect(await ingestionHealth()).toMatchObject({ http: 200, ready: "ready", status: "ok" });

  const db = new Database(join(proc.dataDir, "ingestion", "log.sqlite"));
  db.exec("CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'no room for the event (test)'); END");
  const refused = await post(2);
  expect(refused.status).toBeGreaterThanOrEqual(500);
  const failing = await ingestionHealth();
  expect(failing).toMatchObject({ http: 200, ready: "ready", status: "degraded" });
  expect(failing.details.writesFailing.error).toContain("no room for the event");
  const since = failing.details.writesFailing.since;
  expect(Date.parse(since)).toBeGreaterThan(Date.now() - 60_000);

  // Failing again keeps the time it started failing.
  expect((await post(3)).status).toBeGreaterThanOrEqual(500);
  expect((await ingestionHealth()).details.writesFailing.since).toBe(since);

  db.exec("DROP TRIGGER refuse");
  db.close();
  expect((await post(4)).status).toBe(200);
  const recovered = await ingestionHealth();
  expect(recovered).toMatchObject({ ready: "ready", status: "ok" });
  expect(recovered.details.writesFailing).toBeUndefined();
});
