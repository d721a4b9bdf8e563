/**
 * Secrets never leave: with auth on, a NATS password, a JWT secret and API keys in use, debug-level logs of a
 * running process (including a dump of its config), its error answers and its /metrics contain none of them.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { builtinModules } from "../../src/modules/catalog";
import { validateConfig } from "../../src/runtime/config/load";
import { startProcess, type RunningProcess } from "../../src/runtime/host";
import { createLogger } from "../../src/runtime/log";
import { NatsServer } from "../harness/nats-server";
import { bearer, type Credentials, makeCredentials, SECRET, seedKeys, token } from "./helpers";

const NATS_PASS = "nats-pass-Zq9x7Lw2";
const BOOTSTRAP = `clv_b00757a9_${"s".repeat(43)}`;
let output = "";
let nats: NatsServer;
let p: RunningProcess;
let creds: Credentials;
let keys: Record<string, string>;

beforeAll(async () => {
  nats = await NatsServer.start({ args: ["--user", "svc", "--pass", NATS_PASS] });
  creds = await makeCredentials();
  const dataDir = mkdtempSync(join(tmpdir(), "cleave-secrets-"));
  keys = seedKeys(dataDir, { reader: ["reader"], nobody: [], ops: ["admin"] });
  const config = validateConfig(
    {
      deployment: "sec",
      dataDir,
      modules: { registry: {} },
      http: { port: 0 },
      log: { level: "debug" },
      bus: { transport: "nats", nats: { servers: [nats.url], user: "svc", pass: NATS_PASS } },
      auth: { mode: "on", jwt: creds.jwtConfig, apiKeys: { bootstrapKey: BOOTSTRAP }, rules: [{ operations: ["registry.*"], roles: ["reader"] }] },
    },
    builtinModules,
    process.cwd(),
  );
  const sink = new Writable({ write: (chunk, _enc, done) => ((output += chunk.toString()), done()) });
  const log = createLogger({ level: "debug", destination: sink });
  p = await startProcess(config, builtinModules, { log });
  // What an operator might do while debugging: log the whole config and a request's headers.
  log.info({ config }, "config dump");
  log.info({ headers: { authorization: `Bearer ${keys.reader}`, "x-api-key": keys.reader, cookie: "session=abc" } }, "request headers");
}, 30_000);

afterAll(async () => {
  await p.stop();
  await nats.stop();
});

test("no secret in logs, error answers or /metrics", async () => {
  const jwt = await token(creds, { alg: "HS256", sub: "svc", roles: ["reader"] });
  const answers: string[] = [];
  for (const headers of [bearer(keys.reader), bearer(jwt), bearer(keys.nobody), bearer(`${keys.reader}x`), bearer(`${jwt}x`), { "x-api-key": keys.reader }]) {
    for (const path of ["/v1/registry/models", "/v1/registry/models/a/versions/1/approve", "/v1/nowhere"]) {
      const res = await fetch(p.url + path, { method: path.endsWith("approve") ? "POST" : "GET", headers });
      answers.push(await res.text());
    }
  }
  const metrics = await (await fetch(`${p.url}/metrics`, { headers: bearer(keys.ops) })).text();
  expect(metrics).toMatch(/cleave_audit_records_dropped\{[^}]*\} 0/);
  expect(metrics).toMatch(/cleave_http_request_duration_seconds_count\{[^}]*status="403"/);
  answers.push(metrics);
  await Bun.sleep(50);
  expect(output).toContain("config dump");
  expect(output).toContain("[redacted]");
  const secrets = [NATS_PASS, SECRET, BOOTSTRAP, keys.reader, keys.nobody, keys.ops, jwt, jwt.split(".")[2], "session=abc"];
  for (const [where, text] of [["logs", output], ["answers", answers.join("\n")]] as const) {
    for (const secret of secrets) {
      if (text.includes(secret)) throw new Error(`a secret (${secret.slice(0, 6)}…) appears in the ${where}`);
    }
  }
});
