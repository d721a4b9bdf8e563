/**
 * The pipeline's batches and the bootstrap's history ingests meet ingestion's per-call limit
 * (modules.ingestion.maxBatchEvents) even when it is below their own sizes: refused for its size, a batch is split
 * into pieces that fit, and later batches are formed no larger. Before, every transaction of such a batch got 413.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { bootstrapDemoModel } from "../../src/demo/bootstrap";
import { demoWorld } from "../../src/demo/stream";
import { planOf } from "../../src/ml/demo-plan";
import { builtinModules } from "../../src/modules/catalog";
import { decisionContract } from "../../src/modules/decision/contract";
import { loadDeployment } from "../../src/runtime/plugins";
import { REPO } from "../harness/child";
import { startTestProcess, type TestProcess } from "../harness/deployment";

const SEED = 7;
const TRANSACTIONS = 3000;
const LIMIT = 16;

const { config } = await loadDeployment(`${REPO}/configs/monolith.yaml`, builtinModules);
const modules = structuredClone(config.modules) as Record<string, Record<string, unknown>>;
modules.ingestion.maxBatchEvents = LIMIT;
(modules.decision.pipeline as { bootstrap: unknown }).bootstrap = { enabled: false, seed: SEED, transactions: TRANSACTIONS };
let p: TestProcess;

beforeAll(async () => {
  p = await startTestProcess({ placement: "inprocess", modules });
});
afterAll(async () => {
  await p?.close();
});

test("the bootstrap ingests its history in batches ingestion takes", async () => {
  expect(await bootstrapDemoModel(p.bus, { model: "fraud", seed: SEED, transactions: TRANSACTIONS, plan: planOf(config) }, p.log)).toBe(1);
  // The whole history is in the log (it held nothing before): 16 events per call where 5,000 were sent before.
  const stats = (await (await fetch(`${p.url}/v1/events/stats`)).json()) as { head: number };
  expect(stats.head).toBe(demoWorld(SEED, TRANSACTIONS).history.length);
}, 60_000);

test("transactions arriving together beyond the limit are all scored, in batches no larger than it", async () => {
  const { label: _l, pattern: _p, ...tx } = demoWorld(SEED, TRANSACTIONS).live[0];
  const scoreAll = (round: string) =>
    Promise.all(Array.from({ length: 5 * LIMIT }, (_, i) => p.bus.call(decisionContract, "score", { ...tx, id: `${round}-${i}` })));
  for (let i = 0; ; i++) {
    // The model is promoted by the bootstrap; inference may take a moment to load it.
    const first = await scoreAll(`first${i}`).catch((err: Error) => err);
    if (!(first instanceof Error)) break;
    expect(first.message).toContain('model "fraud"');
    if (i > 50) throw first;
    await Bun.sleep(100);
  }
  const before = await batches();
  const answers = await scoreAll("second");
  expect(new Set(answers.map((a) => a.decision_id)).size).toBe(5 * LIMIT);
  // Formed at the limit from the start this time: 5 batches of 16, none larger.
  const after = await batches();
  expect(after.total - before.total).toBe(5);
  expect(after.overLimit - before.overLimit).toBe(0);
});

async function batches(): Promise<{ total: number; overLimit: number }> {
  const text = await (await fetch(`${p.url}/metrics`)).text();
  const bucket = (le: string) => Number(new RegExp(`cleave_score_batch_size_bucket\\{[^}]*le="${le.replace("+", "\\+")}"[^}]*\\} (\\d+)`).exec(text)?.[1]);
  return { total: bucket("+Inf"), overLimit: bucket("+Inf") - bucket(String(LIMIT)) };
}
