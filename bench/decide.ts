/**
 * Decisions per second of the decision module, in one run: the compiled rule evaluator alone (the floor), then the
 * `decide` operation through the in-process bus with its audit group commit (synchronous NORMAL and FULL) and event
 * publishing, for both policies. Inputs are simulated transactions with their offline features and a demo model's
 * scores. Reports p50/p99 per call (µs) at concurrency 1 and decisions/s at concurrency 64.
 *
 *   bun bench/decide.ts [--seconds 3]
 */
import Database from "better-sqlite3";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { FRAUD_FEATURES } from "../src/ml/feature-names";
import { featureTable } from "../src/ml/dataset";
import { demoFeaturePlan } from "../src/ml/demo-plan";
import { predict, trainGbdt } from "../src/ml/gbdt";
import { decisionContract, type DecideInput } from "../src/modules/decision/contract";
import { compileRuleSet, parseRuleSetText } from "../src/modules/decision/rules";
import { simulate } from "../src/sim/transactions";
import { startTestProcess } from "../test/harness/deployment";
import { closedLoopRate, machine, sequentialLatencies, summarize, table } from "./lib/report";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "3" } } });
const seconds = Number(values.seconds);

const txs = simulate({ seed: 99, transactions: 20_000 });
const features = featureTable(await demoFeaturePlan(), txs, FRAUD_FEATURES);
const featureRow = (t: typeof features, i: number) =>
  Object.fromEntries(FRAUD_FEATURES.map((name, f) => [name, t.values[i * FRAUD_FEATURES.length + f]]));
const model = trainGbdt(features.values, features.labels, features.rows, FRAUD_FEATURES.length, { trees: 30 });
const scores = predict(model, features.values, features.rows);
const inputs: DecideInput[] = txs.map((t, i) => ({
  transaction: { id: t.id, card_id: t.card_id, merchant_id: t.merchant_id, amount: t.amount, country: t.country, device_id: t.device_id, mcc: t.mcc, channel: t.channel },
  score: Math.min(1, Math.max(0, scores[i])),
  model: { name: "fraud", version: "1" },
  features: featureRow(features, i),
}));

const firstMatchText = readFileSync("configs/rules/fraud-rules.yaml", "utf8");
const scoreSum = {
  version: "bench-sum",
  policy: "score-sum",
  thresholds: { review: 50, block: 100 },
  lists: { denied_countries: ["KP", "IR", "SY"] },
  rules: [
    { id: "score-high", when: { score: { gte: 0.9 } }, score: 100 },
    { id: "score-mid", when: { score: { gte: 0.6 } }, score: 50 },
    { id: "deny-country", when: { field: "country", inList: "denied_countries" }, score: 100 },
    { id: "velocity", when: { feature: "card.count_1h", gt: 10 }, score: 40 },
    { id: "testing", when: { all: [{ feature: "card.count_1h", gt: 5 }, { field: "amount", lt: 5 }] }, score: 60 },
    { id: "ato", when: { all: [{ feature: "card.countries_24h", gte: 2 }, { feature: "card.devices_24h", gte: 2 }, { field: "amount", gte: 500 }] }, score: 50 },
    { id: "zscore", when: { feature: "amount_z", gt: 4 }, score: 20 },
    { id: "merchant", when: { feature: "merchant.cards_24h", gt: 50 }, score: 30 },
  ],
};

function evaluatorOnly(raw: unknown): number {
  const rs = compileRuleSet(raw, new Set(FRAUD_FEATURES));
  for (let i = 0; i < 50_000; i++) rs.evaluate(inputs[i % inputs.length]);
  let n = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  while (performance.now() < until) {
    for (let k = 0; k < 1000; k++) rs.evaluate(inputs[n++ % inputs.length]);
  }
  return n / ((performance.now() - started) / 1000);
}

async function throughBus(rules: unknown, synchronous: "NORMAL" | "FULL") {
  const dataDir = mkdtempSync(join(tmpdir(), "cleave-bench-decide-"));
  const p = await startTestProcess({ placement: "inprocess", dataDir, modules: { decision: { rules, audit: { synchronous } } } });
  let next = 0;
  const call = () => p.bus.call(decisionContract, "decide", inputs[next++ % inputs.length]);
  const single = summarize(await sequentialLatencies(call, seconds, 5000), seconds);
  const perSecond = await closedLoopRate(call, 64, seconds);
  const decided = next;
  await p.close();
  const db = new Database(join(dataDir, "decision", "decisions.sqlite"), { readonly: true });
  const audited = (db.prepare("SELECT count(*) AS n FROM decisions").get() as { n: number }).n;
  db.close();
  rmSync(dataDir, { recursive: true, force: true });
  return { single, perSecond, decided, audited };
}

console.log(`decision bench — ${machine()}; ${seconds} s per measurement, ${inputs.length} simulated inputs\n`);
const rows: (string | number)[][] = [];
rows.push(["evaluator only (first-match, example rules)", "-", "-", evaluatorOnly(parseRuleSetText(firstMatchText)), "-"]);
rows.push(["evaluator only (score-sum, 8 rules)", "-", "-", evaluatorOnly(scoreSum), "-"]);
for (const [label, rules, sync] of [
  ["decide via bus, first-match, audit NORMAL", parseRuleSetText(firstMatchText), "NORMAL"],
  ["decide via bus, score-sum, audit NORMAL", scoreSum, "NORMAL"],
  ["decide via bus, first-match, audit FULL", parseRuleSetText(firstMatchText), "FULL"],
] as const) {
  const r = await throughBus(rules, sync);
  if (r.audited !== r.decided) throw new Error(`${label}: ${r.decided} decisions but ${r.audited} audit rows`);
  rows.push([label, r.single.p50, r.single.p99, r.perSecond, `${r.audited} / ${r.decided}`]);
}
console.log(table(["case", "p50 µs (c=1)", "p99 µs (c=1)", "decisions/s (c=64)", "audited / decided"], rows));
