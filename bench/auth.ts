/**
 * What security costs on one representative route, in one run: POST /v1/decide (the issue names /v1/score, which no
 * module serves yet; decide is the same shape — one JSON transaction in, one decision out) over real HTTP.
 * Three gateways run side by side: everything off (no auth, no audit, no rate limits); auth off with the audit log
 * on (the default when auth is off); auth on (API key or HS256 JWT, an access rule, a rate-limit bucket, the audit
 * log). "Auth on vs off" compares the last two, which differ only by authentication, authorization and rate
 * limiting; the first row shows what the audit log adds. Each round runs every case back to back (order reversed
 * every other round) and a case's ratio is the median of its per-round ratios — of throughput, and of the process's
 * CPU time per request (client and server; steadier on a shared machine). Last, the gate alone (authenticate,
 * authorize, rate-limit, audit record) is timed without HTTP, in µs per request.
 *
 *   bun bench/auth.ts [--seconds 1] [--rounds 15] [--concurrency 32]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import { GatewaySecurity } from "../src/runtime/gateway/security";
import { createLogger } from "../src/runtime/log";
import { seedKeys } from "../test/security/helpers";
import { startTestProcess, type TestProcess } from "../test/harness/deployment";
import { machine, table } from "./lib/report";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "1" }, rounds: { type: "string", default: "15" }, concurrency: { type: "string", default: "32" } } });
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);

const SECRET = "bench-hs256-secret-bench-hs256-secret-0123";
const body = (i: number) =>
  JSON.stringify({
    transaction: { id: `t${i}`, card_id: `c${i % 500}`, merchant_id: "m1", amount: 12.5 + (i % 100), country: "FR", device_id: "d1", mcc: "5411", channel: "pos" },
    score: (i % 100) / 100,
    model: { name: "fraud", version: "1" },
  });

async function start(mode: "none" | "audit" | "auth"): Promise<{ p: TestProcess; dataDir: string; headers: Record<string, string>[] }> {
  const dataDir = mkdtempSync(join(tmpdir(), "cleave-bench-auth-"));
  const modules = { decision: { rulesFile: "configs/rules/fraud-rules.yaml" } };
  if (mode !== "auth") {
    const p = await startTestProcess({ placement: "inprocess", dataDir, modules, extra: { audit: { enabled: mode === "audit" } } });
    return { p, dataDir, headers: [{}] };
  }
  const { client } = seedKeys(dataDir, { client: ["payments"] });
  const jwt = await new SignJWT({ roles: ["payments"] }).setProtectedHeader({ alg: "HS256" }).setSubject("svc").setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));
  const p = await startTestProcess({
    placement: "inprocess",
    dataDir,
    modules,
    extra: {
      auth: { mode: "on", jwt: { secret: SECRET }, rules: [{ operations: ["decision.decide"], roles: ["payments"] }] },
      rateLimits: { perIdentity: { rate: 1e9, burst: 1e9 } },
      audit: { enabled: true },
    },
  });
  return { p, dataDir, headers: [{ authorization: `Bearer ${client}` }, { authorization: `Bearer ${jwt}` }] };
}

/** Requests per second, and this process's CPU time per request in µs (client and server share the process). */
async function measure(url: string, auth: Record<string, string>): Promise<{ rps: number; cpu: number }> {
  let n = 0;
  let failed = 0;
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const res = await fetch(`${url}/v1/decide`, { method: "POST", headers: { "content-type": "application/json", ...auth }, body: body(n) });
        await res.arrayBuffer();
        if (res.status !== 200) failed++;
        n++;
      }
    }),
  );
  if (failed) throw new Error(`${failed} of ${n} requests failed`);
  const cpu = process.cpuUsage(cpuBefore);
  return { rps: n / ((performance.now() - started) / 1000), cpu: (cpu.user + cpu.system) / n };
}

const none = await start("none");
const off = await start("audit");
const on = await start("auth");
const OFF = "auth off (audit on)";
const cases: [string, string, Record<string, string>][] = [
  ["everything off (no audit)", none.p.url!, none.headers[0]],
  [OFF, off.p.url!, off.headers[0]],
  ["auth on: API key", on.p.url!, on.headers[0]],
  ["auth on: HS256 JWT", on.p.url!, on.headers[1]],
];
for (const [, url, auth] of cases) await measure(url, auth); // warm-up
// Each round measures every case back to back; a case's ratio is taken within its round (paired), so the load of
// other work on a shared machine, which drifts over seconds, mostly cancels out.
const results = new Map<string, number[]>(cases.map(([label]) => [label, []]));
const ratios = new Map<string, number[]>(cases.map(([label]) => [label, []]));
const cpus = new Map<string, number[]>(cases.map(([label]) => [label, []]));
const cpuRatios = new Map<string, number[]>(cases.map(([label]) => [label, []]));
for (let r = 0; r < rounds; r++) {
  const round = new Map<string, { rps: number; cpu: number }>();
  for (const [label, url, auth] of r % 2 ? [...cases].reverse() : cases) round.set(label, await measure(url, auth));
  const base = round.get(OFF)!;
  for (const [label] of cases) {
    const m = round.get(label)!;
    results.get(label)!.push(m.rps);
    ratios.get(label)!.push(m.rps / base.rps);
    cpus.get(label)!.push(m.cpu);
    // CPU per request is steadier than throughput on a shared machine: other work steals time, not CPU seconds.
    cpuRatios.get(label)!.push(base.cpu / m.cpu);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;

console.log(`auth bench — POST /v1/decide over HTTP, ${concurrency} concurrent clients in the same process; ${machine()}`);
console.log(`${rounds} rounds of ${seconds} s per case; medians over rounds; ratios taken within each round, then the median\n`);
console.log(
  table(
    ["case", "requests/s", "ratio (throughput)", "range", "CPU µs/request", "ratio (CPU per request)", "range "],
    cases.map(([label]) => [
      label,
      median(results.get(label)!),
      `${median(ratios.get(label)!).toFixed(3)}×`,
      range(ratios.get(label)!),
      median(cpus.get(label)!),
      `${median(cpuRatios.get(label)!).toFixed(3)}×`,
      range(cpuRatios.get(label)!),
    ]),
  ),
);

/** The gate alone, no HTTP: what each request pays in the gateway for security, in µs. */
async function gateAlone(headers: Record<string, string>, dataDir: string): Promise<number> {
  const security = await GatewaySecurity.create(
    {
      auth: { mode: "on", publicRoutes: [], adminRoles: ["admin"], apiKeys: { enabled: true, bootstrap: false }, jwt: { algorithms: ["HS256"], secret: SECRET, publicKeyFiles: [], rolesClaim: "roles", clockToleranceSeconds: 30 }, rules: [{ operations: ["decision.decide"], roles: ["payments"] }] },
      rateLimits: { perIdentity: { rate: 1e9, burst: 1e9 }, identities: {}, models: {} },
      audit: { enabled: true, reads: false, retentionDays: 365, flushIntervalMs: 20 },
      dataDir,
      resolvePath: (p) => p,
    },
    createLogger({ level: "silent" }),
  );
  const request = new Request("http://x/v1/decide", { method: "POST", headers });
  const resource = { operation: "decision.decide" };
  const one = async (i: number) => {
    const { identity } = await security.admit(request, resource, "/v1/decide", () => "127.0.0.1");
    security.record({ identity: identity!.id, method: "POST", route: "/v1/decide", operation: "decision.decide", status: 200, outcome: "OK", requestId: `r${i}`, model: "fraud", modelVersion: "1", decisionId: `d${i}` });
  };
  for (let i = 0; i < 20_000; i++) await one(i);
  // Below the audit queue's cap. What the event loop pays: the audit records are hashed and committed by the
  // writer thread, so its work is not on this clock.
  const n = 50_000;
  const started = performance.now();
  for (let i = 0; i < n; i++) await one(i);
  const us = ((performance.now() - started) * 1000) / n;
  await security.close();
  return us;
}
console.log(
  `\nthe gate alone (no HTTP; authenticate + authorize + rate limit + queueing the audit record, which a writer thread commits): ` +
    `API key ${(await gateAlone(on.headers[0], on.dataDir)).toFixed(2)} µs/request, ` +
    `HS256 JWT ${(await gateAlone(on.headers[1], on.dataDir)).toFixed(2)} µs/request`,
);

for (const s of [none, off, on]) {
  await s.p.close();
  rmSync(s.dataDir, { recursive: true, force: true });
}
