/**
 * POST /v1/score end to end, in one run: the monolith (the embedded default config) and the split topology
 * (`cleave up`, every module its own process over NATS), each started as real `cleave` processes with the demo
 * model bootstrapped; load from a separate process at fixed rates and at saturation. Also, at saturation, the
 * monolith without the monitoring module (monitoring's cost) and with authentication on (an API key per request:
 * its cost); the other runs have authentication off.
 *
 * Load comes from `wrk` (bench/lib/score-wrk.lua: a distinct transaction per request) when it is installed
 * (`npm run bench` installs it): a Bun fetch client tops out near the server's own rate on this machine, and at
 * fixed rates its own garbage collections and timer lag showed up as server latency (p99 6–17 ms from a Bun client
 * against 2.4–4.8 ms from wrk, same server, same rate). Saturation: a closed loop of `--concurrency` connections.
 * Fixed rates: Poisson arrivals from many connections with random think times (score-wrk.lua explains why that
 * measures latency from arrival). Without wrk, bench/lib/score-load.ts does both (an open loop for rates, latency
 * from each request's scheduled send time), and the table says so.
 * With wrk, the monolith's rows also give the server's CPU time per request (Linux /proc): all its threads, and its
 * main thread alone (the event loop every request passes through): steadier than req/s on a shared machine.
 *
 *   bun bench/score.ts [--seconds 10] [--warmup 60] [--rates 500,2000,5000] [--concurrency 64] [--rounds 3]
 *                      [--only monolith,split,no-monitoring,auth]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { Child, REPO, writeConfig } from "../test/harness/child";
import { freePort } from "../test/harness/nats-server";
import { machine, table } from "./lib/report";
import { runWrk } from "./lib/wrk";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    rates: { type: "string", default: "500,2000,5000" },
    concurrency: { type: "string", default: "64" },
    rounds: { type: "string", default: "3" },
    warmup: { type: "string", default: "60" },
    only: { type: "string", default: "monolith,split,no-monitoring,auth" },
  },
});
const seconds = Number(values.seconds);
const rates = values.rates!.split(",").map(Number);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);
const warmup = Number(values.warmup);
const only = new Set(values.only!.split(","));

interface Load {
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  serviceP50Ms: number;
  serviceP99Ms: number;
  /** Server CPU µs per request: all threads, and the main thread. */
  cpu?: { allUs: number; mainUs: number };
}

/** CPU seconds used by a process (all threads) and by its main thread, from /proc; undefined where there is none. */
function cpuSeconds(pid: number): { all: number; main: number } | undefined {
  const ticks = (file: string) => {
    const stat = readFileSync(file, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from the 3rd (state) on
    return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (USER_HZ = 100)
  };
  try {
    return { all: ticks(`/proc/${pid}/stat`) / 100, main: ticks(`/proc/${pid}/task/${pid}/stat`) / 100 };
  } catch {
    return undefined;
  }
}

const monolith = parseYaml(readFileSync(join(REPO, "configs/monolith.yaml"), "utf8")) as Record<string, any>;
monolith.modules.decision.pipeline.bootstrap.transactions = 8000;
monolith.log = { level: "warn" };
monolith.auth = { mode: "off" };
const API_KEY = `clv_bench0001_${"k".repeat(43)}`;

/** `pid`: the process serving /v1/score, when it is one (not for split, where it is the `cleave up` supervisor). */
async function deployment(kind: string): Promise<{ url: string; pid?: number; stop: () => Promise<void> }> {
  const work = mkdtempSync(join(tmpdir(), `cleave-bench-${kind}-`));
  const port = await freePort();
  const config = structuredClone(monolith);
  config.dataDir = join(work, "data");
  config.http = { host: "127.0.0.1", port };
  let child: Child;
  if (kind === "split") {
    const nats = await freePort();
    config.bus = { transport: "nats", nats: { servers: [`nats://127.0.0.1:${nats}`], onUnreachable: "retry" } };
    config.process = { modules: [] };
    config.up = {
      nats: { start: true, port: nats, storeDir: join(work, "nats") },
      // configs/split.yaml's placement (with one inference replica): every module its own process, the gateway in
      // the decision process.
      processes: ["ingestion", "feature", "inference", "decision", "registry", "monitoring"].map((m) => ({
        name: m,
        modules: [m],
        ...(m === "decision" ? { httpPort: port } : {}),
      })),
    };
    child = new Child(["up", "--config", writeConfig(config, work)]);
  } else {
    if (kind === "no-monitoring") delete config.modules.monitoring;
    if (kind === "auth") config.auth = { mode: "on", apiKeys: { bootstrapKey: API_KEY } };
    child = new Child(["serve", "--config", writeConfig(config, work)]);
  }
  const url = `http://127.0.0.1:${port}`;
  const probe = { id: "", card_id: "card-probe", merchant_id: "merchant-probe", amount: 1, country: "US", device_id: "device-probe" };
  const headers = { authorization: `Bearer ${API_KEY}` };
  for (let i = 0; ; i++) {
    const res = await fetch(`${url}/v1/score`, { method: "POST", headers, body: JSON.stringify({ ...probe, id: `probe-${i}` }) }).catch(
      () => undefined,
    );
    if (res?.status === 200) break;
    if (i > 1200) throw new Error(`${kind} never served /v1/score:\n${child.stderr.slice(-2000)}`);
    await Bun.sleep(100);
  }
  return {
    url,
    pid: kind === "split" ? undefined : child.proc.pid,
    stop: async () => {
      child.proc.kill(kind === "split" ? "SIGINT" : "SIGTERM");
      await child.exit(30_000);
      rmSync(work, { recursive: true, force: true });
    },
  };
}

const WRK = Bun.which("wrk");
if (!WRK) console.error("wrk not found (apt-get install wrk): saturation is measured with the Bun fetch closed loop instead");
const generator = WRK ? "wrk (fixed rates: Poisson arrivals)" : "Bun fetch (bench/lib/score-load.ts)";

/**
 * wrk: at saturation `n` connections in a closed loop; at a fixed `rate`, enough connections that each waits ~32 ms
 * on average between requests (far above the response time). Each phase settles for `settle` seconds at its load
 * before it is measured.
 */
async function wrkLoad(url: string, n: number, prefix: string, pid?: number, rate?: number, settle = rate ? 5 : 1): Promise<Load> {
  const connections = rate ? Math.max(16, Math.ceil(rate * 0.032)) : n;
  const think: Record<string, string> = rate ? { SCORE_THINK_MS: String((connections / rate) * 1000) } : {};
  const run = async (tag: string, s: number) =>
    (await runWrk({
      url,
      connections,
      seconds: s,
      script: join(REPO, "bench/lib/score-wrk.lua"),
      extraArgs: ["--timeout", "10s"],
      env: { SCORE_PREFIX: `${prefix}-${tag}`, CLEAVE_API_KEY: API_KEY, ...think },
    })) as Load;
  await run("warm", settle);
  const before = pid === undefined ? undefined : cpuSeconds(pid);
  const result = await run("run", seconds);
  const after = pid === undefined ? undefined : cpuSeconds(pid);
  if (before && after && result.requests) {
    const us = (s: number) => Math.round((s / result.requests) * 1e6);
    result.cpu = { allUs: us(after.all - before.all), mainUs: us(after.main - before.main) };
  }
  return result;
}

async function load(url: string, mode: "rate" | "concurrency", n: number, prefix: string, pid?: number): Promise<Load> {
  if (WRK) return mode === "concurrency" ? wrkLoad(`${url}/v1/score`, n, prefix, pid) : wrkLoad(`${url}/v1/score`, 0, prefix, pid, n);
  const gen = new Child([join(REPO, "bench/lib/score-load.ts"), `${url}/v1/score`, mode, String(n), String(seconds), prefix], {
    cmd: [process.execPath],
    env: { ...process.env, CLEAVE_API_KEY: API_KEY } as Record<string, string>,
  });
  await gen.exit(seconds * 1000 + 60_000);
  return JSON.parse(gen.stdout.trim().split("\n").pop()!) as Load;
}

const rows: (string | number)[][] = [];
for (const kind of ["monolith", "split"].filter((k) => only.has(k))) {
  const d = await deployment(kind);
  try {
    // A fresh process is not in its steady state for a minute or more: on two cores the JIT's background
    // compilation competes with the event loop (at 2k req/s, CPU per request fell from 224 / 155 µs 30-40 s after
    // start to 189 / 137 µs 70-80 s after, p99 from 3.7 to 2.5 ms). Measured after `--warmup` s at 2k req/s.
    if (WRK && warmup > 0) await wrkLoad(`${d.url}/v1/score`, 0, `${kind}-warmup`, undefined, 2000, warmup);
    const phases: ["rate" | "concurrency", number][] = rates.map((r) => ["rate", r] as ["rate", number]);
    phases.push(["concurrency", concurrency]);
    for (const [mode, n] of phases) {
      const r = await load(d.url, mode, n, `${kind}-${mode}-${n}`, d.pid);
      const what = mode === "rate" ? `${n} req/s offered` : `saturation (c=${n})`;
      const failed = r.errors ? `${r.errors} (${Object.entries(r.statuses).map(([s, c]) => `${c}×${s}`).join(", ")})` : "0";
      const cpu = r.cpu ? `${r.cpu.allUs} / ${r.cpu.mainUs}` : "";
      rows.push([kind, what, Math.round(r.perSecond), r.p50Ms, r.p99Ms, r.serviceP50Ms, r.serviceP99Ms, cpu, failed]);
      console.error(`${kind} ${what}: ${Math.round(r.perSecond)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms`);
    }
  } finally {
    await d.stop();
  }
}

/**
 * Costs as ratios: the monolith, the monolith without monitoring and the monolith with authentication on run side
 * by side (idle when not loaded) and take turns at saturation, several rounds, so that the machine's drift hits
 * them alike; the median of each round's ratio is reported. Each round starts with the next variant: in a fixed
 * order the last one was always measured after the others had loaded the machine for that round.
 */
const variants = ["monolith", "no-monitoring", "auth"].filter((k) => k === "monolith" || only.has(k));
const running = only.has("no-monitoring") || only.has("auth") ? await Promise.all(variants.map((v) => deployment(v))) : [];
const perRound: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v, []]));
const cpuRound: Record<string, string[]> = Object.fromEntries(variants.map((v) => [v, []]));
try {
  for (let round = 0; round < rounds && running.length; round++) {
    for (let turn = 0; turn < variants.length; turn++) {
      const i = (round + turn) % variants.length;
      const v = variants[i];
      const r = await load(running[i].url, "concurrency", concurrency, `${v}-round${round}`, running[i].pid);
      perRound[v].push(r.perSecond);
      if (r.cpu) cpuRound[v].push(`${r.cpu.allUs}/${r.cpu.mainUs}`);
      console.error(`round ${round + 1} ${v}: ${Math.round(r.perSecond)} req/s`);
    }
  }
} finally {
  await Promise.all(running.map((d) => d.stop()));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ratio = (v: string) =>
  perRound[v]?.length ? median(perRound[v].map((x, i) => x / perRound.monolith[i])).toFixed(2) : "n/a";

console.log(`\nPOST /v1/score — ${machine()}\n${seconds} s per phase after ${warmup} s at 2k req/s from start; load generator in its own process: ${generator}\n`);
console.log(table(["placement", "load", "req/s", "p50 ms", "p99 ms", "p50 ms (sent)", "p99 ms (sent)", "CPU µs/req all / main", "failed"], rows));
console.log(
  WRK
    ? "p50/p99: from when each request was sent (wrk), which at fixed rates is when it arrived; (sent) is the same figure"
    : "p50/p99: from each request's scheduled time (includes any queueing); (sent): from when it was actually sent",
);
const sat = (kind: string) => rows.find((r) => r[0] === kind && String(r[1]).startsWith("saturation"))?.[2] as number | undefined;
const m = sat("monolith");
const sp = sat("split");
if (m && sp) console.log(`\nsplit / monolith saturation throughput: ${(sp / m).toFixed(2)}`);
if (running.length) {
  console.log(`\nside by side at saturation (c=${concurrency}), ${rounds} rounds, req/s per round:`);
  for (const v of variants) {
    const cpu = cpuRound[v].length ? `   (CPU µs/req all/main: ${cpuRound[v].join(", ")})` : "";
    console.log(`  ${v.padEnd(14)} ${perRound[v].map((x) => Math.round(x)).join(", ")}${cpu}`);
  }
  if (perRound["no-monitoring"]) {
    console.log(`monolith with monitoring / without (median of rounds): ${(1 / Number(ratio("no-monitoring"))).toFixed(2)}`);
  }
  if (perRound.auth) console.log(`monolith with authentication on / off (median of rounds): ${ratio("auth")}`);
}
process.exit(0);
