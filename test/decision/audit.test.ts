/**
 * The audit trail on real SQLite files: group commit (nothing written per request, everything written by stop),
 * early flush at batchSize, retention, and rule reloads under concurrent load with no failed request.
 */
import { describe, expect, test } from "bun:test";
import Database from "better-sqlite3";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditStore, type AuditEntry } from "../../src/modules/decision/audit";
import { decisionContract } from "../../src/modules/decision/contract";
import { createLogger } from "../../src/runtime/log";
import { startTestProcess } from "../harness/deployment";

const input = (i: number, score = 0.3) => ({
  transaction: { id: `tx-${i}`, card_id: `card-${i % 50}`, amount: 10 + i, country: "FR" },
  score,
  model: { name: "fraud", version: "1" },
  features: { "card.count_1h": i % 12 },
});

const countRows = (file: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM decisions").get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe("audit group commit", () => {
  test("decisions are buffered, not written per request, and all reach the file by stop()", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "cleave-audit-"));
    const p = await startTestProcess({
      placement: "inprocess",
      dataDir,
      modules: { decision: { audit: { flushIntervalMs: 600_000, batchSize: 1_000_000 } } },
    });
    const file = join(dataDir, "decision", "decisions.sqlite");
    const ids: string[] = [];
    for (let batch = 0; batch < 20; batch++) {
      const outs = await Promise.all(Array.from({ length: 100 }, (_, i) => p.bus.call(decisionContract, "decide", input(batch * 100 + i))));
      ids.push(...outs.map((o) => o.decisionId));
    }
    expect(countRows(file)).toBe(0);
    await p.close();
    expect(countRows(file)).toBe(2000);
    const db = new Database(file, { readonly: true });
    const row = db.prepare("SELECT * FROM decisions WHERE id = ?").get(ids[1234]) as any;
    db.close();
    expect(JSON.parse(row.tx).id).toBe("tx-1234");
    expect(row.model_version).toBe("1");
    rmSync(dataDir, { recursive: true, force: true });
  });

  // Commits run on a writer thread: a batch is on disk shortly after it is sent, so the counts are polled.
  const rowsReach = async (file: string, n: number) => {
    for (let i = 0; i < 500 && countRows(file) < n; i++) await Bun.sleep(10);
    return countRows(file);
  };

  test("a full batch is committed without waiting for the timer; the rest stays buffered until stop()", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "cleave-audit-"));
    const p = await startTestProcess({
      placement: "inprocess",
      dataDir,
      modules: { decision: { audit: { flushIntervalMs: 600_000, batchSize: 100 } } },
    });
    const file = join(dataDir, "decision", "decisions.sqlite");
    for (let i = 0; i < 250; i++) await p.bus.call(decisionContract, "decide", input(i));
    expect(await rowsReach(file, 200)).toBe(200);
    await Bun.sleep(50);
    expect(countRows(file)).toBe(200);
    await p.close();
    expect(countRows(file)).toBe(250);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("the timer commits a partial batch", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "cleave-audit-"));
    const p = await startTestProcess({
      placement: "inprocess",
      dataDir,
      modules: { decision: { audit: { flushIntervalMs: 50, batchSize: 1_000_000 } } },
    });
    const file = join(dataDir, "decision", "decisions.sqlite");
    for (let i = 0; i < 50; i++) await p.bus.call(decisionContract, "decide", input(i));
    expect(await rowsReach(file, 50)).toBe(50);
    await p.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
});

describe("audit snapshot", () => {
  test("the record holds the input as decided, even if an in-process caller changes its objects afterwards", async () => {
    const p = await startTestProcess({ placement: "inprocess", modules: { decision: { audit: { flushIntervalMs: 600_000 } } } });
    const body = input(7);
    const out = await p.bus.call(decisionContract, "decide", body);
    body.transaction.amount = 999_999;
    body.features["card.count_1h"] = 1234;
    const rec = await p.bus.call(decisionContract, "getDecision", { id: out.decisionId });
    expect(rec.transaction.amount).toBe(17);
    expect(rec.features["card.count_1h"]).toBe(7);
    await p.close();
  });
});

describe("audit backlog", () => {
  test("when records cannot be committed fast enough, decide answers 503 rather than deciding unaudited", async () => {
    // A backlog is made by never committing (huge interval and batch); maxPending caps it.
    const p = await startTestProcess({
      placement: "inprocess",
      modules: { decision: { audit: { flushIntervalMs: 600_000, batchSize: 1_000_000, maxPending: 5 } } },
    });
    const post = () =>
      fetch(`${p.url}/v1/decide`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(input(1)) });
    for (let i = 0; i < 5; i++) expect((await post()).status).toBe(200);
    const refused = await post();
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(((await refused.json()) as { error: string }).error).toContain("audit trail is not keeping up");
    const ready = (await (await fetch(`${p.url}/readyz`)).json()) as { modules: Record<string, { status: string }> };
    expect(ready.modules.decision.status).toBe("degraded");
    await p.close();
  });
});

describe("audit writes that fail", () => {
  test("show in /readyz as degraded, with since when and why, until a retried group commit stores every record", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "cleave-audit-"));
    const p = await startTestProcess({ placement: "inprocess", dataDir, modules: { decision: { audit: { flushIntervalMs: 5 } } } });
    const file = join(dataDir, "decision", "decisions.sqlite");
    const decide = (i: number) =>
      fetch(`${p.url}/v1/decide`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(input(i)) });
    const decision = async () =>
      ((await (await fetch(`${p.url}/readyz`)).json()) as { status: string; modules: Record<string, { status: string; details: any }> });
    const until = async (check: (r: Awaited<ReturnType<typeof decision>>) => boolean) => {
      for (let i = 0; i < 200; i++) {
        const r = await decision();
        if (check(r)) return r;
        await Bun.sleep(25);
      }
      throw new Error("readiness never changed");
    };
    try {
      expect((await decide(1)).status).toBe(200);
      await until((r) => countRows(file) === 1 && r.modules.decision.status === "ok");

      const db = new Database(file);
      db.exec("CREATE TRIGGER refuse BEFORE INSERT ON decisions BEGIN SELECT RAISE(ABORT, 'no room for the record (test)'); END");
      expect((await decide(2)).status).toBe(200); // answered: the record waits in the buffer for a commit
      const failing = await until((r) => r.modules.decision.status === "degraded");
      expect(failing.status).toBe("ready");
      expect(failing.modules.decision.details.auditWritesFailing.error).toContain("no room for the record");
      expect(Date.parse(failing.modules.decision.details.auditWritesFailing.since)).toBeGreaterThan(Date.now() - 60_000);

      db.exec("DROP TRIGGER refuse");
      db.close();
      const recovered = await until((r) => r.modules.decision.status === "ok");
      expect(recovered.modules.decision.details.auditWritesFailing).toBeUndefined();
      expect(countRows(file)).toBe(2);
    } finally {
      await p.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("audit retention", () => {
  const entry = (id: string, at: number): AuditEntry => ({
    id, at, decision: "review", score: 0.7, modelName: "fraud", modelVersion: "1", ruleSetVersion: "v1",
    rulesFired: [], reasons: [], transaction: { id }, features: {}, latencyUs: 5, caller: null, traceId: "t",
  });

  test("records older than retentionDays are deleted at start (in slices), with their overrides; recent ones stay", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "cleave-audit-"));
    mkdirSync(join(dataDir, "decision"));
    const store = new AuditStore(join(dataDir, "decision", "decisions.sqlite"), { flushIntervalMs: 5, batchSize: 10, synchronous: "NORMAL", maxPending: 1000 }, createLogger({ level: "silent", name: "t" }));
    const now = Date.now();
    store.record(entry("old", now - 10 * 86_400_000));
    // More than one purge slice (5000), so the sliced deletion must loop.
    for (let i = 0; i < 12_000; i++) store.record(entry(`old-${i}`, now - 20 * 86_400_000 + i));
    store.record(entry("recent", now - 86_400_000));
    expect(await store.override("old", "block", "fraud confirmed", "ana")).toBe(true);
    await store.close();

    const p = await startTestProcess({ placement: "inprocess", dataDir, modules: { decision: { audit: { retentionDays: 3 } } } });
    expect((await fetch(`${p.url}/v1/decisions/old`)).status).toBe(404);
    expect((await fetch(`${p.url}/v1/decisions/recent`)).status).toBe(200);
    await p.close();
    const db = new Database(join(dataDir, "decision", "decisions.sqlite"), { readonly: true });
    expect((db.prepare("SELECT count(*) AS n FROM overrides").get() as { n: number }).n).toBe(0);
    expect((db.prepare("SELECT count(*) AS n FROM decisions").get() as { n: number }).n).toBe(1);
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
});

describe("rule reload under load", () => {
  test("concurrent decisions while rule sets are swapped (and bad ones refused): no failed request", async () => {
    const p = await startTestProcess({ placement: "inprocess", modules: { decision: {} } });
    const post = (path: string, body: unknown) =>
      fetch(`${p.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const ruleSet = (version: string, threshold: number) => ({
      version,
      rules: [{ id: "band", when: { score: { gte: threshold } }, outcome: "block" }],
    });
    let stop = false;
    const versions = new Set<string>();
    const failures: string[] = [];
    let done = 0;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const res = await post("/v1/decide", input(w * 100_000 + i, 0.5));
        if (res.status !== 200) failures.push(`${res.status} ${await res.text()}`);
        else {
          const out = (await res.json()) as { decision: string; ruleSetVersion: string };
          versions.add(out.ruleSetVersion);
          // Each answer is consistent with the rule set it names: "a" blocks at 0.4, "b" at 0.6.
          const expected = out.ruleSetVersion === "a" ? "block" : out.ruleSetVersion === "b" ? "approve" : out.decision;
          if (out.decision !== expected) failures.push(`${out.ruleSetVersion} → ${out.decision}`);
        }
        done++;
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    let reloads = 0;
    let refused = 0;
    for (let r = 0; r < 40; r++) {
      const res = await post("/v1/decision/rules/reload", { ruleSet: ruleSet(r % 2 ? "b" : "a", r % 2 ? 0.6 : 0.4) });
      if (res.status === 200) reloads++;
      const bad = await post("/v1/decision/rules/reload", { ruleSet: { version: "bad", rules: [{ id: "x", when: { feature: "nope", gt: 1 }, outcome: "block" }] } });
      if (bad.status === 400) refused++;
      await Bun.sleep(5);
    }
    stop = true;
    await Promise.all(workers);
    await p.close();
    expect(failures).toEqual([]);
    expect(reloads).toBe(40);
    expect(refused).toBe(40);
    expect(done).toBeGreaterThan(200);
    expect([...versions].sort()).toEqual(expect.arrayContaining(["a", "b"]));
    expect(versions.has("bad")).toBe(false);
  });
});
