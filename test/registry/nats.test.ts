/**
 * The registry in its own process over a real nats-server, used from a second process that does not share its
 * disk: chunked upload in, events out, and a >1 MB artifact back through chunked fetchArtifact with a digest check.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { downloadArtifact, registryContract } from "../../src/modules/registry/contract";
import { loadOnnxRuntime } from "../../src/runtime/native/onnxruntime";
import { sha256Digest } from "../../src/runtime/signing";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { NatsServer } from "../harness/nats-server";
import { APPROVER, ENGINEER, http, largeModel } from "./helpers";

let nats: NatsServer;
let registry: TestProcess;
let client: TestProcess;
const deployment = `reg${process.pid}`;
const modules = { registry: { approval: { aliases: ["champion"] } } };

beforeAll(async () => {
  nats = await NatsServer.start();
  registry = await startTestProcess({ placement: "nats", natsUrl: nats.url, deployment, modules, local: ["registry"], http: false });
  client = await startTestProcess({ placement: "nats", natsUrl: nats.url, deployment, modules, local: [] });
});

afterAll(async () => {
  await client?.close();
  await registry?.close();
  await nats?.stop();
});

const CHUNK = 512 * 1024;

test("a >1 MB model goes in by chunked upload and comes back by chunked fetch with its digest checked", async () => {
  const bytes = largeModel(1_600_000, "nats-large");
  expect(bytes.byteLength).toBeGreaterThan(1024 * 1024);
  const created: unknown[] = [];
  await client.bus.subscribe(registryContract, "version.created", (e) => void created.push(e), { group: "test-created" });

  const upload = crypto.randomUUID();
  for (let offset = 0; offset < bytes.byteLength; offset += CHUNK) {
    const r = await client.bus.call(registryContract, "upload", { upload, offset, bytes: bytes.subarray(offset, offset + CHUNK) });
    expect(r.received).toBe(Math.min(offset + CHUNK, bytes.byteLength));
  }
  const pushed = await client.bus.call(registryContract, "push", { model: "big", upload, actor: { id: "alice", roles: [] } });
  expect(pushed.created).toBe(true);
  expect(pushed.version.digest).toBe(sha256Digest(bytes));

  const resolved = await client.bus.call(registryContract, "resolve", { model: "big", ref: "1" });
  const fetched = await downloadArtifact(client.bus, resolved.digest);
  expect(fetched.byteLength).toBe(bytes.byteLength);
  expect(sha256Digest(fetched)).toBe(resolved.digest);
  expect(Buffer.from(fetched).equals(Buffer.from(bytes))).toBe(true);
  // Asking for the whole artifact in one message is refused rather than truncated.
  await expect(client.bus.call(registryContract, "fetchArtifact", { digest: resolved.digest })).rejects.toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
  // The bytes that crossed NATS are a model onnxruntime loads and runs, with the signature the registry read.
  const ort = await loadOnnxRuntime();
  const session = await ort.InferenceSession.create(fetched);
  expect(session.inputNames).toEqual(resolved.tensors.inputs.map((i) => i.name));
  const out = await session.run({ X: new ort.Tensor("float32", new Float32Array([1, 2, 3, 4]), [1, 4]) });
  expect(out.variable.dims).toEqual([1, 1]);

  await waitFor(() => created.length === 1);
  expect(created[0]).toMatchObject({ model: "big", version: 1, digest: resolved.digest, actor: "alice", signed: false });
});

test("REST on another process's gateway: chunked upload, approve, alias; alias.moved reaches subscribers", async () => {
  const moves: any[] = [];
  await client.bus.subscribe(registryContract, "alias.moved", (e) => void moves.push(e), { group: "test-moves" });
  const bytes = largeModel(1_100_000, "rest-large");
  const upload = crypto.randomUUID();
  for (let offset = 0; offset < bytes.byteLength; offset += CHUNK) {
    const r = await http(client.url!, "PUT", `/v1/registry/uploads/${upload}?offset=${offset}`, { raw: bytes.subarray(offset, offset + CHUNK) });
    expect(r.status).toBe(200);
  }
  const outOfOrder = await http(client.url!, "PUT", `/v1/registry/uploads/${upload}?offset=0`, { raw: bytes.subarray(0, 10) });
  expect(outOfOrder.status).toBe(409);
  expect(outOfOrder.body.details.received).toBe(bytes.byteLength);

  const pushed = await http(client.url!, "POST", "/v1/registry/models/fraud/versions", {
    json: { upload, metrics: { auc: 0.93 } },
    headers: ENGINEER,
  });
  expect(pushed.status).toBe(201);
  const v = pushed.body.version.version;
  expect(pushed.body.version.metrics).toEqual({ auc: 0.93 });
  expect((await http(client.url!, "POST", `/v1/registry/models/fraud/versions/${v}/approve`, { json: {}, headers: APPROVER })).status).toBe(200);
  const moved = await http(client.url!, "PUT", "/v1/registry/models/fraud/aliases/champion", { json: { version: v, reason: "go" }, headers: ENGINEER });
  expect(moved.status).toBe(200);

  await waitFor(() => moves.length === 1);
  expect(moves[0]).toMatchObject({
    model: "fraud", alias: "champion", version: v, previousVersion: null, digest: pushed.body.version.digest,
    action: "set", actor: "alice", reason: "go", historyId: moved.body.id,
  });
});

test("a tampered blob is refused by downloadArtifact", async () => {
  const resolved = await client.bus.call(registryContract, "resolve", { model: "big", ref: "1" });
  const hex = resolved.digest.slice(7);
  const blob = join(registry.dataDir, "registry", "blobs", "sha256", hex.slice(0, 2), hex);
  writeFileSync(blob, largeModel(1_600_000, "evil twin"));
  await expect(downloadArtifact(client.bus, resolved.digest)).rejects.toMatchObject({ code: "CONFLICT" });
  const verify = await client.bus.call(registryContract, "verify", { model: "big", version: 1 });
  expect(verify.ok).toBe(false);
});

test("two registry replicas on one data dir serialize concurrent alias moves; the history stays complete", async () => {
  const replica = await startTestProcess({
    placement: "nats", natsUrl: nats.url, deployment, modules, local: ["registry"], http: false, dataDir: registry.dataDir,
  });
  try {
    const versions: number[] = [];
    for (let i = 0; i < 4; i++) {
      const bytes = largeModel(1000, `replica ${i}`);
      versions.push((await client.bus.call(registryContract, "push", { model: "shared", bytes })).version.version);
    }
    expect(versions).toEqual([1, 2, 3, 4]);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        client.bus.call(registryContract, "setAlias", { model: "shared", alias: "staging", version: versions[i % 4], reason: `m${i}` }),
      ),
    );
    const { history } = await client.bus.call(registryContract, "aliasHistory", { model: "shared", alias: "staging", limit: 100 });
    const ordered = history.reverse();
    expect(ordered).toHaveLength(40);
    expect(new Set(ordered.map((h) => h.reason)).size).toBe(40);
    expect(ordered[0].fromVersion).toBeNull();
    for (let i = 1; i < ordered.length; i++) expect(ordered[i].fromVersion).toBe(ordered[i - 1].toVersion);
    const current = await client.bus.call(registryContract, "resolve", { model: "shared", ref: "staging" });
    expect(current.version).toBe(ordered[39].toVersion!);
  } finally {
    await replica.close();
  }
});

async function waitFor(cond: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(20);
  }
}
