/**
 * `cleave demo`: sends the demo world's live transactions (SYNTHETIC, see src/demo/stream.ts) to a running
 * deployment's POST /v1/score, with a progress bar, and prints what came back against the simulator's truth:
 * decisions per outcome, precision and recall, latency. The decision digest lets two runs (e.g. the monolith and
 * `cleave up --config configs/split.yaml`) be compared: the same seed gives the same decisions.
 */
import { SingleBar } from "cli-progress";
import { createHash } from "node:crypto";
import { builtinModules } from "../modules/catalog";
import type { DecisionConfig } from "../modules/decision/contract";
import { loadDeployment, loadEmbeddedDefault } from "../runtime/plugins";
import { demoWorld } from "../demo/stream";
import { percentile } from "../ml/metrics";
import { CliError, parse } from "./args";
import { summarizeDemo, type Scored } from "./demo-summary";

const USAGE = `cleave demo [--url URL] [-n N] [--concurrency C] [--config FILE] [--api-key KEY]
  sends N live transactions of the demo world (default 2000) to URL/v1/score (default $CLEAVE_URL or
  http://127.0.0.1:8080); --config names the deployment's config for the seed (default: the embedded one);
  the API key (printed once by the first start) comes from --api-key or $CLEAVE_API_KEY`;

export async function demoCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    url: { type: "string" },
    n: { type: "string", short: "n", default: "2000" },
    concurrency: { type: "string", default: "1" },
    config: { type: "string" },
    "api-key": { type: "string" },
  });
  const n = Number(values.n);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`-n must be a positive integer\n${USAGE}`);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw new CliError(`--concurrency must be 1..256\n${USAGE}`);
  const base = (values.url ?? process.env.CLEAVE_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
  const { config } = values.config ? await loadDeployment(values.config, builtinModules) : await loadEmbeddedDefault(builtinModules);
  const { bootstrap } = (config.modules.decision as DecisionConfig).pipeline;
  const live = demoWorld(bootstrap.seed, bootstrap.transactions).live.slice(0, n);
  if (live.length < n) throw new CliError(`the demo world has only ${live.length} live transactions; use -n ≤ ${live.length}`);

  const headers: Record<string, string> = { "content-type": "application/json" };
  const apiKey = values["api-key"] ?? process.env.CLEAVE_API_KEY;
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  const results: Scored[] = new Array(live.length);
  const bar = new SingleBar({ format: "scoring [{bar}] {value}/{total} {percentage}% | {eta}s left", hideCursor: true, noTTYOutput: true, stream: process.stderr });
  bar.start(live.length, 0);
  let next = 0;
  const started = performance.now();
  // Stopped on failure too: until it stops, the bar keeps the terminal's cursor hidden and may redraw over the error.
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < live.length) {
        const i = next++;
        const { label, pattern, ...tx } = live[i];
        const t0 = performance.now();
        const res = await fetch(`${base}/v1/score`, { method: "POST", headers, body: JSON.stringify(tx) }).catch((err) => {
          throw new CliError(`cannot reach ${base}: ${(err as Error).message} (is Cleave running? npm start)`, 1);
        });
        if (res.status === 401) {
          throw new CliError(`${base} wants an API key: pass --api-key KEY or set CLEAVE_API_KEY (the first start printed one)`);
        }
        const body = (await res.json()) as { decision?: string; error?: string };
        results[i] = { id: tx.id, label, pattern, status: res.status, decision: body.decision, error: body.error, ms: performance.now() - t0 };
        bar.increment();
      }
    }),
  ).finally(() => bar.stop());
  const seconds = (performance.now() - started) / 1000;
  console.log(summarizeDemo(results, seconds, percentile));
  const digest = createHash("sha256");
  for (const r of results) digest.update(`${r.id}:${r.decision ?? r.status}\n`);
  console.log(`decision digest (compare runs): ${digest.digest("hex").slice(0, 16)}`);
  return results.every((r) => r.status === 200) ? 0 : 1;
}
