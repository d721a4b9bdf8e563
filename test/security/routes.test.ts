/**
 * Every route of the deployment — read from the module catalog's contracts plus the runtime's own, so a new route is
 * covered the day it is added — refuses every wrong caller (401: none, bad key, garbage, expired/forged/mis-addressed
 * JWTs; 403: a valid identity without the route's role) without reaching its module, and lets the right identity
 * through (API key, and JWTs of all three algorithms). In-process and over a real nats-server, the gateway in its
 * own process there.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import { builtinModules } from "../../src/modules/catalog";
import { NatsServer } from "../harness/nats-server";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { ALL_MODULES, bearer, type Credentials, makeCredentials, seedKeys, token } from "./helpers";

interface RouteCase {
  method: string;
  path: string;
  operation: string;
  body: "json" | "raw" | "none";
}

const ROUTES: RouteCase[] = [
  ...Object.values(builtinModules).flatMap(({ contract }) =>
    contract.routes.map((r) => ({
      method: r.method,
      path: r.path,
      operation: `${contract.name}.${r.operation}`,
      body: r.body ?? (r.method === "GET" || r.method === "DELETE" ? "none" : "json"),
    })),
  ),
  { method: "GET", path: "/readyz", operation: "runtime.readyz", body: "none" },
  { method: "GET", path: "/metrics", operation: "runtime.metrics", body: "none" },
  { method: "GET", path: "/openapi", operation: "runtime.openapi", body: "none" },
  { method: "GET", path: "/openapi/json", operation: "runtime.openapi", body: "none" },
];
const OPERATIONS = [...new Set(ROUTES.map((r) => r.operation))];
const roleOf = (op: string) => `can:${op}`;

const concrete = (path: string) =>
  path.replace(/:(\w+)/g, (_, p: string) => (p === "name" || p === "model" ? "fraud" : p === "version" ? "1" : "x1"));

function send(base: string, r: RouteCase, headers: Record<string, string>) {
  const init: RequestInit = { method: r.method, headers: { ...headers } };
  if (r.body === "json") {
    init.body = "{}";
    (init.headers as Record<string, string>)["content-type"] = "application/json";
  } else if (r.body === "raw") init.body = new Uint8Array([1, 2, 3, 4]);
  return fetch(base + concrete(r.path), init);
}

/**
 * Operations behind the routes under test that the modules of these processes served. Background calls between
 * modules (the feature consumer reading the event log, inference re-reading the registry) are left out: they run
 * whatever the HTTP callers do.
 */
async function servedCount(processes: TestProcess[]): Promise<number> {
  let n = 0;
  for (const p of processes) {
    for (const line of (await p.metrics.text()).split("\n")) {
      const m = /^cleave_bus_served_total\{[^}]*module="([^"]+)",operation="([^"]+)"/.exec(line);
      if (m && OPERATIONS.includes(`${m[1]}.${m[2]}`)) n += Number(line.split(" ").pop());
    }
  }
  return n;
}

function authSection(creds: Credentials) {
  return {
    mode: "on",
    publicRoutes: [],
    apiKeys: { bootstrap: false },
    jwt: creds.jwtConfig,
    rules: OPERATIONS.map((op) => ({ operations: [op], roles: [roleOf(op)] })),
  };
}

for (const placement of ["inprocess", "nats"] as const) {
  describe(`every route refuses the wrong caller and serves the right one (${placement})`, () => {
    let creds: Credentials;
    let nats: NatsServer | undefined;
    let processes: TestProcess[] = [];
    let base: string;
    let keys: Record<string, string>;

    beforeAll(async () => {
      creds = await makeCredentials();
      const dataDir = mkdtempSync(join(tmpdir(), "cleave-sec-"));
      keys = seedKeys(dataDir, {
        nobody: ["nobody"],
        ...Object.fromEntries(OPERATIONS.map((op) => [op, [roleOf(op), "approver"]])),
      });
      const extra = { auth: authSection(creds) };
      if (placement === "inprocess") {
        processes = [await startTestProcess({ placement, modules: ALL_MODULES, dataDir, extra })];
      } else {
        nats = await NatsServer.start();
        const common = { placement, modules: ALL_MODULES, dataDir, natsUrl: nats.url, extra };
        processes = [
          await startTestProcess({ ...common, http: false }),
          await startTestProcess({ ...common, local: [] }),
        ];
      }
      base = processes.at(-1)!.url!;
    }, 30_000);

    afterAll(async () => {
      for (const p of processes.reverse()) await p.close();
      await nats?.stop();
    });

    test(`${ROUTES.length} routes × 9 wrong callers: 401/403, nothing served, nothing leaked`, async () => {
      const before = await servedCount(processes);
      const other = (op: string) => keys[OPERATIONS.find((o) => o !== op)!];
      const seen: Record<string, number> = {};
      for (const r of ROUTES) {
        const right = [roleOf(r.operation)];
        const cases: [string, Record<string, string>, number][] = [
          ["no credentials", {}, 401],
          ["unknown API key", bearer(`clv_0123abcd_${"x".repeat(43)}`), 401],
          ["unknown key in X-API-Key", { "x-api-key": `clv_0123abcd_${"y".repeat(43)}` }, 401],
          ["not a bearer scheme", { authorization: `Basic ${btoa("a:b")}` }, 401],
          ["expired JWT", bearer(await token(creds, { alg: "HS256", sub: "late", roles: right, expiresIn: -3600 })), 401],
          ["JWT signed by an untrusted key", bearer(await token(creds, { alg: "RS256", sub: "forger", roles: right, key: creds.stranger.privateKey })), 401],
          ["JWT for another audience", bearer(await token(creds, { alg: "EdDSA", sub: "lost", roles: right, audience: "other-app" })), 401],
          ["unsigned JWT (alg none)", bearer(`${btoa('{"alg":"none"}')}.${btoa(JSON.stringify({ sub: "x", realm: { roles: right }, exp: 9e9 }))}.`), 401],
          ["valid key, no role", bearer(keys.nobody), 403],
          ["valid key, another route's role", bearer(other(r.operation)), 403],
        ];
        for (const [what, headers, status] of cases) {
          const res = await send(base, r, headers);
          const body = await res.text();
          if (res.status !== status) throw new Error(`${r.method} ${r.path} with ${what}: expected ${status}, got ${res.status} ${body}`);
          const json = JSON.parse(body);
          expect(json.code).toBe(status === 401 ? "UNAUTHENTICATED" : "PERMISSION_DENIED");
          // No credential, key hash, rule or stack ever comes back.
          expect(body).not.toMatch(/clv_|Bearer [A-Za-z0-9]|can:|at \/|\.ts:/);
          if (status === 401) expect(res.headers.get("www-authenticate")).toBe("Bearer");
          seen[status] = (seen[status] ?? 0) + 1;
        }
      }
      expect(await servedCount(processes)).toBe(before);
      expect(seen[401]).toBe(ROUTES.length * 8);
      expect(seen[403]).toBe(ROUTES.length * 2);
    }, 60_000);

    test("the right identity is let through on every route (API key, HS256, RS256 and EdDSA JWTs)", async () => {
      for (const r of ROUTES) {
        const roles = [roleOf(r.operation), "approver"];
        const identities: [string, Record<string, string>][] = [
          ["API key", bearer(keys[r.operation])],
          ["HS256 JWT", bearer(await token(creds, { alg: "HS256", sub: "svc-h", roles }))],
          ["RS256 JWT", bearer(await token(creds, { alg: "RS256", sub: "svc-r", roles }))],
          ["EdDSA JWT", bearer(await token(creds, { alg: "EdDSA", sub: "svc-e", roles }))],
        ];
        for (const [what, headers] of identities) {
          const res = await send(base, r, headers);
          const body = await res.text();
          // A readiness route answers 503 for what is not ready (no model is loaded here): that is its answer.
          const notReady = res.status === 503 && r.path.endsWith("/ready");
          if (res.status === 401 || res.status === 403 || (res.status >= 500 && !notReady)) {
            throw new Error(`${r.method} ${r.path} with ${what}: got ${res.status} ${body}`);
          }
        }
      }
    }, 60_000);

    test("/healthz needs nothing; an unknown route answers 401 to strangers, 404 to known callers", async () => {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/v1/nowhere`)).status).toBe(401);
      expect((await fetch(`${base}/v1/nowhere`, { headers: bearer(`clv_0123abcd_${"x".repeat(43)}`) })).status).toBe(401);
      expect((await fetch(`${base}/v1/nowhere`, { headers: bearer(keys.nobody) })).status).toBe(404);
    });

    test("a token signed with the HS256 secret but a different algorithm header is refused", async () => {
      const confused = await new SignJWT({ realm: { roles: [roleOf("registry.listModels")] } })
        .setProtectedHeader({ alg: "HS512" })
        .setSubject("x")
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode("an-hs256-shared-secret-of-at-least-32-bytes!"));
      expect((await fetch(`${base}/v1/registry/models`, { headers: bearer(confused) })).status).toBe(401);
    });
  });
}
