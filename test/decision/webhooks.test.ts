/**
 * Webhooks against real local HTTP servers: one that succeeds, one that fails a few times then succeeds, one that
 * always fails (dead letter after maxAttempts) and one that hangs (bounded by the timeout, never slowing decisions).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decisionContract } from "../../src/modules/decision/contract";
import { startTestProcess, type TestProcess } from "../harness/deployment";

interface Received {
  event: string;
  id: string;
  payload: { decisionId: string; decision: string };
}

function receiver(behaviour: (attempt: number) => "ok" | "fail" | "hang") {
  const received: Received[] = [];
  const attempts = new Map<string, number>();
  const server = Bun.serve({
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const body = (await req.json()) as Received;
      const n = (attempts.get(body.id) ?? 0) + 1;
      attempts.set(body.id, n);
      const what = behaviour(n);
      if (what === "hang") return new Promise<Response>(() => {});
      if (what === "fail") return new Response("nope", { status: 500 });
      received.push(body);
      return new Response("ok");
    },
  });
  return { url: `http://127.0.0.1:${server.port}/hook`, received, attempts, stop: () => server.stop(true) };
}

async function until(cond: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(10);
  }
}

const decide = (p: TestProcess, score: number, id: string) =>
  p.bus.call(decisionContract, "decide", {
    transaction: { id, amount: 10, country: "FR" },
    score,
    model: { name: "fraud", version: "1" },
    features: {},
  });

describe("decision webhooks", () => {
  const ok = receiver(() => "ok");
  const flaky = receiver((n) => (n < 3 ? "fail" : "ok"));
  const broken = receiver(() => "fail");
  const hanging = receiver(() => "hang");
  let p: TestProcess;

  beforeAll(async () => {
    p = await startTestProcess({
      placement: "inprocess",
      modules: {
        decision: {
          rules: { version: "w1", rules: [{ id: "band", when: { score: { gte: 0.6 } }, outcome: "review" }] },
          webhooks: [
            { url: ok.url, events: ["decision.made"] },
            { url: flaky.url, events: ["decision.alert"], maxAttempts: 4, backoffMs: 20 },
            { url: broken.url, events: ["decision.alert"], maxAttempts: 3, backoffMs: 10 },
            { url: hanging.url, events: ["decision.alert"], timeoutMs: 150, maxAttempts: 2, backoffMs: 10 },
          ],
        },
      },
    });
  });
  afterAll(async () => {
    await p.close();
    for (const r of [ok, flaky, broken, hanging]) r.stop();
  });

  test("a hanging and a failing webhook never slow decisions down", async () => {
    const started = performance.now();
    for (let i = 0; i < 20; i++) await decide(p, 0.9, `slow-${i}`);
    // Coarse: 20 decisions take milliseconds; a blocking webhook would take ≥ 20 × 150 ms.
    expect(performance.now() - started).toBeLessThan(1500);
  });

  test("delivery to a working receiver carries the event and the decision", async () => {
    const out = await decide(p, 0.1, "tx-ok");
    await until(() => ok.received.some((r) => r.id === out.decisionId));
    const got = ok.received.find((r) => r.id === out.decisionId)!;
    expect(got.event).toBe("decision.made");
    expect(got.payload).toMatchObject({ decisionId: out.decisionId, decision: "approve" });
    expect(flaky.attempts.has(out.decisionId)).toBe(false); // approvals are not alerts
  });

  test("a receiver failing twice gets the event on the third attempt; no dead letter", async () => {
    const out = await decide(p, 0.7, "tx-flaky");
    await until(() => flaky.received.some((r) => r.id === out.decisionId));
    expect(flaky.attempts.get(out.decisionId)).toBe(3);
  });

  test("a receiver that keeps failing, and one that hangs: dead letters after maxAttempts", async () => {
    const out = await decide(p, 0.8, "tx-dead");
    type Dead = { url: string; event: string; attempts: number; error: string; payload: { decisionId: string } };
    let dead: Dead[] = [];
    const mine = async () => {
      const res = await fetch(`${p.url}/v1/decision/dead-letters?limit=1000`);
      dead = ((await res.json()) as Dead[]).filter((d) => d.payload.decisionId === out.decisionId);
      return dead;
    };
    const end = Date.now() + 5000;
    while ((await mine()).length < 2 && Date.now() < end) await Bun.sleep(20);
    const byUrl = Object.fromEntries(dead.map((d) => [d.url, d]));
    expect(byUrl[broken.url]).toMatchObject({ event: "decision.alert", attempts: 3, error: "HTTP 500" });
    expect(byUrl[hanging.url]).toMatchObject({ event: "decision.alert", attempts: 2, error: "timed out after 150 ms" });
    expect(broken.attempts.get(out.decisionId)).toBe(3);
    expect(ok.received.some((r) => r.id === out.decisionId)).toBe(true);
    expect(dead.some((d) => d.url === flaky.url || d.url === ok.url)).toBe(false);
  });

  test("dead-letters route: a bad limit is a 400", async () => {
    expect((await fetch(`${p.url}/v1/decision/dead-letters?limit=0`)).status).toBe(400);
    expect((await fetch(`${p.url}/v1/decision/dead-letters?limit=abc`)).status).toBe(400);
  });
});

describe("webhooks at shutdown", () => {
  test("a delivery stuck on a hanging receiver does not hold up stop(), and is dead-lettered", async () => {
    const hanging = receiver(() => "hang");
    const dataDir = mkdtempSync(join(tmpdir(), "cleave-hooks-"));
    const p = await startTestProcess({
      placement: "inprocess",
      dataDir,
      modules: { decision: { webhooks: [{ url: hanging.url, events: ["decision.made"], timeoutMs: 60_000 }] } },
    });
    const out = await decide(p, 0.1, "tx-shutdown");
    await until(() => hanging.attempts.has(out.decisionId));
    const started = performance.now();
    await p.close();
    expect(performance.now() - started).toBeLessThan(5000);
    hanging.stop();
    const db = new Database(join(dataDir, "decision", "decisions.sqlite"), { readonly: true });
    const rows = db.prepare("SELECT url, event, error FROM dead_letters").all() as { url: string; event: string; error: string }[];
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ url: hanging.url, event: "decision.made" });
    expect(rows[0].error).toStartWith("not delivered before shutdown");
  });
});
