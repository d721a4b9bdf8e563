/**
 * Split placement over a real nats-server: two inference replicas start while no registry exists (503 with the
 * reason), load the alias's version once a registry process appears, and both follow a later move under load.
 * The registry's own signature policy (read over the bus) applies here: it trusts one key, without requiring it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registryContract } from "../../src/modules/registry/contract";
import { HEALTH_OPERATION } from "../../src/runtime/bus/bus";
import { generateSigningKey, sha256Digest, signDigest } from "../../src/runtime/signing";
import { mlp } from "../fixtures/make-models";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { NatsServer } from "../harness/nats-server";
import { infer, waitFor } from "./registry-helpers";

const key = generateSigningKey();
const untrusted = generateSigningKey();
const deployment = `follow${process.pid}`;
const modules = {
  registry: { approval: { aliases: [] }, signatures: { trustedKeys: [{ publicKey: key.publicKey }] } },
  inference: { registry: { follow: [{ model: "fraud", alias: "champion" }], retrySeconds: 0.3, resyncSeconds: 1 } },
};
const actor = { id: "carol", roles: ["approver"] };
const v1 = new Uint8Array(mlp([4, 8, 3], { seed: 11 }));
// Over 1 MB: it reaches inference (which does not share the registry's disk) in several bus messages.
const v2 = new Uint8Array(mlp([4, 600, 600, 3], { seed: 12 }));

let nats: NatsServer;
let registryDir: string;
const procs: TestProcess[] = [];
const start = async (local: string[], http: boolean) => {
  const dataDir = local.includes("registry") ? registryDir : undefined;
  const p = await startTestProcess({ placement: "nats", natsUrl: nats.url, deployment, modules, local, http, dataDir });
  procs.push(p);
  return p;
};

beforeAll(async () => {
  nats = await NatsServer.start();
  registryDir = mkdtempSync(join(tmpdir(), "cleave-follow-"));
  // The registry's state exists (v1 behind champion) but no registry process runs when inference starts.
  const registry = await start(["registry"], false);
  const pushed = await registry.bus.call(registryContract, "push", {
    model: "fraud",
    bytes: v1,
    actor,
    signature: { publicKey: key.publicKey, value: signDigest(sha256Digest(v1), key.privateKey) },
  });
  await registry.bus.call(registryContract, "setAlias", { model: "fraud", alias: "champion", version: pushed.version.version, actor });
  await registry.close();
  procs.splice(0);
});

afterAll(async () => {
  for (const p of procs.reverse()) await p.close();
  await nats?.stop();
  rmSync(registryDir, { recursive: true, force: true });
});

/** 30 requests through the gateway (spread over both replicas by the NATS queue group) all answer `version`. */
async function allServe(url: string, version: string): Promise<boolean> {
  const answers = await Promise.all(Array.from({ length: 30 }, () => infer(url, "fraud")));
  return answers.every((a) => a.status === 200 && a.body.model_version === version);
}

test("replicas started before the registry load once it appears, both follow a move, and outlive a registry outage", async () => {
  const gateway = await start(["inference"], true);
  await start(["inference"], false);
  expect((await infer(gateway.url!, "fraud")).status).toBe(503);
  await waitFor(async () => {
    const early = await infer(gateway.url!, "fraud");
    return early.status === 503 && early.body.error.includes("registry not reachable");
  });

  const registry = await start(["registry"], false);
  await waitFor(() => allServe(gateway.url!, "1"));

  // An artifact signed by a key the registry does not trust cannot even be pushed; an unsigned one can, and the
  // registry does not require signatures, so both replicas load it.
  await expect(
    registry.bus.call(registryContract, "push", {
      model: "fraud",
      bytes: v2,
      actor,
      signature: { publicKey: untrusted.publicKey, value: signDigest(sha256Digest(v2), untrusted.privateKey) },
    }),
  ).rejects.toMatchObject({ code: "PERMISSION_DENIED" });
  expect(v2.byteLength).toBeGreaterThan(1024 * 1024);
  const upload = crypto.randomUUID();
  for (let offset = 0; offset < v2.byteLength; offset += 512 * 1024) {
    await registry.bus.call(registryContract, "upload", { upload, offset, bytes: v2.subarray(offset, offset + 512 * 1024) });
  }
  const pushed = await registry.bus.call(registryContract, "push", { model: "fraud", upload, actor });
  // Both replicas swap while requests flow through the gateway to either of them: none fails.
  const statuses: number[] = [];
  let stop = false;
  const client = async () => {
    while (!stop) statuses.push((await infer(gateway.url!, "fraud")).status);
  };
  const clients = Array.from({ length: 4 }, client);
  await registry.bus.call(registryContract, "setAlias", { model: "fraud", alias: "champion", version: pushed.version.version, actor });
  await waitFor(() => allServe(gateway.url!, "2"));
  stop = true;
  await Promise.all(clients);
  expect(statuses.length).toBeGreaterThan(10);
  expect(statuses.filter((s) => s !== 200)).toEqual([]);
  const meta = await (await fetch(`${gateway.url}/v2/models/fraud`)).json() as any;
  expect(meta.versions).toEqual(["2"]);
  expect(meta.parameters.registry[0]).toMatchObject({ alias: "champion", version: 2, digest: sha256Digest(v2), signedBy: null });

  // The registry going away changes nothing for traffic; health says so until it is back.
  await registry.close();
  const health = () => gateway.bus.call("inference", HEALTH_OPERATION, {}) as Promise<{ status: string; details: any }>;
  // Two replicas answer health through one queue group, each picked at random: 20 answers all alike mean both
  // replicas say so (the odds that one replica gave all 20 are 2^-19), 4 could all have come from one of them.
  const allHealth = async (status: string) => (await Promise.all(Array.from({ length: 20 }, health))).every((h) => h.status === status);
  await waitFor(() => allHealth("degraded"));
  for (const h of await Promise.all([health(), health(), health(), health()])) {
    expect(h.status).toBe("degraded");
    expect(h.details.reasons.join()).toContain("registry not reachable");
  }
  expect(await allServe(gateway.url!, "2")).toBe(true);
  await start(["registry"], false);
  await waitFor(() => allHealth("ok"));
}, 30_000);
