/**
 * What security costs on one representative route, in one run: POST /v1/decide (the issue names /v1/score, which no
 * module serves yet; decide is the same shape — one JSON transaction in, one decision out) over real HTTP.
 * Three gateways run side by side: everything off (no auth, no audit, no rate limits); auth off with the audit log
 * on (the default when auth is off); auth on (API key or HS256 JWT, an access rule, a rate-limit bucket, the audit
 * log). "Auth on vs off" compares the last two, which differ only by authentication, authorization and rate
 * limiting; the first row shows what the audit log adds. Rounds alternate so drift in machine load hits every case,
 * and the median round of each is reported.
 *
 *   bun bench/auth.ts [--seconds 2] [--rounds 5] [--concurrency 32]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import { seedKeys } from "../test/security/helpers";
import { startTestProcess, type TestProcess } from "../test/harness/deployment";
import { machine, table } from "./lib/report";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "2" }, rounds: { type: "string", default: "5" }, concurrency: { type: "string", default: "32" } } });
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

async function measure(url: string, auth: Record<string, string>): Promise<number> {
  let n = 0;
  let failed = 0;
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
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
  return n / ((performance.now() - started) / 1000);
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
const results = new Map<string, number[]>(cases.map(([label]) => [label, []]));
for (let r = 0; r < rounds; r++) for (const [label, url, auth] of cases) results.get(label)!.push(await measure(url, auth));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(results.get(OFF)!);

console.log(`auth bench — POST /v1/decide over HTTP, ${concurrency} concurrent clients in the same process; ${machine()}`);
console.log(`${rounds} alternating rounds of ${seconds} s; median round per case\n`);
console.log(
  table(
    ["case", "requests/s (median)", "min", "max", "ratio to auth off"],
    cases.map(([label]) => {
      const xs = results.get(label)!;
      return [label, median(xs), Math.min(...xs), Math.max(...xs), `${(median(xs) / base).toFixed(3)}×`];
    }),
  ),
);
for (const s of [none, off, on]) {
  await s.p.close();
  rmSync(s.dataDir, { recursive: true, force: true });
}
