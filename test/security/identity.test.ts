/**
 * Identity: the gateway's verified identity reaches the module (and wins over a client's `x-cleave-actor`
 * header), per-model rules let `payments` alone call `fraud`, modules can enforce the same rules through
 * `bus.authorize` in every placement, and the first start creates one admin key, printed once, stored as a hash.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { AccessPolicy } from "../../src/runtime/security/policy";
import { ApiKeyStore, hashKey, keyStorePath } from "../../src/runtime/security/api-keys";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { bearer, seedKeys } from "./helpers";

const ONNX = readFileSync(join(import.meta.dir, "../fixtures/registry/logreg_iris.onnx"));

const rules = [
  { operations: ["registry.*"], models: ["fraud"], roles: ["payments"] },
  { operations: ["registry.push", "registry.upload", "registry.approve", "registry.setAlias", "registry.deleteAlias", "registry.rollbackAlias"], roles: ["ml-admin"] },
  { operations: ["registry.*"], roles: ["ml-admin", "analyst"] },
];

describe("identity from the gateway to the module", () => {
  let p: TestProcess;
  let keys: Record<string, string>;

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "cleave-id-"));
    keys = seedKeys(dataDir, { alice: ["ml-admin", "payments"], pay: ["payments"], analyst: ["analyst"], admin: ["admin"] });
    p = await startTestProcess({ placement: "serialized", modules: { registry: {} }, dataDir, extra: { auth: { mode: "on", rules } } });
  });
  afterAll(() => p.close());

  test("a spoofed x-cleave-actor header does not beat the authenticated identity", async () => {
    const res = await fetch(`${p.url}/v1/registry/models/churn/versions`, {
      method: "POST",
      headers: { ...bearer(keys.alice), "content-type": "application/octet-stream", "x-cleave-actor": "mallory", "x-cleave-roles": "approver,admin" },
      body: ONNX,
    });
    expect(res.status).toBe(201);
    const out = (await res.json()) as { version: { createdBy: string; version: number } };
    expect(out.version.createdBy).toBe("key:alice");
    // The spoofed roles did not make mallory an approver either: approving needs the approver role alice lacks.
    const approve = await fetch(`${p.url}/v1/registry/models/churn/versions/${out.version.version}/approve`, {
      method: "POST",
      headers: { ...bearer(keys.alice), "content-type": "application/json", "x-cleave-actor": "mallory", "x-cleave-roles": "approver" },
      body: JSON.stringify({ actor: { id: "mallory", roles: ["approver"] } }),
    });
    expect(approve.status).toBe(403);
    expect(((await approve.json()) as { error: string }).error).toContain("key:alice");
  });

  test("per-model rules: only payments may touch fraud; others keep their general rights elsewhere", async () => {
    const get = (key: string, model: string) => fetch(`${p.url}/v1/registry/models/${model}`, { headers: bearer(key) });
    expect((await get(keys.pay, "fraud")).status).toBe(404); // allowed through; the model does not exist
    expect((await get(keys.analyst, "fraud")).status).toBe(403);
    expect((await get(keys.analyst, "churn")).status).toBe(200);
    expect((await get(keys.pay, "churn")).status).toBe(403);
    expect((await get(keys.admin, "fraud")).status).toBe(404); // admin roles may do everything
    const denied = await (await get(keys.analyst, "fraud")).json();
    expect(denied).toEqual({ error: "not allowed to call registry.getModel on model fraud", code: "PERMISSION_DENIED" });
  });

  test("registry writes only by ml-admin", async () => {
    const push = (key: string) =>
      fetch(`${p.url}/v1/registry/models/churn/versions`, { method: "POST", headers: { ...bearer(key), "content-type": "application/octet-stream" }, body: ONNX });
    expect((await push(keys.analyst)).status).toBe(403);
    expect((await push(keys.alice)).status).toBeLessThan(300);
  });

  test("bus.authorize applies the deployment's rules to the identity a call carries", () => {
    expect(() => p.bus.authorize({ identity: { id: "x", roles: ["analyst"] } }, { operation: "registry.push" })).toThrow("not allowed");
    expect(() => p.bus.authorize({ identity: { id: "x", roles: ["ml-admin"] } }, { operation: "registry.push" })).not.toThrow();
    expect(() => p.bus.authorize({}, { operation: "registry.listModels" })).toThrow("authentication required");
  });
});

describe("access policy", () => {
  test("first matching rule decides; no match denies; admin roles pass", () => {
    const policy = new AccessPolicy({ rules, adminRoles: ["root"] });
    expect(policy.allows({ id: "a", roles: ["ml-admin"] }, { operation: "registry.getModel", model: "fraud" })).toBe(false);
    expect(policy.allows({ id: "a", roles: ["payments"] }, { operation: "registry.getModel", model: "fraud" })).toBe(true);
    expect(policy.allows({ id: "a", roles: ["payments"] }, { operation: "inference.infer", model: "fraud" })).toBe(false);
    expect(policy.allows({ id: "a", roles: ["root"] }, { operation: "anything.at.all" })).toBe(true);
    expect(policy.allows({ id: "a", roles: [] }, { operation: "registry.listModels" })).toBe(false);
  });

  test("rules naming no operation of the deployment are reported (a typo would otherwise deny silently)", () => {
    const policy = new AccessPolicy({ rules: [...rules, { operations: ["registy.*"], roles: ["x"] }], adminRoles: [] });
    expect(policy.unmatchedRules(["registry.push", "registry.getModel"])).toEqual([3]);
  });
});

describe("first start with auth on", () => {
  test("creates one admin key, prints it once on stderr, stores only its hash; later starts create none", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "cleave-boot-"));
    const printed: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (printed.push(String(chunk)), true)) as typeof process.stderr.write;
    let p: TestProcess;
    try {
      p = await startTestProcess({ placement: "inprocess", modules: { registry: {} }, dataDir, extra: { auth: { mode: "on" } } });
    } finally {
      process.stderr.write = write;
    }
    const key = /(clv_[A-Za-z0-9]+_[A-Za-z0-9_-]+)/.exec(printed.join(""))?.[1];
    expect(key).toBeDefined();
    expect((await fetch(`${p.url}/v1/registry/models`, { headers: bearer(key!) })).status).toBe(200);
    expect((await fetch(`${p.url}/v1/registry/models`)).status).toBe(401);
    await p.close();
    const db = new Database(keyStorePath(dataDir), { readonly: true });
    const rows = db.query("SELECT * FROM api_keys").all() as Record<string, string>[];
    db.close();
    expect(rows.length).toBe(1);
    expect(rows[0].hash).toBe(hashKey(key!));
    expect(JSON.stringify(rows)).not.toContain(key!.slice(key!.indexOf("_", 4) + 1));
    const again = await startTestProcess({ placement: "inprocess", modules: { registry: {} }, dataDir, extra: { auth: { mode: "on" } } });
    await again.close();
    const store = new ApiKeyStore(keyStorePath(dataDir));
    expect(store.count()).toBe(1);
    store.close();
  });
});
