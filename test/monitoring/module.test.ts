/**
 * The monitoring module through the real HTTP gateway: baseline formats, missing baselines, config refused at
 * start, bad input answered with 4xx, data quality, alert de-duplication and cooldown, SLOs, the event hook and
 * what survives a restart.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Alert, Observation } from "../../src/modules/monitoring/contract";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { baselineFrom, getJson, observation, post, rng, row } from "./simulator";

const SINK = "test/fixtures/plugins/alert-sink.ts";
let procs: TestProcess[] = [];
afterEach(async () => {
  await Promise.all(procs.map((p) => p.close()));
  procs = [];
});

async function start(monitoring: object, extra: Partial<Parameters<typeof startTestProcess>[0]> = {}) {
  const p = await startTestProcess({ placement: "inprocess", modules: { monitoring, alertsink: {} }, plugins: [SINK], ...extra });
  procs.push(p);
  return p;
}

const alerts = async (p: TestProcess): Promise<Alert[]> => (await getJson(`${p.url}/v1/monitoring/alerts`)).alerts;
const observe = (p: TestProcess, observations: Observation[]) => post(`${p.url}/v1/monitoring/observations`, { observations });
const stable = (n: number, seed = 3) => {
  const r = rng(seed);
  return Array.from({ length: n }, () => row(r));
};

describe("baselines", () => {
  test("a summary baseline (quantiles + category counts) gives a drift verdict like raw samples do", async () => {
    const p = await start({ drift: { evaluateEvery: 100, evaluateIntervalMs: 0 } });
    const ref = stable(2000);
    const sorted = ref.map((x) => x.amount).sort((a, b) => a - b);
    const quantiles = Array.from({ length: 101 }, (_, i) => sorted[Math.round((i / 100) * (sorted.length - 1))]);
    const counts: Record<string, number> = {};
    for (const x of ref) counts[x.channel] = (counts[x.channel] ?? 0) + 1;
    const res = await post(`${p.url}/v1/monitoring/baselines/credit/2`, {
      features: { amount: { type: "numeric", quantiles, count: 2000 }, channel: { type: "categorical", counts } },
    }, "PUT");
    expect(res.status).toBe(200);
    const r = rng(99);
    await observe(p, Array.from({ length: 500 }, (_, i) => observation(row(r, { amount: 150 }), `s${i}`, "credit", "2")));
    const report = (await getJson(`${p.url}/v1/monitoring/drift?model=credit&version=2`)).reports[0];
    // 2000 reference rows > 1000: Evidently's large-reference defaults (Wasserstein for numeric, JS for categorical).
    expect(report.features.map((f: any) => [f.feature, f.test, f.drifted])).toEqual([
      ["amount", "wasserstein", true],
      ["channel", "jensenshannon", false],
    ]);
    expect(report.features[0].referenceSize).toBe(2000);
    expect(report.features[0].bins.labels.length).toBeGreaterThan(5);
  });

  test("no baseline for a version: drift and quality say so, observing still works, nothing alerts", async () => {
    const p = await start({ drift: { evaluateEvery: 10, evaluateIntervalMs: 0, minObservations: 10 } });
    const res = await observe(p, stable(50).map((x, i) => observation(x, `n${i}`, "credit", "7")));
    expect(res.status).toBe(200);
    expect(res.body.evaluated).toEqual(["credit@7"]);
    const drift = (await getJson(`${p.url}/v1/monitoring/drift?model=credit&version=7`)).reports[0];
    expect(drift.status).toBe("no_baseline");
    expect((await getJson(`${p.url}/v1/monitoring/quality?model=credit&version=7`)).reports[0].status).toBe("no_baseline");
    expect((await getJson(`${p.url}/v1/monitoring/drift?model=other&version=1`)).reports[0].status).toBe("no_baseline");
    expect(await alerts(p)).toEqual([]);
  });

  test("a missing baseline is fetched from the configured source (the registry's lookup operation)", async () => {
    const p = await start({ baselineSource: { module: "alertsink", operation: "getBaseline", retrySeconds: 1 }, drift: { evaluateEvery: 1000, evaluateIntervalMs: 0 } });
    await p.bus.call("alertsink", "storeBaseline", baselineFrom(stable(300), "credit", "5"));
    const r = rng(21);
    for (const version of ["5", "6"]) {
      await observe(p, Array.from({ length: 150 }, (_, i) => observation(row(r), `b${version}-${i}`, "credit", version)));
    }
    await observe(p, Array.from({ length: 150 }, (_, i) => observation(row(r), `x${i}`, "broken", "1")));
    expect((await getJson(`${p.url}/v1/monitoring/drift?model=credit&version=5`)).reports[0].status).toBe("ok");
    // Unknown to the source, or the source failing: "no baseline", and observing goes on.
    expect((await getJson(`${p.url}/v1/monitoring/drift?model=credit&version=6`)).reports[0].status).toBe("no_baseline");
    expect((await getJson(`${p.url}/v1/monitoring/drift?model=broken`)).reports[0].status).toBe("no_baseline");
    expect((await observe(p, [observation(row(r), "late", "broken", "1")])).status).toBe(200);
    // Stored later at the source: found on the next ask once retrySeconds has passed.
    await p.bus.call("alertsink", "storeBaseline", baselineFrom(stable(300), "credit", "6"));
    await Bun.sleep(1100);
    expect((await getJson(`${p.url}/v1/monitoring/drift?model=credit&version=6`)).reports[0].status).toBe("ok");
  });

  test("baselines and labels survive a restart", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "cleave-mon-"));
    try {
      const p1 = await start({}, { dataDir });
      await post(`${p1.url}/v1/monitoring/baselines/credit/1`, baselineFrom(stable(300)), "PUT");
      await observe(p1, stable(20).map((x, i) => observation(x, `r${i}`)));
      await post(`${p1.url}/v1/labels`, { labels: [{ decisionId: "r1", label: 1 }, { decisionId: "r2", label: 0 }] });
      await p1.close();
      procs = [];
      const p2 = await start({ drift: { minObservations: 10 } }, { dataDir });
      await observe(p2, stable(30, 4).map((x, i) => observation(x, `q${i}`)));
      expect((await getJson(`${p2.url}/v1/monitoring/drift?model=credit&version=1`)).reports[0].status).toBe("ok");
      expect((await getJson(`${p2.url}/v1/monitoring/accuracy?model=credit&version=1`)).versions[0].labelled).toBe(2);
      // Predictions were stored too: a label arriving after the restart still finds its decision.
      expect((await post(`${p2.url}/v1/labels`, { labels: [{ decisionId: "r3", label: 1 }] })).body.matched).toBe(1);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("config refused at start, naming the key", () => {
  const refused = async (monitoring: object) => {
    try {
      await start(monitoring);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error("start should have been refused");
  };
  const models = { credit: { features: { amount: "numeric", channel: "categorical" } } };

  test("a drift override naming an unknown feature", async () => {
    const msg = await refused({ models, drift: { features: { "credit.amont": { test: "psi", threshold: 0.2 } } } });
    expect(msg).toContain("modules.monitoring.drift.features.credit.amont");
    expect(msg).toContain('unknown feature "amont"');
  });
  test("a drift override naming an undeclared model", async () => {
    expect(await refused({ drift: { features: { "fraud.amount": { test: "psi", threshold: 0.2 } } } })).toContain(
      'model "fraud" is not declared',
    );
  });
  test("an unknown test", async () => {
    const msg = await refused({ models, drift: { features: { "credit.amount": { test: "chi2", threshold: 0.2 } } } });
    expect(msg).toContain("modules.monitoring.drift.features.credit.amount.test");
  });
  test("a numeric-only test on a categorical feature", async () => {
    expect(await refused({ models, drift: { features: { "credit.channel": { test: "ks", threshold: 0.05 } } } })).toContain(
      '"channel" is categorical',
    );
  });
});

describe("bad input gets a 4xx naming the problem", () => {
  test.each([
    ["observe without version", "/v1/monitoring/observations", { observations: [{ model: "m", features: {} }] }, "observations.0.version"],
    ["observe with an empty batch", "/v1/monitoring/observations", { observations: [] }, "observations"],
    ["observe with a bad timestamp", "/v1/monitoring/observations", { observations: [{ model: "m", version: "1", features: {}, ts: "yesterday" }] }, "observations.0.ts"],
    ["observe with an object as a feature value", "/v1/monitoring/observations", { observations: [{ model: "m", version: "1", features: { a: { b: 1 } } }] }, "observations.0.features.a"],
    ["labels with a label of 2", "/v1/labels", { labels: [{ decisionId: "x", label: 2 }] }, "labels.0.label"],
    ["labels missing", "/v1/labels", {}, "labels"],
  ])("%s", async (_, path, body, field) => {
    const p = procs[0] ?? (await start({}));
    const res = await post(`${p.url}${path}`, body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("INVALID_ARGUMENT");
    expect(res.body.error).toContain(field);
  });

  test("a baseline of an unknown type, a query without model, malformed JSON", async () => {
    const p = await start({});
    let res = await post(`${p.url}/v1/monitoring/baselines/m/1`, { features: { a: { type: "text", values: ["x"] } } }, "PUT");
    expect(res.status).toBe(400);
    expect(res.body.error).toContain("features.a");
    const drift = await fetch(`${p.url}/v1/monitoring/drift`);
    expect(drift.status).toBe(400);
    expect(((await drift.json()) as any).error).toContain("model");
    const bad = await fetch(`${p.url}/v1/labels`, { method: "POST", body: "{not json", headers: { "content-type": "application/json" } });
    expect(bad.status).toBe(400);
    res = await post(`${p.url}/v1/labels`, { labels: [{ label: 1 }, { eventId: "nobody", label: true }] });
    expect(res.body).toEqual({ matched: 0, unknown: 1, unknownIds: ["nobody"], invalid: 1 });
  });
});

describe("data quality", () => {
  test("missing values, out-of-range values, new categories, wrong types and unknown features alert per check", async () => {
    const p = await start({ drift: { evaluateEvery: 100, evaluateIntervalMs: 0, minObservations: 50 } });
    const reference = stable(500);
    await post(`${p.url}/v1/monitoring/baselines/credit/1`, baselineFrom(reference), "PUT");
    const r = rng(5);
    const obs = Array.from({ length: 100 }, (_, i) => {
      const o = observation(row(r), `q${i}`);
      if (i % 4 === 0) o.features.age = null; // 25 % missing
      if (i % 10 === 0) o.features.amount = 1e6; // 10 % out of range
      if (i % 5 === 0) o.features.channel = "kiosk"; // 20 % new
      if (i === 7) o.features.amount = "lots"; // wrong type
      if (i % 2 === 0) o.features.extra = 1; // not in the baseline
      return o;
    });
    expect((await observe(p, obs)).status).toBe(200);
    const q = (await getJson(`${p.url}/v1/monitoring/quality?model=credit`)).reports[0];
    const by = Object.fromEntries(q.features.map((f: any) => [f.feature, f]));
    expect(by.age.missingRate).toBe(0.25);
    // Out of range: the 10 planted values plus any the simulator drew beyond the reference's own min/max.
    const min = Math.min(...reference.map((x) => x.amount));
    const max = Math.max(...reference.map((x) => x.amount));
    const numeric = obs.map((o) => o.features.amount).filter((v): v is number => typeof v === "number");
    expect(numeric).toHaveLength(99);
    expect(by.amount.outOfRangeRate).toBeCloseTo(numeric.filter((v) => v < min || v > max).length / 99, 12);
    expect(by.amount.outOfRangeRate).toBeGreaterThanOrEqual(10 / 99);
    expect(by.amount.schemaViolations).toBe(1);
    expect(by.channel.newCategoryRate).toBe(0.2);
    expect(by.channel.newCategories).toEqual(["kiosk"]);
    expect(by.extra.unknownFeature).toBe(true);
    const quality = (await alerts(p)).filter((a) => a.kind === "quality").map((a) => `${a.feature}:${a.check}`);
    expect(quality.sort()).toEqual(["age:missing", "amount:out_of_range", "amount:schema", "channel:new_category", "extra:schema"]);
    const metrics = await (await fetch(`${p.url}/metrics`)).text();
    expect(metrics).toMatch(/cleave_monitoring_missing_rate\{model="credit",version="1",feature="age",[^}]*\} 0\.25\n/);
  });
});

describe("alerts", () => {
  test("de-duplicated while active, re-sent after the cooldown", async () => {
    const p = await start({ drift: { evaluateEvery: 50, evaluateIntervalMs: 0, minObservations: 50 }, alerts: { cooldownSeconds: 1 } });
    await post(`${p.url}/v1/monitoring/baselines/credit/1`, baselineFrom(stable(500)), "PUT");
    const r = rng(8);
    const shifted = () => Array.from({ length: 50 }, (_, i) => observation(row(r, { amount: 300 }), `c${i}`));
    for (let i = 0; i < 4; i++) await observe(p, shifted());
    expect((await alerts(p)).filter((a) => a.kind === "drift" && a.feature === "amount")).toHaveLength(1);
    expect(await (await fetch(`${p.url}/metrics`)).text()).toMatch(/cleave_monitoring_alerts_suppressed_total\{kind="drift",[^}]*\} 3\n/);
    await Bun.sleep(1100);
    await observe(p, shifted());
    expect((await alerts(p)).filter((a) => a.kind === "drift" && a.feature === "amount")).toHaveLength(2);
  });

  test("latency and error SLO breaches", async () => {
    const p = await start({ slo: { latencyP95Ms: 50, errorRate: 0.1, windowSeconds: 60, minRequests: 20 } });
    const r = rng(9);
    const obs = Array.from({ length: 40 }, (_, i) => ({ ...observation(row(r), `l${i}`), latencyMs: i < 30 ? 5 : 200, error: i % 5 === 0 }));
    await observe(p, obs);
    const slo = (await alerts(p)).filter((a) => a.kind.startsWith("slo_"));
    expect(slo.map((a) => a.kind).sort()).toEqual(["slo_error", "slo_latency"]);
    expect(slo.find((a) => a.kind === "slo_error")!.value).toBe(0.2);
  });

  test("observations arriving as another module's events (the subscription hook)", async () => {
    const p = await start({ subscribe: [{ module: "alertsink", event: "scored" }], drift: { evaluateEvery: 1000, evaluateIntervalMs: 0 } });
    const r = rng(10);
    await p.bus.call("alertsink", "emit", { payload: observation(row(r), "ev1") });
    await p.bus.call("alertsink", "emit", { payload: { observations: [observation(row(r), "ev2"), observation(row(r), "ev3")] } });
    await p.bus.call("alertsink", "emit", { payload: { not: "an observation" } }); // skipped, logged
    const deadline = Date.now() + 2000;
    let observed = 0;
    while (Date.now() < deadline && observed < 3) {
      observed = (await getJson(`${p.url}/v1/monitoring/summary?model=credit`)).data.models[0]?.observed ?? 0;
      await Bun.sleep(20);
    }
    expect(observed).toBe(3);
  });
});
