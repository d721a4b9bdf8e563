/**
 * Inference serving models from the registry by alias, with the real registry module, real onnxruntime, real HTTP:
 * push → approve → alias → served; alias moves under concurrent load without a failed request; rollback; tampered,
 * unsigned and untrusted artifacts refused while the old version keeps serving; a removed alias keeps serving but
 * degrades health. (Split placement over NATS: registry-follow-nats.test.ts.)
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { HEALTH_OPERATION } from "../../src/runtime/bus/bus";
import { loadOnnxRuntime } from "../../src/runtime/native/onnxruntime";
import { generateSigningKey, sha256Digest, signDigest } from "../../src/runtime/signing";
import { mlp } from "../fixtures/make-models";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { APPROVER, http, push } from "../registry/helpers";
import { infer, ROW, waitFor } from "./registry-helpers";

const trusted = generateSigningKey();
const stranger = generateSigningKey();
const models = [1, 2, 3, 4, 5, 6].map((seed) => new Uint8Array(mlp([4, 8, 3], { seed })));

let proc: TestProcess;
beforeAll(async () => {
  proc = await startTestProcess({
    placement: "serialized",
    modules: {
      registry: { approval: { aliases: ["champion"] }, signatures: { trustedKeys: [{ publicKey: trusted.publicKey }, { publicKey: stranger.publicKey }] } },
      inference: {
        registry: {
          follow: [{ model: "fraud", alias: "champion" }],
          retrySeconds: 0.3,
          // Inference's own policy: stricter than the registry's (which accepts unsigned pushes and trusts `stranger`).
          signatures: { required: true, trustedKeys: [trusted.publicKey] },
        },
      },
    },
  });
});
afterAll(() => proc.close());

const sign = (bytes: Uint8Array, key = trusted) => ({ publicKey: key.publicKey, value: signDigest(sha256Digest(bytes), key.privateKey) });

/** Pushes and approves a version; returns its number. */
async function release(bytes: Uint8Array, signature: object | null = sign(bytes), meta: object = {}): Promise<number> {
  const pushed = await push(proc.url!, "fraud", bytes, { ...meta, ...(signature && { signature }) });
  expect(pushed.status).toBe(201);
  const version = pushed.body.version.version as number;
  expect((await http(proc.url!, "POST", `/v1/registry/models/fraud/versions/${version}/approve`, { headers: APPROVER })).status).toBe(200);
  return version;
}
const setAlias = async (version: number) =>
  expect((await http(proc.url!, "PUT", "/v1/registry/models/fraud/aliases/champion", { json: { version }, headers: APPROVER })).status).toBe(200);
const health = () => proc.bus.call("inference", HEALTH_OPERATION, {}) as Promise<{ status: string; details: any }>;
const servedVersion = async () => (await infer(proc.url!, "fraud")).body.model_version;

async function expected(bytes: Uint8Array): Promise<number[]> {
  const ort = await loadOnnxRuntime();
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ x: new ort.Tensor("float32", Float32Array.from(ROW), [1, 4]) });
  return Array.from(out.y.data as Float32Array);
}

test("before the alias exists: 503 with the reason and degraded health; push → approve → alias → served", async () => {
  const early = await infer(proc.url!, "fraud");
  expect(early.status).toBe(503);
  expect(early.body.error).toContain("not loaded yet");
  expect(early.body.error).toContain("fraud");
  const h = await health();
  expect(h.status).toBe("degraded");
  expect(h.details.reasons[0]).toContain("fraud@champion");

  // Named columns in reverse order along the input's last dimension: V1 predict must map them through the registry's.
  const columns = ["d", "c", "b", "a"].map((name, i) => ({ name, tensor: "x", index: 3 - i }));
  const v1 = await release(models[0], sign(models[0]), { columns });
  await setAlias(v1);
  await waitFor(async () => (await infer(proc.url!, "fraud")).status === 200);
  const res = await infer(proc.url!, "fraud");
  expect(res.body.model_version).toBe(String(v1));
  const want = await expected(models[0]);
  res.body.outputs[0].data.forEach((v: number, i: number) => expect(v).toBeCloseTo(want[i], 5));
  const byName = { a: ROW[0], b: ROW[1], c: ROW[2], d: ROW[3] };
  const predicted = await http(proc.url!, "POST", "/v1/models/fraud:predict", { json: { instances: [byName] } });
  expect(predicted.status).toBe(200);
  predicted.body.predictions[0].forEach((v: number, i: number) => expect(v).toBeCloseTo(want[i], 5));

  const meta = await http(proc.url!, "GET", "/v2/models/fraud");
  expect(meta.body.versions).toEqual(["1"]);
  expect(meta.body.parameters.registry).toEqual([
    { model: "fraud", alias: "champion", state: "serving", version: 1, digest: sha256Digest(models[0]), signedBy: trusted.keyId, historyId: expect.any(Number), problem: null },
  ]);
  expect((await health()).status).toBe("ok");
});

test("moving the alias under concurrent load: no failed request, traffic ends on the new version, the old is unloaded", async () => {
  const v2 = await release(models[1]);
  const statuses = new Map<number, number>();
  const versions = new Set<string>();
  let stop = false;
  const client = async () => {
    while (!stop) {
      const r = await infer(proc.url!, "fraud");
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.status === 200) versions.add(r.body.model_version);
    }
  };
  const clients = Array.from({ length: 6 }, client);
  await Bun.sleep(100);
  await setAlias(v2);
  await waitFor(async () => (await servedVersion()) === String(v2));
  await Bun.sleep(200);
  stop = true;
  await Promise.all(clients);

  expect([...statuses.keys()]).toEqual([200]);
  expect(statuses.get(200)!).toBeGreaterThan(20);
  expect(versions).toEqual(new Set(["1", "2"]));
  for (let i = 0; i < 5; i++) expect(await servedVersion()).toBe("2");
  await waitFor(async () => (await http(proc.url!, "GET", "/v2/models/fraud")).body.versions.join() === "2");
  expect((await http(proc.url!, "GET", "/v2/models/fraud")).body.parameters.registry[0]).toMatchObject({ version: 2, digest: sha256Digest(models[1]) });
});

test("rollback is one more move: the previous version serves again", async () => {
  const r = await http(proc.url!, "POST", "/v1/registry/models/fraud/aliases/champion/rollback", { json: { reason: "regression" }, headers: APPROVER });
  expect(r.status).toBe(200);
  expect(r.body.toVersion).toBe(1);
  await waitFor(async () => (await servedVersion()) === "1");
  const want = await expected(models[0]);
  (await infer(proc.url!, "fraud")).body.outputs[0].data.forEach((v: number, i: number) => expect(v).toBeCloseTo(want[i], 5));
});

/** Moves the alias to a version that must be refused; version 1 keeps serving and health names the reason. */
async function expectRefused(version: number, reason: string) {
  await setAlias(version);
  await waitFor(async () => ((await health()).details.reasons ?? []).some((r: string) => r.includes(`version ${version} refused`)));
  const h = await health();
  expect(h.status).toBe("degraded");
  expect(h.details.reasons.join()).toContain(reason);
  expect(h.details.reasons.join()).toContain("still serving version 1");
  for (let i = 0; i < 5; i++) {
    const res = await infer(proc.url!, "fraud");
    expect(res.status).toBe(200);
    expect(res.body.model_version).toBe("1");
  }
  expect((await http(proc.url!, "GET", "/v2/models/fraud")).body.versions).toEqual(["1"]);
}

test("a tampered blob is refused (digest mismatch) and the version it would replace keeps serving", async () => {
  const v3 = await release(models[2]);
  const hex = sha256Digest(models[2]).slice("sha256:".length);
  // A valid, different model in its place: only the digest check can catch it.
  writeFileSync(join(proc.dataDir, "registry", "blobs", "sha256", hex.slice(0, 2), hex), models[5]);
  await expectRefused(v3, "does not match its digest");
});

test("unsigned, and signed by a key inference does not trust, are refused when signatures are required", async () => {
  await expectRefused(await release(models[3], null), "unsigned and signatures are required");
  await expectRefused(await release(models[4], sign(models[4], stranger)), "not trusted");
  // A good move afterwards clears the problem.
  await setAlias(2);
  await waitFor(async () => (await servedVersion()) === "2");
  expect((await health()).status).toBe("ok");
});

test("a removed alias keeps its last version serving and reports degraded", async () => {
  expect((await http(proc.url!, "DELETE", "/v1/registry/models/fraud/aliases/champion?reason=retired", { headers: APPROVER })).status).toBe(200);
  await waitFor(async () => (await health()).status === "degraded");
  expect((await health()).details.reasons[0]).toContain("was removed");
  expect(await servedVersion()).toBe("2");
});
