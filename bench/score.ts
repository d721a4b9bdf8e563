/**
 * POST /v1/score end to end, in one run: the monolith (the embedded default config) and the split topology
 * (`cleave up`, every module its own process over NATS), each started as real `cleave` processes with the demo
 * model bootstrapped; load from a separate process at fixed rates and at saturation. Also, at saturation, the
 * monolith without the monitoring module (monitoring's cost) and with authentication on (an API key per request:
 * its cost); the other runs have authentication off.
 *
 *   bun bench/score.ts [--seconds 5] [--rates 500,2000,5000] [--concurrency 64]
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

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    rates: { type: "string", default: "500,2000,5000" },
    concurrency: { type: "string", default: "64" },
    only: { type: "string", default: "monolith,split,no-monitoring,auth" },
  },
});
const seconds = Number(values.seconds);
const rates = values.rates!.split(",").map(Number);
const concurrency = Number(values.concurrency);
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
}

const monolith = parseYaml(readFileSync(join(REPO, "configs/monolith.yaml"), "utf8")) as Record<string, any>;
monolith.modules.decision.pipeline.bootstrap.transactions = 8000;
monolith.log = { level: "warn" };
monolith.auth = { mode: "off" };
const API_KEY = `clv_bench0001_${"k".repeat(43)}`;

async function deployment(kind: string): Promise<{ url: string; stop: () => Promise<void> }> {
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
      processes: [
        { name: "gateway", modules: [], httpPort: port },
        ...["ingestion", "feature", "inference", "decision", "registry", "monitoring"].map((m) => ({ name: m, modules: [m] })),
      ],
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
    stop: async () => {
      child.proc.kill(kind === "split" ? "SIGINT" : "SIGTERM");
      await child.exit(30_000);
      rmSync(work, { recursive: true, force: true });
    },
  };
}

async function load(url: string, mode: "rate" | "concurrency", n: number, prefix: string): Promise<Load> {
  const gen = new Child([join(REPO, "bench/lib/score-load.ts"), `${url}/v1/score`, mode, String(n), String(seconds), prefix], {
    cmd: [process.execPath],
    env: { ...process.env, CLEAVE_API_KEY: API_KEY } as Record<string, string>,
  });
  await gen.exit(seconds * 1000 + 60_000);
  return JSON.parse(gen.stdout.trim().split("\n").pop()!) as Load;
}

const rows: (string | number)[][] = [];
const saturation: Record<string, number> = {};
for (const kind of ["monolith", "split", "no-monitoring", "auth"].filter((k) => only.has(k))) {
  const d = await deployment(kind);
  try {
    const saturationOnly = kind === "no-monitoring" || kind === "auth";
    const phases: ["rate" | "concurrency", number][] = saturationOnly ? [] : rates.map((r) => ["rate", r] as ["rate", number]);
    phases.push(["concurrency", concurrency]);
    for (const [mode, n] of phases) {
      const r = await load(d.url, mode, n, `${kind}-${mode}-${n}`);
      const what = mode === "rate" ? `${n} req/s offered` : `saturation (c=${n})`;
      const failed = r.errors ? `${r.errors} (${Object.entries(r.statuses).map(([s, c]) => `${c}×${s}`).join(", ")})` : "0";
      rows.push([kind, what, Math.round(r.perSecond), r.p50Ms, r.p99Ms, r.serviceP50Ms, r.serviceP99Ms, failed]);
      if (mode === "concurrency") saturation[kind] = r.perSecond;
      console.error(`${kind} ${what}: ${Math.round(r.perSecond)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms`);
    }
  } finally {
    await d.stop();
  }
}

console.log(`\nPOST /v1/score — ${machine()}\n${seconds} s per phase; load generator in its own process; latency from the scheduled send time\n`);
console.log(table(["placement", "load", "req/s", "p50 ms", "p99 ms", "p50 ms (sent)", "p99 ms (sent)", "failed"], rows));
console.log("p50/p99: from each request's scheduled time (includes any queueing); (sent): from when it was actually sent");
const ratio = (a: string, b: string) => (saturation[a] && saturation[b] ? (saturation[a] / saturation[b]).toFixed(2) : "n/a");
console.log(`\nsplit / monolith saturation throughput: ${ratio("split", "monolith")}`);
console.log(`monolith with monitoring / without: ${ratio("monolith", "no-monitoring")}`);
console.log(`monolith with authentication on / off: ${ratio("auth", "monolith")}`);
process.exit(0);
