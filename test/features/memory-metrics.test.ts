/**
 * `/metrics` shows what the feature module's cached states hold, per entity: how many states, how many events in
 * all, and the largest state's events (a hot entity's state grows with its traffic). Real HTTP, real SQLite.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { modules } from "./config";

let proc: TestProcess;
beforeAll(async () => {
  proc = await startTestProcess({ placement: "inprocess", modules });
});
afterAll(() => proc.close());

/** A gauge's value for one entity (the process's own labels, deployment and process, follow `entity`). */
const gauge = (text: string, name: string, entity: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{entity="${entity}",`));
  return line === undefined ? undefined : Number(line.split(" ").pop());
};

test("per entity: states cached, events held, and the largest state's events", async () => {
  const at = Date.now() - 60_000;
  const tx = (i: number, card: string, merchant: string) => ({
    id: `mem-${i}`, type: "transaction", timestamp: at + i, data: { card, customer: "u1", merchant, amount: 5 },
  });
  // c1: 3 events, c2: 1; one customer with all 4; merchants m1 with 3, m2 with 1.
  const events = [tx(1, "c1", "m1"), tx(2, "c1", "m1"), tx(3, "c1", "m2"), tx(4, "c2", "m1")];
  const ingested = await fetch(`${proc.url}/v1/events`, { method: "POST", body: JSON.stringify(events) });
  const seqs = ((await ingested.json()) as { seqs: number[] }).seqs;
  // A read that waits for the last event to be applied.
  const read = await fetch(`${proc.url}/v1/features`, { method: "POST", body: JSON.stringify({ entities: { card: "c1" }, minSeq: Math.max(...seqs) }) });
  expect(read.status).toBe(200);

  const text = await (await fetch(`${proc.url}/metrics`)).text();
  expect(gauge(text, "cleave_feature_cached_entities", "card")).toBe(2);
  expect(gauge(text, "cleave_feature_cached_events", "card")).toBe(4);
  expect(gauge(text, "cleave_feature_largest_state_events", "card")).toBe(3);
  expect(gauge(text, "cleave_feature_cached_entities", "customer")).toBe(1);
  expect(gauge(text, "cleave_feature_largest_state_events", "customer")).toBe(4);
  expect(gauge(text, "cleave_feature_cached_events", "merchant")).toBe(4);
  expect(gauge(text, "cleave_feature_largest_state_events", "merchant")).toBe(3);
});
