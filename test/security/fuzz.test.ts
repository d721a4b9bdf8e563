/**
 * Hostile input against every route of a real `cleave serve` child (all six modules, auth on): ≥ 10,000 requests
 * of random bytes, truncated and deeply nested JSON, wrong types, huge numbers, NaN, lying Content-Length and
 * Inference-Header-Content-Length, path tricks (../, %2e%2e, %2f, NUL, overlong segments), huge headers. Loopback
 * only, seeded (reproducible), bounded in count and time. The process must answer no 5xx, never crash, and its
 * resident memory must come back near where it started.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { builtinModules } from "../../src/modules/catalog";
import { Child, writeConfig } from "../harness/child";
import { freePort } from "../harness/nats-server";
import { ALL_MODULES } from "./helpers";
import { rng } from "../harness/rng";

const ADMIN = `clv_f0220000_${"k".repeat(43)}`;
const TOTAL = 10_400;
const CONCURRENCY = 12;

interface Route {
  method: string;
  path: string;
}
const ROUTES: Route[] = [
  ...Object.values(builtinModules).flatMap(({ contract }) => contract.routes.map((r) => ({ method: r.method, path: r.path }))),
  { method: "GET", path: "/readyz" },
  { method: "GET", path: "/metrics" },
  { method: "GET", path: "/openapi/json" },
  { method: "GET", path: "/healthz" },
];

const random = rng(20261124);
const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256));

const WEIRD_VALUES = [1e308, -1e308, 2 ** 53 + 1, -0, "NaN", "", "x".repeat(5000), null, true, [], {}, [[[[]]]], { __proto__: { admin: true } }, "\u0000", "💥", -1, 1.5];
const SEGMENTS = ["..", "%2e%2e", "%2E%2e%2f..", "..%2f..%2fetc%2fpasswd", "%00", "a%2fb", "x".repeat(3000), "%ff%fe", "constructor", "__proto__", "%252e%252e", "~", "🙂", ".", "champion"];

const fill = (path: string) => path.replace(/:(\w+)/g, () => (random() < 0.5 ? pick(SEGMENTS) : pick(["fraud", "1", "x1", "-1", "99999999999999999999"])));

function jsonBody(): string {
  switch (Math.floor(random() * 8)) {
    case 0: return "[".repeat(1 + Math.floor(random() * 100_000));
    case 1: return `{"a":${"{\"a\":".repeat(5000)}1${"}".repeat(5000)}}`;
    case 2: return JSON.stringify({ transaction: pick(WEIRD_VALUES), score: pick(WEIRD_VALUES), model: pick(WEIRD_VALUES) }).slice(0, Math.floor(random() * 80));
    case 3: return `{"score": NaN, "n": Infinity, "m": -Infinity, "big": 1e999999}`;
    case 4: return JSON.stringify({ inputs: [{ name: "x", shape: [pick([1e9, -1, 2 ** 31, 0, 3]), pick([1e9, 4, "a"])], datatype: pick(["FP32", "BYTES", "??"]), data: pick(WEIRD_VALUES) }] });
    case 5: return JSON.stringify(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, pick(WEIRD_VALUES)])));
    case 6: return JSON.stringify(pick(WEIRD_VALUES));
    default: return new TextDecoder().decode(bytes(1 + Math.floor(random() * 2000)));
  }
}

interface Shot {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

function shot(i: number): Shot {
  const route = ROUTES[i % ROUTES.length];
  const headers: Record<string, string> = {};
  const auth = random();
  if (auth < 0.75) headers.authorization = `Bearer ${ADMIN}`;
  else if (auth < 0.8) headers.authorization = `Bearer ${"a".repeat(10)}.${"b".repeat(10)}.${"c".repeat(10)}`;
  else if (auth < 0.85) headers.authorization = pick(["Bearer", "Bearer  ", "Basic x", `Bearer clv_${"z".repeat(2000)}`]);
  let path = fill(route.path);
  const trick = random();
  if (trick < 0.08) path = `${path}/${pick(SEGMENTS)}/${pick(SEGMENTS)}`;
  else if (trick < 0.12) path = `/${pick(SEGMENTS)}${path}`;
  else if (trick < 0.15) path = `${path}?${pick(["limit=-1", "limit=1e999", "offset=NaN", "scope=deployment", "a[b][c]=1", "x=%ff"])}`;
  const kind = random();
  if (kind < 0.45) {
    headers["content-type"] = pick(["application/json", "application/json; charset=utf-16", "text/plain", "application/octet-stream"]);
    return { method: route.method === "GET" ? pick(["GET", "POST"]) : route.method, path, headers, body: jsonBody() };
  }
  if (kind < 0.65) {
    headers["content-type"] = "application/octet-stream";
    headers["inference-header-content-length"] = pick(["999999999", "-1", "0", "abc", "12", "1e9", String(2 ** 53)]);
    headers["x-cleave-metadata"] = pick(["{", "[]", '{"actor":{"id":"root","roles":["admin"]}}', "null"]);
    return { method: route.method, path, headers, body: bytes(Math.floor(random() * 4096)) };
  }
  if (kind < 0.75) {
    headers["x-huge"] = "h".repeat(pick([1_000, 8_000, 20_000, 70_000]));
    return { method: route.method, path, headers };
  }
  if (kind < 0.8) return { method: pick(["DELETE", "PATCH", "PUT", "OPTIONS", "HEAD"]), path, headers, body: "{}" };
  return { method: route.method, path, headers, body: route.method === "GET" ? undefined : jsonBody() };
}

/** A raw HTTP/1.1 request whose Content-Length lies (longer or shorter than the bytes sent), over a plain socket. */
const lyingRoute = (i: number) => ROUTES[i % ROUTES.length];

/** The path as the server routes it: dot segments (also %2e%2e) resolved, query dropped. */
function normalized(path: string): string {
  try {
    return new URL(path, "http://x").pathname;
  } catch {
    return path.split("?")[0];
  }
}

function lyingRequest(port: number, i: number): Promise<number> {
  const route = lyingRoute(i);
  const body = jsonBody().slice(0, 500);
  const declared = pick([body.length + 100, Math.max(0, body.length - 3), 2 ** 40, -5]);
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(`${route.method} ${fill(route.path)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN}\r\nContent-Length: ${declared}\r\nConnection: close\r\n\r\n${body}`);
      // A body shorter than declared: stop waiting and hang up, as a client that vanished would.
      setTimeout(() => socket.end(), 200);
    });
    let head = "";
    socket.on("data", (d) => (head ||= d.toString("latin1").split("\r\n")[0]));
    socket.on("close", () => resolve(Number(head.split(" ")[1]) || 0));
    socket.on("error", () => resolve(0));
    socket.setTimeout(5000, () => socket.destroy());
  });
}

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;

let child: Child;
let base: string;
let port: number;

beforeAll(async () => {
  port = await freePort();
  const config = writeConfig({
    modules: ALL_MODULES,
    dataDir: "./data",
    http: { port, maxBodyBytes: 1 << 20 },
    auth: { mode: "on", apiKeys: { bootstrapKey: ADMIN } },
    log: { level: "fatal" },
  });
  child = new Child(["serve", "--config", config]);
  await child.waitFor("REST at", 30_000);
  base = `http://127.0.0.1:${port}`;
}, 40_000);

afterAll(async () => {
  await child.kill("SIGTERM");
});

test(`fuzz: ${TOTAL} hostile requests over ${ROUTES.length} routes — no 5xx, no crash, memory back near its start`, async () => {
  const warm = await fetch(`${base}/readyz`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(warm.status).toBe(200);
  const startRss = rssOf(child.proc.pid);
  const statuses = new Map<number, number>();
  const fiveHundreds: string[] = [];
  let next = 0;
  let network = 0;
  let until = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < until && performance.now() - started < 50_000) {
      const i = next++;
      let status: number;
      let what: string;
      let path: string;
      if (i % 40 === 39) {
        status = await lyingRequest(port, i);
        what = `raw #${i}`;
        path = lyingRoute(i).path;
      } else {
        const s = shot(i);
        what = `${s.method} ${s.path.slice(0, 120)}`;
        path = s.path;
        try {
          const res = await fetch(base + s.path, { method: s.method, headers: s.headers, body: s.method === "GET" || s.method === "HEAD" ? undefined : s.body });
          status = res.status;
          await res.arrayBuffer();
        } catch {
          status = 0; // the client refused to send it (e.g. an invalid header) or the connection dropped
        }
      }
      if (status === 0) network++;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      // Readiness routes answer 503 while what they report on is not ready (no model is loaded here): by design.
      const readiness = status === 503 && /\/ready\/?$/.test(normalized(path));
      if (status >= 500 && !readiness) fiveHundreds.push(`${status} ${what}`);
    }
  };
  // Two halves: growth over the first is warm-up (JIT, caches, pools); the second must add next to nothing.
  until = TOTAL / 2;
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await Bun.sleep(1500);
  const midRss = rssOf(child.proc.pid);
  until = TOTAL;
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;

  // Still alive and healthy.
  expect(child.proc.exitCode).toBeNull();
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  expect((await fetch(`${base}/readyz`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(200);
  await Bun.sleep(1500);
  const endRss = rssOf(child.proc.pid);
  const sent = [...statuses.values()].reduce((a, b) => a + b, 0);
  const summary = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}:${n}`).join(" ");
  console.log(`fuzz: ${sent} requests in ${seconds.toFixed(1)} s; statuses ${summary}; 5xx ${fiveHundreds.length}; ` +
    `RSS ${(startRss / 2 ** 20).toFixed(0)} → ${(midRss / 2 ** 20).toFixed(0)} (half-way) → ${(endRss / 2 ** 20).toFixed(0)} MiB`);
  expect(fiveHundreds.slice(0, 10)).toEqual([]);
  expect(sent).toBeGreaterThanOrEqual(10_000);
  // Connections the client could not complete are not answers; they must stay a small minority.
  expect(network).toBeLessThan(sent * 0.05);
  expect(endRss - startRss).toBeLessThan(96 * 2 ** 20);
  // RSS grows in steps of several MiB as heaps warm, and the process now has more of them (the writer threads of
  // the audit log, decision audit, monitoring and features): second halves measured -3 to +33 MiB with no leak
  // (30 s of wrk on one model, 1.4M audited predictions, stays at 170–190 MiB). A per-request leak of ~10 KB
  // would still show.
  expect(endRss - midRss).toBeLessThan(48 * 2 ** 20);
}, 80_000);
