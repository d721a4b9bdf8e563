/**
 * The decision module through the real HTTP gateway and bus: decisions with reasons, the audit trail, overrides,
 * 404s, bad input, events, and rule reloads (by API and from the file) with a bad rule set refused.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decisionContract, type DecisionEvent } from "../../src/modules/decision/contract";
import { startTestProcess, type TestProcess } from "../harness/deployment";

const dir = mkdtempSync(join(tmpdir(), "cleave-rules-"));
const rulesFile = join(dir, "rules.yaml");
const rulesV1 = `version: v1
policy: first-match
lists: { denied_countries: [KP] }
rules:
  - { id: deny-country, when: { field: country, inList: denied_countries }, outcome: block }
  - { id: score-block, when: { score: { gte: 0.9 } }, outcome: block }
  - { id: velocity, when: { feature: card.count_1h, gt: 10 }, outcome: review }
  - { id: score-review, when: { score: { gte: 0.6 } }, outcome: review }
`;

export const decideBody = (score: number, over: Record<string, unknown> = {}) => ({
  transaction: { id: "tx-1", card_id: "card-1", merchant_id: "m-1", amount: 42.5, country: "FR" },
  score,
  model: { name: "fraud", version: 3 },
  features: { "card.count_1h": 2, "amount_z": 0.3 },
  ...over,
});

describe("decision module over HTTP", () => {
  let p: TestProcess;
  const post = (path: string, body: unknown) =>
    fetch(`${p.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const alerts: DecisionEvent[] = [];

  beforeAll(async () => {
    writeFileSync(rulesFile, rulesV1);
    p = await startTestProcess({ placement: "serialized", modules: { decision: { rulesFile } } });
    await p.bus.subscribe(decisionContract, "decision.alert", (e) => void alerts.push(e), { group: "test" });
  });
  afterAll(() => p.close());

  test("decide: outcome, the rule that fired with its values, the rule set version; recorded in the audit", async () => {
    const res = await post("/v1/decide", decideBody(0.95));
    expect(res.status).toBe(200);
    const out = (await res.json()) as any;
    expect(out).toMatchObject({ decision: "block", ruleSetVersion: "v1", policy: "first-match", reasons: ["score-block: score = 0.95 ≥ 0.9"] });
    const rec = (await (await fetch(`${p.url}/v1/decisions/${out.decisionId}`)).json()) as any;
    expect(rec).toMatchObject({
      decisionId: out.decisionId,
      decision: "block",
      effectiveDecision: "block",
      score: 0.95,
      model: { name: "fraud", version: "3" },
      ruleSetVersion: "v1",
      features: { "card.count_1h": 2, "amount_z": 0.3 },
      transaction: { id: "tx-1", amount: 42.5 },
      overrides: [],
    });
    expect(rec.rulesFired[0].id).toBe("score-block");
    expect(rec.latencyUs).toBeGreaterThanOrEqual(0);
  });

  test("velocity from the supplied feature; approve when no rule holds; caller identity is recorded", async () => {
    const v = (await (await post("/v1/decide", decideBody(0.1, { features: { "card.count_1h": 14 } }))).json()) as any;
    expect(v.decision).toBe("review");
    expect(v.reasons).toEqual(["velocity: feature card.count_1h = 14 > 10"]);
    const ok = await p.bus.call(decisionContract, "decide", decideBody(0.1) as any, { identity: { id: "legacy-payments", roles: [] } });
    expect(ok.decision).toBe("approve");
    const rec = await p.bus.call(decisionContract, "getDecision", { id: ok.decisionId });
    expect(rec.caller).toBe("legacy-payments");
  });

  test("decision.alert is published for blocks and reviews, not approvals", async () => {
    const before = alerts.length;
    const blocked = (await (await post("/v1/decide", decideBody(0.1, { transaction: { id: "tx-kp", country: "KP" } }))).json()) as any;
    await post("/v1/decide", decideBody(0.05));
    for (let i = 0; i < 100 && !alerts.some((a) => a.decisionId === blocked.decisionId); i++) await Bun.sleep(10);
    const got = alerts.slice(before);
    expect(got.map((a) => a.decisionId)).toEqual([blocked.decisionId]);
    expect(got[0]).toMatchObject({ decision: "block", transactionId: "tx-kp", rulesFired: ["deny-country"] });
  });

  test("overrides are appended; the original decision stays", async () => {
    const out = (await (await post("/v1/decide", decideBody(0.7))).json()) as any;
    expect(out.decision).toBe("review");
    const first = await post(`/v1/decisions/${out.decisionId}/override`, { decision: "approve", reason: "customer confirmed", analyst: "ana" });
    expect(first.status).toBe(200);
    await post(`/v1/decisions/${out.decisionId}/override`, { decision: "block", reason: "chargeback received" });
    const rec = (await (await fetch(`${p.url}/v1/decisions/${out.decisionId}`)).json()) as any;
    expect(rec.decision).toBe("review");
    expect(rec.effectiveDecision).toBe("block");
    expect(rec.overrides.map((o: any) => [o.decision, o.reason, o.analyst])).toEqual([
      ["approve", "customer confirmed", "ana"],
      ["block", "chargeback received", null],
    ]);
  });

  test("unknown decision ids: 404 for reads and overrides", async () => {
    const get = await fetch(`${p.url}/v1/decisions/does-not-exist`);
    expect(get.status).toBe(404);
    expect(((await get.json()) as any).error).toContain('no decision with id "does-not-exist"');
    const ovr = await post("/v1/decisions/does-not-exist/override", { decision: "approve", reason: "x" });
    expect(ovr.status).toBe(404);
  });

  test("bad input: 400 naming the field", async () => {
    const cases: [unknown, string][] = [
      [{ score: 0.5, model: { name: "m", version: 1 } }, "transaction"],
      [decideBody(1.5), "score"],
      [decideBody(0.5, { model: { version: 1 } }), "model.name"],
      [decideBody(0.5, { transaction: { amount: { nested: true } } }), "transaction.amount"],
      [{ ...decideBody(0.5), extra: 1 }, "extra"],
    ];
    for (const [body, field] of cases) {
      const res = await post("/v1/decide", body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error).toContain(`"${field}"`);
    }
    const noReason = await post("/v1/decisions/x/override", { decision: "approve" });
    expect(noReason.status).toBe(400);
    expect(((await noReason.json()) as any).error).toContain('"reason"');
    const badOutcome = await post("/v1/decisions/x/override", { decision: "maybe", reason: "r" });
    expect(badOutcome.status).toBe(400);
  });

  test("reload: a bad rule set is refused with the error located and the current one stays", async () => {
    const bad = await post("/v1/decision/rules/reload", {
      ruleSet: { version: "v-bad", rules: [{ id: "typo", when: { feature: "card.count_1hr", gt: 3 }, outcome: "review" }] },
    });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as any;
    expect(body.error).toContain('rule "typo" at api: rules.0.when.feature: unknown feature "card.count_1hr"');
    expect(body.details.errors[0]).toMatchObject({ rule: "typo", path: "api: rules.0.when.feature" });
    const badText = await post("/v1/decision/rules/reload", { text: "version: 2\nrules: [\n" });
    expect(badText.status).toBe(400);
    expect(((await badText.json()) as any).error).toContain("line");
    expect(((await (await fetch(`${p.url}/v1/decision/rules`)).json()) as any).version).toBe("v1");
  });

  test("reload from the rules file; a broken file is refused and the current set stays", async () => {
    writeFileSync(rulesFile, rulesV1.replace("version: v1", "version: v2").replace("gte: 0.9", "gte: 0.8"));
    const ok = await post("/v1/decision/rules/reload", {});
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as any).version).toBe("v2");
    expect(((await (await post("/v1/decide", decideBody(0.85))).json()) as any).decision).toBe("block");
    writeFileSync(rulesFile, rulesV1.replace("version: v1", "version: v3").replace("outcome: review", "outcome: hold"));
    const refused = await fetch(`${p.url}/v1/decision/rules/reload`, { method: "POST" });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as any).error).toContain(`rule "velocity" at ${rulesFile}: rules.2.outcome`);
    expect(((await (await fetch(`${p.url}/v1/decision/rules`)).json()) as any).version).toBe("v2");
    writeFileSync(rulesFile, rulesV1);
    await post("/v1/decision/rules/reload", {});
  });
});

describe("decision module start-up", () => {
  test("a configured rule set that names an unknown feature stops the start with the rule located", async () => {
    const start = startTestProcess({
      placement: "inprocess",
      modules: {
        decision: {
          features: ["card.count_1h"],
          rules: { version: 1, rules: [{ id: "z", when: { feature: "card.zscore", gt: 3 }, outcome: "review" }] },
        },
      },
    });
    await expect(start).rejects.toThrow('rule "z" at modules.decision.rules: rules.0.when.feature: unknown feature "card.zscore"; known features: card.count_1h');
  });
});

describe("rules file watch", () => {
  test("with watchRulesFile, an edited file is picked up; a broken edit is refused and the current set stays", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "cleave-watch-")), "rules.yaml");
    writeFileSync(file, rulesV1);
    const p = await startTestProcess({ placement: "inprocess", modules: { decision: { rulesFile: file, watchRulesFile: true } } });
    const version = async () => ((await (await fetch(`${p.url}/v1/decision/rules`)).json()) as { version: string }).version;
    try {
      expect(await version()).toBe("v1");
      writeFileSync(file, rulesV1.replace("version: v1", "version: v2"));
      for (let i = 0; i < 100 && (await version()) !== "v2"; i++) await Bun.sleep(20);
      expect(await version()).toBe("v2");
      writeFileSync(file, rulesV1.replace("version: v1", "version: v3").replace("card.count_1h", "card.count_2h"));
      await Bun.sleep(400);
      expect(await version()).toBe("v2");
      // Editors save by writing a new file and renaming it over the old one.
      writeFileSync(`${file}.tmp`, rulesV1.replace("version: v1", "version: v4"));
      renameSync(`${file}.tmp`, file);
      for (let i = 0; i < 100 && (await version()) !== "v4"; i++) await Bun.sleep(20);
      expect(await version()).toBe("v4");
    } finally {
      await p.close();
    }
  });
});
