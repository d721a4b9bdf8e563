/**
 * Service-to-service security against a real nats-server: the sample per-process users of
 * configs/nats-server-auth.conf (a call goes through; a process logged in as `inference` can neither publish
 * `registry` events nor serve `registry` calls; a wrong password cannot connect), NKey seed files, and TLS with
 * client certificates.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUser } from "@nats-io/nkeys";
import { NatsTransport, type NatsOptions } from "../../src/runtime/bus/nats";
import { createLogger } from "../../src/runtime/log";
import { REPO } from "../harness/child";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { NatsServer } from "../harness/nats-server";

const log = createLogger({ level: "silent" });
const PASS = { gateway: "gw-secret-1", registry: "reg-secret-2", inference: "inf-secret-3" };
const connectOpts = (url: string, extra: Partial<NatsOptions>): NatsOptions => ({
  servers: [url], name: "test", onUnreachable: "exit", connectTimeoutMs: 2000, events: { maxAgeSeconds: 3600, maxBytes: -1 }, ...extra,
});
const envelope = (payload: unknown) => ({ payload, timeoutMs: 1000 });

describe("per-process NATS users (configs/nats-server-auth.conf)", () => {
  let nats: NatsServer;
  let registry: TestProcess;
  let gateway: TestProcess;

  beforeAll(async () => {
    const env: Record<string, string> = {};
    for (const m of ["GATEWAY", "REGISTRY", "INFERENCE", "FEATURE", "INGESTION", "DECISION", "MONITORING"]) {
      env[`CLEAVE_NATS_${m}_PASS`] = (PASS as Record<string, string>)[m.toLowerCase()] ?? `unused-${m}`;
    }
    nats = await NatsServer.start({ config: join(REPO, "configs/nats-server-auth.conf"), env });
    const as = (user: keyof typeof PASS) => ({ bus: { transport: "nats", nats: { servers: [nats.url], user, pass: PASS[user] } } });
    const common = { placement: "nats" as const, deployment: "cleave", modules: { registry: {} } };
    registry = await startTestProcess({ ...common, http: false, extra: as("registry") });
    gateway = await startTestProcess({ ...common, local: [], dataDir: registry.dataDir, extra: as("gateway") });
  }, 30_000);

  afterAll(async () => {
    await gateway?.close();
    await registry?.close();
    await nats?.stop();
  });

  test("the gateway's user may call the registry's user's module", async () => {
    expect((await fetch(`${gateway.url}/v1/registry/models`)).status).toBe(200);
    expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
  });

  test("the inference user can neither publish registry events nor serve registry calls", async () => {
    const impostor = await NatsTransport.connect("cleave", connectOpts(nats.url, { user: "inference", pass: PASS.inference }), log);
    try {
      const forged = { payload: { model: "fraud", version: 1 }, id: "forged-1" };
      const refused = await impostor.publish("registry.version.created", forged).then(() => undefined, (err: Error) => err);
      expect(refused?.message).toContain('Permissions Violation for Publish to "cleave.cleave.evt.registry.version.created"');
      let stolen = 0;
      await impostor.serve("registry", async () => {
        stolen++;
        return { ok: true, result: { models: [] } };
      });
      for (let i = 0; i < 10; i++) expect((await fetch(`${gateway.url}/v1/registry/models`)).status).toBe(200);
      expect(stolen).toBe(0);
      // Its own module's events are fine.
      await impostor.publish("inference.model.loaded", { payload: { model: "fraud" }, id: "own-1" });
    } finally {
      await impostor.close();
    }
  });

  test("a call the user may not make fails at once with the server's reason, not at its deadline", async () => {
    const impostor = await NatsTransport.connect("cleave", connectOpts(nats.url, { user: "inference", pass: PASS.inference }), log);
    try {
      const started = performance.now();
      const refused = await impostor.request("decision", "ping", { payload: {}, timeoutMs: 10_000 }).then(() => undefined, (err: Error) => err);
      expect(refused?.message).toContain('Permissions Violation for Publish to "cleave.cleave.decision.ping"');
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      await impostor.close();
    }
  });

  test("a wrong password cannot connect, and the error names the config key, not the secret", async () => {
    const attempt = NatsTransport.connect("cleave", connectOpts(nats.url, { user: "registry", pass: "guess" }), log);
    await expect(attempt).rejects.toThrow(/cannot reach NATS/);
    await attempt.catch((err: Error) => expect(err.message).not.toContain("guess"));
  });
});

describe("NKey seed files and TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "cleave-natsauth-"));
  const servers: NatsServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop();
  });

  test("a process authenticates with its NKey seed file; another seed is refused", async () => {
    const user = createUser();
    writeFileSync(join(dir, "user.nk"), new TextDecoder().decode(user.getSeed()));
    writeFileSync(join(dir, "other.nk"), new TextDecoder().decode(createUser().getSeed()));
    writeFileSync(join(dir, "nkey.conf"), `authorization { users = [ { nkey: ${user.getPublicKey()} } ] }\n`);
    const nats = await NatsServer.start({ config: join(dir, "nkey.conf") });
    servers.push(nats);
    const t = await NatsTransport.connect("t", connectOpts(nats.url, { nkeySeedFile: join(dir, "user.nk") }), log);
    await t.serve("echo", async (_op, env) => ({ ok: true, result: env.payload }));
    expect(await t.request("echo", "x", envelope({ a: 1 }))).toEqual({ ok: true, result: { a: 1 } });
    await t.close();
    await expect(NatsTransport.connect("t", connectOpts(nats.url, { nkeySeedFile: join(dir, "other.nk") }), log)).rejects.toThrow(/cannot reach NATS/);
  });

  test("TLS with a client certificate: connects with the CA and its certificate; without TLS it cannot", async () => {
    const ssl = (args: string) => {
      const r = Bun.spawnSync(["openssl", ...args.split(" ")], { cwd: dir, stderr: "pipe" });
      if (r.exitCode !== 0) throw new Error(`openssl ${args}: ${r.stderr.toString()}`);
    };
    writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
    ssl("req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=test-ca");
    for (const who of ["server", "client"]) {
      ssl(`req -newkey rsa:2048 -nodes -keyout ${who}.key -out ${who}.csr -subj /CN=${who}`);
      ssl(`x509 -req -in ${who}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out ${who}.pem -days 1 -extfile san.ext`);
    }
    writeFileSync(join(dir, "tls.conf"), `tls { cert_file: "${dir}/server.pem", key_file: "${dir}/server.key", ca_file: "${dir}/ca.pem", verify: true }\n`);
    const nats = await NatsServer.start({ config: join(dir, "tls.conf") });
    servers.push(nats);
    const tls = { caFile: join(dir, "ca.pem"), certFile: join(dir, "client.pem"), keyFile: join(dir, "client.key") };
    const t = await NatsTransport.connect("t", connectOpts(`tls://127.0.0.1:${nats.port}`, { tls }), log);
    expect(t.connected()).toBe(true);
    await t.close();
    await expect(NatsTransport.connect("t", connectOpts(nats.url, {}), log)).rejects.toThrow(/cannot reach NATS/);
  }, 30_000);
});
