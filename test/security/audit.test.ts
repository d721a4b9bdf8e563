/**
 * The audit log through the real gateway and the real CLI: writes, refusals and their identities are recorded;
 * `cleave audit verify` passes an intact chain and exits 1 naming the record when one is edited or deleted;
 * retention removes old records and the chain still verifies from its anchor.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { createLogger } from "../../src/runtime/log";
import { AuditLog, auditPath, chainHash, readAuditRecords, verifyAuditChain } from "../../src/runtime/security/audit";
import { Child, writeConfig } from "../harness/child";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { bearer, seedKeys } from "./helpers";

/** What an attacker with the file would do: unpack each stored group of records, change it, pack it back. */
function editStoredText(file: string, edit: (text: string) => string) {
  const db = new Database(file);
  for (const { first_seq, packed } of db.query("SELECT first_seq, packed FROM audit_block").all() as { first_seq: number; packed: Uint8Array }[]) {
    const text = Bun.zstdDecompressSync(packed).toString();
    db.run("UPDATE audit_block SET packed = ? WHERE first_seq = ?", [Bun.zstdCompressSync(edit(text)), first_seq]);
  }
  db.close();
}

async function cli(args: string[]) {
  const child = new Child(args);
  const code = await child.exit();
  return { code, out: child.stdout };
}

describe("audit log", () => {
  let p: TestProcess;
  let dataDir: string;
  let configFile: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "cleave-audit-"));
    const keys = seedKeys(dataDir, { ops: ["admin"], nobody: [] });
    const auth = { mode: "on", rules: [] };
    configFile = writeConfig({ dataDir, modules: { decision: {} }, auth });
    p = await startTestProcess({ placement: "inprocess", modules: { decision: {} }, dataDir, extra: { auth, audit: { flushIntervalMs: 5 } } });
    const post = (headers: Record<string, string>, body: unknown) =>
      fetch(`${p.url}/v1/decision/rules/reload`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) });
    await post(bearer(keys.ops), {});
    await post(bearer(keys.nobody), {});
    await post({}, {});
    await fetch(`${p.url}/v1/decision/rules`, { headers: bearer(keys.ops) }); // a successful read: not audited by default
    await Bun.sleep(50);
  });
  afterAll(() => p.close());

  test("records identity, route, operation and outcome of writes and refusals", () => {
    const records = readAuditRecords(auditPath(dataDir)).map((r) => JSON.parse(r.record));
    expect(records.map((r) => [r.identity, r.operation, r.status])).toEqual([
      ["key:ops", "decision.reloadRules", 200],
      ["key:nobody", "decision.reloadRules", 403],
      ["anonymous", "decision.reloadRules", 401],
    ]);
    expect(records[0].route).toBe("/v1/decision/rules/reload");
  });

  test("cleave audit verify: intact chain passes; an edited record fails at that record", async () => {
    const ok = await cli(["audit", "verify", "--config", configFile]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("ok: 3 records");
    editStoredText(auditPath(dataDir), (text) => text.replace('"status":403', '"status":200'));
    const broken = await cli(["audit", "verify", "--config", configFile]);
    expect(broken.code).toBe(1);
    expect(broken.out).toContain("BROKEN at record 2: content does not match its hash (edited)");
  });
});

describe("cleave auth keys", () => {
  test("create prints a working key once; list never shows it; revoke takes effect within a second", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "cleave-keys-"));
    const auth = { mode: "on", apiKeys: { bootstrap: false } };
    const configFile = writeConfig({ dataDir, modules: { registry: {} }, auth });
    const p = await startTestProcess({ placement: "inprocess", modules: { registry: {} }, dataDir, extra: { auth } });
    try {
      const created = await cli(["auth", "keys", "create", "--config", configFile, "--name", "ci", "--roles", "admin"]);
      expect(created.code).toBe(0);
      const key = created.out.trim();
      expect(key).toMatch(/^clv_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
      expect((await fetch(`${p.url}/v1/registry/models`, { headers: bearer(key) })).status).toBe(200);
      const listed = await cli(["auth", "keys", "list", "--config", configFile, "--json"]);
      expect(JSON.parse(listed.out)).toMatchObject([{ name: "ci", roles: ["admin"], revokedAt: null }]);
      expect(listed.out).not.toContain(key.slice(key.indexOf("_", 4) + 1));
      expect((await cli(["auth", "keys", "revoke", "--config", configFile, "ci"])).code).toBe(0);
      await Bun.sleep(1100);
      expect((await fetch(`${p.url}/v1/registry/models`, { headers: bearer(key) })).status).toBe(401);
      expect((await cli(["auth", "keys", "revoke", "--config", configFile, "ci"])).code).toBe(1);
    } finally {
      await p.close();
    }
  });
});

describe("audit chain", () => {
  const log = createLogger({ level: "silent" });

  test("string fields a caller controls are clipped, so nobody can bloat the log", () => {
    const file = join(mkdtempSync(join(tmpdir(), "cleave-chain-")), "audit.db");
    const a = new AuditLog(file, { flushIntervalMs: 1000, retentionDays: 1, log });
    a.append({ identity: "u", method: "POST", route: "/r", operation: "m.op", status: 400, outcome: "INVALID_ARGUMENT", model: "m".repeat(100_000), requestId: "r" });
    a.close();
    const [stored] = readAuditRecords(file);
    expect(JSON.parse(stored.record).model).toBe(`${"m".repeat(256)}…`);
    expect(verifyAuditChain(file).ok).toBe(true);
  });

  test("a group stored as plain text (before compression) still verifies, and the chain continues after it", () => {
    const file = join(mkdtempSync(join(tmpdir(), "cleave-chain-")), "audit.db");
    new AuditLog(file, { flushIntervalMs: 1000, retentionDays: 1, log }).close();
    const at = new Date().toISOString();
    const record = JSON.stringify({ identity: "old", method: "POST", route: "/r", operation: "m.op", status: 200, outcome: "OK" });
    const hash = chainHash("0".repeat(64), 1, at, record);
    const db = new Database(file);
    db.run("INSERT INTO audit_block (first_seq, last_seq, last_hash, last_at, lines) VALUES (1, 1, ?, ?, ?)", [hash, at, `1\t${at}\t${hash}\t${record}`]);
    db.close();
    const a = new AuditLog(file, { flushIntervalMs: 1000, retentionDays: 1, log });
    a.append({ identity: "new", method: "POST", route: "/r", operation: "m.op", status: 200, outcome: "OK" });
    a.close();
    expect(verifyAuditChain(file)).toMatchObject({ ok: true, records: 2 });
    expect(readAuditRecords(file).map((r) => JSON.parse(r.record).identity)).toEqual(["old", "new"]);
  });

  test("a deleted record breaks the chain at the next one", () => {
    const file = join(mkdtempSync(join(tmpdir(), "cleave-chain-")), "audit.db");
    const a = new AuditLog(file, { flushIntervalMs: 1000, retentionDays: 1, log });
    for (let i = 0; i < 5; i++) a.append({ identity: `u${i}`, method: "POST", route: "/r", operation: "m.op", status: 200, outcome: "OK" });
    a.close();
    expect(verifyAuditChain(file)).toMatchObject({ ok: true, records: 5 });
    editStoredText(file, (text) => text.split("\n").filter((l) => !l.startsWith("3\t")).join("\n"));
    expect(verifyAuditChain(file).broken).toEqual({ seq: 4, reason: "record 3 is missing" });
  });

  test("retention deletes old records and the rest verifies from the anchor, and the chain continues", () => {
    const file = join(mkdtempSync(join(tmpdir(), "cleave-chain-")), "audit.db");
    const a = new AuditLog(file, { flushIntervalMs: 1000, retentionDays: 1, log });
    for (let i = 0; i < 4; i++) {
      a.append({ identity: `u${i}`, method: "POST", route: "/r", operation: "m.op", status: 200, outcome: "OK" });
      if (i === 1) a.flush();
    }
    a.flush();
    const db = new Database(file);
    // The group of records 1–2 is made to look old (its records keep their hashes; retention looks at last_at).
    db.run(`UPDATE audit_block SET last_at = '2000-01-01T00:00:00.000Z' WHERE first_seq = 1`);
    db.close();
    expect(a.applyRetention()).toBe(2);
    a.append({ identity: "later", method: "POST", route: "/r", operation: "m.op", status: 200, outcome: "OK" });
    a.close();
    expect(verifyAuditChain(file)).toMatchObject({ ok: true, records: 3, firstSeq: 3, lastSeq: 5 });
  });
});
