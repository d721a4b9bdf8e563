/**
 * Cost of `monitoring.observe` per observation, in one run: the window and metrics alone, plus the SQLite write
 * that keeps predictions for late labels, plus drift + quality re-evaluation (amortised over `evaluateEvery`),
 * called over the in-process bus (schema validation included) and over HTTP.
 *
 *   bun bench/monitoring.ts [--seconds 3]
 */
import { parseArgs } from "node:util";
import type { Observation } from "../src/modules/monitoring/contract";
import { startTestProcess } from "../test/harness/deployment";
import { baselineFrom, observation, rng, row } from "../test/monitoring/simulator";
import { machine, summarize, table } from "./lib/report";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "3" } } });
const seconds = Number(values.seconds);

interface Scenario {
  name: string;
  batch: number;
  ids: boolean;
  baseline: boolean;
  evaluateEvery: number;
  http?: boolean;
}

const NEVER = 1_000_000_000;
const scenarios: Scenario[] = [
  { name: "window + metrics", batch: 1, ids: false, baseline: false, evaluateEvery: NEVER },
  { name: "window + metrics", batch: 100, ids: false, baseline: false, evaluateEvery: NEVER },
  { name: "+ predictions in SQLite", batch: 100, ids: true, baseline: true, evaluateEvery: NEVER },
  { name: "+ drift/quality every 1000", batch: 100, ids: true, baseline: true, evaluateEvery: 1000 },
  { name: "+ drift/quality every 100", batch: 100, ids: true, baseline: true, evaluateEvery: 100 },
  // evaluation runs at most once per batch: with batches of 1000 this is one evaluation per 1000 observations
  { name: "+ drift/quality once per batch", batch: 1000, ids: true, baseline: true, evaluateEvery: 100 },
  { name: "+ drift/quality every 1000, HTTP", batch: 100, ids: true, baseline: true, evaluateEvery: 1000, http: true },
];

async function run(s: Scenario) {
  const p = await startTestProcess({
    placement: "inprocess",
    http: s.http ?? false,
    modules: { monitoring: { window: { size: 1000 }, drift: { evaluateEvery: s.evaluateEvery, minObservations: 100 } } },
  });
  const r = rng(1);
  if (s.baseline) await p.bus.call("monitoring", "setBaseline", baselineFrom(Array.from({ length: 1000 }, () => row(r))));
  // A pool of pre-built batches, so the timing is monitoring's work, not the simulator's.
  let seq = 0;
  const batches: Observation[][] = Array.from({ length: 50 }, () =>
    Array.from({ length: s.batch }, () => {
      const o = observation(row(r), `id-${seq++}`);
      if (!s.ids) delete o.decisionId;
      return o;
    }),
  );
  const bodies = batches.map((b) => JSON.stringify({ observations: b }));
  let i = 0;
  const call = s.http
    ? async () => {
        const res = await fetch(`${p.url}/v1/monitoring/observations`, { method: "POST", headers: { "content-type": "application/json" }, body: bodies[i++ % bodies.length] });
        await res.arrayBuffer();
      }
    : () => p.bus.call("monitoring", "observe", { observations: batches[i++ % batches.length] });
  for (let w = 0; w < 200; w++) await call();
  const latencies: number[] = [];
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    const t = performance.now();
    await call();
    latencies.push(((performance.now() - t) * 1000) / s.batch);
  }
  const summary = summarize(latencies, (performance.now() - started) / 1000);
  await p.close();
  return [s.name, String(s.batch), summary.p50, summary.p99, summary.perSecond * s.batch];
}

const rows: (string | number)[][] = [];
for (const s of scenarios) rows.push(await run(s));
console.log(`monitoring.observe cost per observation — ${machine()}\n`);
console.log(table(["scenario", "batch", "p50 µs/obs", "p99 µs/obs", "observations/s"], rows));
