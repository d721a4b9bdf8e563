/**
 * The fraud pipeline end to end, in the monolith and split over a real nats-server (each module in its own Cleave
 * process): bootstrap the demo model (train, ingest history, push, approve, promote), then score the demo world's
 * live transactions through POST /v1/score. Both placements must give identical decisions for the same seed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bootstrapDemoModel } from "../../src/demo/bootstrap";
import { demoWorld } from "../../src/demo/stream";
import { planOf } from "../../src/ml/demo-plan";
import { auc } from "../../src/ml/metrics";
import { builtinModules } from "../../src/modules/catalog";
import { decisionContract } from "../../src/modules/decision/contract";
import { loadDeployment } from "../../src/runtime/plugins";
import { REPO } from "../harness/child";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { NatsServer } from "../harness/nats-server";

const SEED = 7;
const TRANSACTIONS = 8000;
const LIVE = 1200;
const MODULES = ["ingestion", "feature", "inference", "decision", "registry", "monitoring"];

const { config } = await loadDeployment(`${REPO}/configs/monolith.yaml`, builtinModules);
const modules = structuredClone(config.modules) as Record<string, Record<string, unknown>>;
(modules.decision.pipeline as { bootstrap: unknown }).bootstrap = { enabled: false, seed: SEED, transactions: TRANSACTIONS };
const live = demoWorld(SEED, TRANSACTIONS).live.slice(0, LIVE);

interface Deployment {
  url: string;
  procs: TestProcess[];
  bootstrap(): Promise<number>;
}

async function score(url: string, tx: unknown) {
  return fetch(`${url}/v1/score`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(tx) });
}

async function waitForModel(url: string) {
  const { label: _l, pattern: _p, ...tx } = live[0];
  for (let i = 0; i < 300; i++) {
    const res = await score(url, { ...tx, id: `probe-${i}`, card_id: "card-probe", merchant_id: "merchant-probe", device_id: "device-probe" });
    if (res.status === 200) return;
    await Bun.sleep(100);
  }
  throw new Error("the model was never served");
}

async function scoreLive(url: string): Promise<{ id: string; decision: string; score: number; label: number }[]> {
  const out = [];
  for (const t of live) {
    const { label, pattern: _p, ...tx } = t;
    const res = await score(url, tx);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { decision: string; score: number };
    out.push({ id: tx.id, decision: body.decision, score: body.score, label });
  }
  return out;
}

const decisionsBy: Record<string, Awaited<ReturnType<typeof scoreLive>>> = {};

describe.each(["monolith", "split"] as const)("fraud pipeline: %s", (placement) => {
  let nats: NatsServer | undefined;
  let d: Deployment;

  beforeAll(async () => {
    const plan = planOf(config);
    if (placement === "monolith") {
      const p = await startTestProcess({ placement: "inprocess", modules });
      d = { url: p.url!, procs: [p], bootstrap: () => bootstrapDemoModel(p.bus, { model: "fraud", seed: SEED, transactions: TRANSACTIONS, plan }, p.log) };
    } else {
      nats = await NatsServer.start();
      const procs: TestProcess[] = [];
      for (const m of MODULES) {
        procs.push(await startTestProcess({ placement: "nats", natsUrl: nats.url, modules, local: [m], http: false }));
      }
      const gateway = await startTestProcess({ placement: "nats", natsUrl: nats.url, modules, local: [] });
      procs.push(gateway);
      const registry = procs[MODULES.indexOf("registry")];
      d = { url: gateway.url!, procs, bootstrap: () => bootstrapDemoModel(registry.bus, { model: "fraud", seed: SEED, transactions: TRANSACTIONS, plan }, registry.log) };
    }
  }, 60_000);

  afterAll(async () => {
    for (const p of d?.procs.reverse() ?? []) await p.close();
    await nats?.stop();
  });

  test("before a model is promoted, /v1/score answers 503 with the reason", async () => {
    const { label: _l, pattern: _p, ...tx } = live[0];
    const res = await score(d.url, { ...tx, id: "early" });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toContain('model "fraud"');
  });

  test("bootstrap promotes the demo model and the pipeline serves it", async () => {
    expect(await d.bootstrap()).toBe(1);
    await waitForModel(d.url);
  }, 60_000);

  test("scores live transactions: decisions with reasons, features, model version and trace id", async () => {
    const { label: _l, pattern: _p, ...tx } = live[0];
    const res = await score(d.url, { ...tx, id: "shape-check", card_id: "card-probe", merchant_id: "merchant-probe", device_id: "device-probe" });
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(
      ["decision", "decision_id", "features", "latency_ms", "model", "reasons", "rules_fired", "score", "trace_id"].sort(),
    );
    expect(body.model).toEqual({ name: "fraud", version: "1" });
    expect(Object.keys(body.features as object)).toHaveLength(13);
    expect(body.trace_id).toMatch(/^[0-9a-f]{32}$/);
    decisionsBy[placement] = await scoreLive(d.url);
    // The model ranks the simulator's fraud above legitimate traffic on transactions it never saw.
    const rows = decisionsBy[placement];
    const liveAuc = auc(rows.map((r) => r.score), rows.map((r) => r.label));
    console.log(`${placement}: live AUC ${liveAuc.toFixed(3)} over ${rows.length} transactions, ${rows.filter((r) => r.label === 1).length} fraud`);
    expect(liveAuc).toBeGreaterThan(0.8);
    expect(rows.filter((r) => r.decision !== "approve" && r.label === 1).length).toBeGreaterThan(0);
  }, 60_000);

  test("a transaction missing a required field is a 400 naming the field", async () => {
    const { label: _l, pattern: _p, card_id: _c, ...tx } = live[1];
    const res = await score(d.url, { ...tx, id: "no-card" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain("card_id");
    const wrong = await score(d.url, { ...tx, card_id: live[1].card_id, id: "bad-amount", amount: "lots" });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: string }).error).toContain("amount");
  });

  test("transactions scored at once: each sees exactly those logged before it; a bad or repeated one fails alone", async () => {
    // Sent together, they go through the stages as batches: the answers must be those of one-by-one scoring.
    const { label: _l, pattern: _p, ...tx } = live[3];
    const at = Math.max(...live.map((t) => Number(t.timestamp))) + 60_000;
    const burst = Array.from({ length: 40 }, (_, i) => ({ ...tx, id: `burst-${placement}-${i}`, card_id: `card-burst-${placement}`, timestamp: at }));
    const sent = [...burst, { ...burst[5] }, { ...burst[6], id: `burst-${placement}-bad`, amount: "lots" }];
    const answers = await Promise.all(
      sent.map(async (t) => {
        const res = await score(d.url, t);
        return { status: res.status, ...((await res.json()) as { error?: string; features: Record<string, number> }) };
      }),
    );
    expect(answers.slice(0, 41).map((a) => a.status)).toEqual(new Array(41).fill(200));
    expect(answers[41].status).toBe(400);
    expect(answers[41].error).toContain("amount");
    // Same card, same time: the k-th transaction logged counts at least k (itself and those before it; the log's
    // consumer may have applied later ones already), and none counts more than the 40 there are.
    const counts = answers.slice(0, 40).map((a) => a.features["card.count_1h"]);
    counts.sort((a, b) => a - b).forEach((count, k) => expect(count).toBeGreaterThanOrEqual(k + 1));
    expect(counts[39]).toBe(40);
    // The repeated id is the same transaction: not counted twice.
    expect(answers[40].features["card.count_1h"]).toBeLessThanOrEqual(40);
  });

  test("calls made in the same turn are scored as one batch (cleave_score_batch_size)", async () => {
    const caller = d.procs[d.procs.length - 1].bus; // the gateway's bus in the split deployment
    const { label: _l, pattern: _p, ...tx } = live[4];
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => caller.call(decisionContract, "score", { ...tx, id: `together-${placement}-${i}` })),
    );
    expect(new Set(answers.map((a) => a.decision_id)).size).toBe(20);
    const text = await (await fetch(`${d.url}/metrics?scope=deployment`)).text();
    // Cumulative buckets: some batch held more than 16 transactions, i.e. (nearly) all twenty went together.
    const bucket = (le: string) => Number(new RegExp(`cleave_score_batch_size_bucket\\{[^}]*le="${le.replace("+", "\\+")}"[^}]*\\} (\\d+)`).exec(text)?.[1]);
    expect(bucket("+Inf") - bucket("16")).toBeGreaterThanOrEqual(1);
  });

  test("an override is recorded beside the original decision; an unknown decision is a 404", async () => {
    const { label: _l, pattern: _p, ...tx } = live[2];
    const scored = (await (await score(d.url, { ...tx, id: "override-me" })).json()) as { decision_id: string; decision: string };
    const res = await fetch(`${d.url}/v1/decisions/${scored.decision_id}/override`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ decision: "block", reason: "analyst saw a chargeback" }),
    });
    expect(res.status).toBe(200);
    const record = (await res.json()) as { decision: string; effectiveDecision: string; overrides: unknown[] };
    expect(record.decision).toBe(scored.decision);
    expect(record.effectiveDecision).toBe("block");
    expect(record.overrides).toHaveLength(1);
    const missing = await fetch(`${d.url}/v1/decisions/nope/override`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ decision: "block", reason: "x" }),
    });
    expect(missing.status).toBe(404);
  });
});

describe("placements agree", () => {
  test("the monolith and the split topology give identical decisions and scores for the same seed", () => {
    expect(decisionsBy.monolith).toHaveLength(LIVE);
    expect(decisionsBy.split).toEqual(decisionsBy.monolith);
  });
});
