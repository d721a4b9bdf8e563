/**
 * Token buckets through the real gateway: a burst beyond a caller's quota gets 429 with Retry-After and RateLimit-*
 * headers while another caller is unaffected; a model's bucket is shared by every caller; a reload (and SIGHUP to a
 * real `cleave serve`) changes the limits live.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RateLimiter } from "../../src/runtime/security/rate-limit";
import { stringify } from "yaml";
import { Child, writeConfig } from "../harness/child";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { freePort } from "../harness/nats-server";
import { bearer, seedKeys } from "./helpers";

const MODULES = { registry: {} };

describe("rate limits at the gateway", () => {
  let p: TestProcess;
  let keys: Record<string, string>;
  const rateLimits = { perIdentity: { rate: 1, burst: 5 }, identities: { "key:vip": { rate: 1000, burst: 1000 } }, models: { fraud: { rate: 1, burst: 8 } } };

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "cleave-rl-"));
    keys = seedKeys(dataDir, { greedy: ["reader"], modest: ["reader"], vip: ["reader"], third: ["reader"] });
    p = await startTestProcess({
      placement: "inprocess",
      modules: MODULES,
      dataDir,
      extra: { auth: { mode: "on", rules: [{ operations: ["registry.*"], roles: ["reader"] }] }, rateLimits },
    });
  });
  afterAll(() => p.close());

  const list = (key: string) => fetch(`${p.url}/v1/registry/models`, { headers: bearer(key) });

  test("a burst beyond the quota gets 429 with correct headers; another client is unaffected", async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 12; i++) {
      const res = await list(keys.greedy);
      statuses.push(res.status);
      if (res.status === 200) {
        expect(res.headers.get("ratelimit-limit")).toBe("5");
        expect(Number(res.headers.get("ratelimit-remaining"))).toBeLessThan(5);
      }
      last = res;
    }
    // Refill is 1/s, so at most one extra token can appear during the burst.
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok).toBeGreaterThanOrEqual(5);
    expect(ok).toBeLessThanOrEqual(6);
    expect(statuses.filter((s) => s === 429).length).toBe(12 - ok);
    expect(last!.status).toBe(429);
    expect(Number(last!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(last!.headers.get("ratelimit-limit")).toBe("5");
    expect(last!.headers.get("ratelimit-remaining")).toBe("0");
    expect(Number(last!.headers.get("ratelimit-reset"))).toBeGreaterThanOrEqual(1);
    expect(((await last!.json()) as { code: string }).code).toBe("RESOURCE_EXHAUSTED");
    // Another caller has its own bucket, untouched by the flood.
    expect((await list(keys.modest)).status).toBe(200);
    // A named identity gets its own, larger quota.
    for (let i = 0; i < 20; i++) expect((await list(keys.vip)).status).toBe(200);
  });

  test("a model's bucket is shared by all callers of that model, and other models are unaffected", async () => {
    const ask = (key: string, model: string) => fetch(`${p.url}/v1/registry/models/${model}`, { headers: bearer(key) });
    let refused = 0;
    for (let i = 0; i < 12; i++) if ((await ask(keys.vip, "fraud")).status === 429) refused++;
    expect(refused).toBeGreaterThanOrEqual(3);
    const other = await ask(keys.third, "fraud");
    expect(other.status).toBe(429);
    expect(other.headers.get("ratelimit-limit")).toBe("8");
    expect((await ask(keys.third, "churn")).status).not.toBe(429);
  });

  test("reloaded limits apply at once", async () => {
    p.reloadSecurity({ ...p.config, rateLimits: { ...rateLimits, identities: { ...rateLimits.identities, "key:modest": { rate: 1000, burst: 1000 } } } });
    // Bucket levels are kept across a reload and refill at the new rate (1000/s): 50 ms gives 50 tokens.
    await Bun.sleep(50);
    for (let i = 0; i < 15; i++) expect((await list(keys.modest)).status).toBe(200);
  });
});

describe("token bucket arithmetic", () => {
  test("refills at its rate up to its burst", () => {
    const rl = new RateLimiter({ perIdentity: { rate: 2, burst: 3 }, identities: {}, models: {} });
    expect([0, 0, 0, 0].map(() => rl.take("a", undefined, 0)!.allowed)).toEqual([true, true, true, false]);
    const refused = rl.take("a", undefined, 0)!;
    expect(refused.retryAfterSeconds).toBe(1);
    expect(rl.take("a", undefined, 499)!.allowed).toBe(false);
    expect(rl.take("a", undefined, 501)!.allowed).toBe(true);
    // After a long idle time the bucket holds its burst, never more.
    expect([0, 0, 0, 0].map(() => rl.take("a", undefined, 60_000)!.allowed)).toEqual([true, true, true, false]);
  });
});

describe("SIGHUP reload of a running `cleave serve`", () => {
  test("re-reads the config file: new limits apply; a broken file is refused and the current limits stay", async () => {
    const port = await freePort();
    const base = { modules: { registry: {} }, dataDir: "./data", http: { port }, audit: { enabled: false } };
    const file = writeConfig({ ...base, rateLimits: { perIdentity: { rate: 0.01, burst: 2 } } });
    const child = new Child(["serve", "--config", file]);
    try {
      await child.waitFor("REST at", 20_000);
      const burst = async (n: number) => {
        const statuses: number[] = [];
        for (let i = 0; i < n; i++) statuses.push((await fetch(`http://127.0.0.1:${port}/v1/registry/models`)).status);
        return statuses;
      };
      expect(await burst(4)).toEqual([200, 200, 429, 429]);
      writeFileSync(file, "rateLimits: [not, a, mapping\n");
      child.proc.kill("SIGHUP");
      await child.waitFor("config not reloaded");
      expect(await burst(1)).toEqual([429]);
      writeFileSync(file, stringify({ ...base, rateLimits: { perIdentity: { rate: 1000, burst: 1000 } } }));
      child.proc.kill("SIGHUP");
      await child.waitFor("access rules and rate limits reloaded");
      await Bun.sleep(50);
      expect(await burst(10)).toEqual(new Array(10).fill(200));
    } finally {
      await child.kill("SIGTERM");
    }
  }, 30_000);
});
