/**
 * The decision module in its own process behind a gateway process, over a real nats-server: decisions, audit reads,
 * 404s, refused rule sets and decision.alert events cross processes the same as in one.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decisionContract, type DecisionEvent } from "../../src/modules/decision/contract";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { NatsServer } from "../harness/nats-server";

describe("decision over NATS", () => {
  let nats: NatsServer;
  let worker: TestProcess;
  let gateway: TestProcess;
  const alerts: DecisionEvent[] = [];
  const modules = { decision: {} };
  const post = (path: string, body: unknown) =>
    fetch(`${gateway.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  beforeAll(async () => {
    nats = await NatsServer.start();
    worker = await startTestProcess({ placement: "nats", natsUrl: nats.url, modules, local: ["decision"], http: false });
    gateway = await startTestProcess({ placement: "nats", natsUrl: nats.url, modules, local: [] });
    await gateway.bus.subscribe(decisionContract, "decision.alert", (e) => void alerts.push(e), { group: "split-test" });
  });
  afterAll(async () => {
    await gateway.close();
    await worker.close();
    await nats.stop();
  });

  test("decide through the gateway; the audit record and the alert come back across processes", async () => {
    const res = await post("/v1/decide", {
      transaction: { id: "tx-n1", card_id: "card-1", amount: 3, country: "FR" },
      score: 0.2,
      model: { name: "fraud", version: 2 },
      features: { "card.count_1h": 9 },
    });
    expect(res.status).toBe(200);
    const out = (await res.json()) as { decisionId: string; decision: string; rulesFired: { id: string }[] };
    expect(out.decision).toBe("block");
    expect(out.rulesFired[0].id).toBe("card-testing-burst");
    const rec = await fetch(`${gateway.url}/v1/decisions/${out.decisionId}`);
    expect(rec.status).toBe(200);
    expect(((await rec.json()) as { features: unknown }).features).toEqual({ "card.count_1h": 9 });
    for (let i = 0; i < 200 && !alerts.some((a) => a.decisionId === out.decisionId); i++) await Bun.sleep(10);
    expect(alerts.find((a) => a.decisionId === out.decisionId)).toMatchObject({ decision: "block", transactionId: "tx-n1" });
  });

  test("404 and refused rule sets keep their status across processes", async () => {
    expect((await fetch(`${gateway.url}/v1/decisions/nope`)).status).toBe(404);
    const bad = await post("/v1/decision/rules/reload", { ruleSet: { version: 1, rules: [{ id: "r", when: { feature: "x", gt: 1 }, outcome: "block" }] } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { details: { errors: { path: string }[] } }).details.errors[0].path).toBe("api: rules.0.when.feature");
  });
});
