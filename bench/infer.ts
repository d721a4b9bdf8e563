/**
 * Inference benchmark: `bun bench/infer.ts` (BENCH_SECONDS=3 per cell by default).
 *
 * For a small MLP (30→64→1) and a heavy wide MLP (256→2048→2048→1), at several concurrencies:
 *   (a) a raw onnxruntime-node loop in this process (tensor creation + session.run, no HTTP);
 *   (b0) the same handler on bare Bun.serve, no framework: the floor any HTTP server here stands on;
 *   (b) a minimal hand-written Elysia V2 handler (JSON in, session.run, JSON out);
 *   (c) Cleave's V2 endpoint with default settings (gateway → bus → inference module);
 *   (c1) heavy model only: Cleave with batching off (maxBatchSize 1), same worker count as (c).
 * At concurrency 1 the small model's (b0), (b) and (c) also run with wrk and this process on one vCPU (b0', b', c'):
 * see onOneCpu.
 * HEAVY_WIDTH (default 4096) sets the heavy model's hidden width: 256→W→W→1.
 * HTTP load comes from wrk (bench/lib/wrk.ts) in its own process, keep-alive on loopback. BENCH_SECONDS (default 2)
 * and BENCH_ROUNDS (default 3) set the effort; BENCH_MODELS (default "small,heavy") picks the models.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { Elysia } from "elysia";
import { builtinModules } from "../src/modules/catalog";
import { validateConfig } from "../src/runtime/config/load";
import { startProcess } from "../src/runtime/host";
import { createLogger } from "../src/runtime/log";
import { loadOnnxRuntime } from "../src/runtime/native/onnxruntime";
import { smallMlp, wideMlp } from "../test/fixtures/make-models";
import { requireWrk, wrk, writeBodies } from "./lib/wrk";

requireWrk();

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
/** Each cell runs this many times, interleaved with the other modes, and reports its median round (by req/s):
 * the machine is shared, and interleaving spreads other load over all modes alike. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = [1, 8, 32, 64];
const dir = mkdtempSync(join(tmpdir(), "cleave-bench-"));
const HEAVY_WIDTH = Number(process.env.HEAVY_WIDTH ?? 4096);
const MODELS = { small: { bytes: smallMlp(), width: 30 }, heavy: { bytes: wideMlp(HEAVY_WIDTH), width: 256 } };
for (const [name, m] of Object.entries(MODELS)) writeFileSync(join(dir, `${name}.onnx`), m.bytes);

interface Cell { model: string; mode: string; concurrency: number; rps: number; p50Us: number; p99Us: number; errors: number }
const cells: Cell[] = [];
const ort = await loadOnnxRuntime();
const sessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 as const };

const rowOf = (width: number) => Array.from({ length: width }, (_, i) => Math.sin(i) / 2);

/** (a): `concurrency` async loops over one session in this process. */
async function rawLoop(model: keyof typeof MODELS, concurrency: number): Promise<Cell> {
  const { bytes, width } = MODELS[model];
  const session = await ort.InferenceSession.create(bytes, sessionOptions);
  const row = Float32Array.from(rowOf(width));
  const once = () => session.run({ x: new ort.Tensor("float32", row.slice(), [1, width]) });
  for (let i = 0; i < 200; i++) await once();
  const latencies: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await once();
      latencies.push(performance.now() - t);
    }
  }));
  const seconds = (performance.now() - start) / 1000;
  await session.release();
  latencies.sort((a, b) => a - b);
  return { model, mode: "a raw loop", concurrency, rps: latencies.length / seconds, p50Us: latencies[latencies.length >> 1] * 1000, p99Us: latencies[Math.floor(latencies.length * 0.99)] * 1000, errors: 0 };
}

/** wrk against a URL (each server was warmed up by the cells before; JIT and pools settle within the first). */
async function httpLoad(model: string, mode: string, url: string, width: number, concurrency: number, cpu?: number): Promise<Cell> {
  const bodyFile = writeBodies(join(dir, `body-${width}.txt`), [{ inputs: [{ name: "x", datatype: "FP32", shape: [1, width], data: rowOf(width) }] }]);
  const out = await wrk({ url, bodyFile, connections: concurrency, seconds: SECONDS, cpu });
  return { model, mode, concurrency, rps: out.requests / out.seconds, p50Us: out.p50Us, p99Us: out.p99Us, errors: out.errors };
}

/** The vCPU the one-vCPU cells run on; none where `taskset` is missing. */
const ONE_CPU = Bun.which("taskset") ? cpus().length - 1 : undefined;

/** `taskset` on this process: with a CPU list, pins every thread to it; without, returns the current list. */
function taskset(cpuList?: string): string {
  const args = cpuList === undefined ? ["-c", "-p"] : ["-a", "-c", "-p", cpuList];
  const out = Bun.spawnSync(["taskset", ...args, String(process.pid)], { stdout: "pipe", stderr: "pipe" });
  if (out.exitCode !== 0) throw new Error(`taskset failed: ${out.stderr.toString()}`);
  return out.stdout.toString().trim().split(": ").at(-1)!;
}

/**
 * Runs `fn` with every thread of this process on ONE_CPU (wrk is pinned there too), then gives them back the CPUs
 * they had. At concurrency 1 client and server take turns, so sharing a vCPU costs neither; what it takes away is
 * the wake-up of an idle vCPU on each hop, a VM exit on this machine that every server here pays alike (bare
 * Bun.serve ~60 µs per round trip unpinned, ~23 pinned). The unpinned c = 1 cells stay in the table beside these.
 */
async function onOneCpu<T>(fn: () => Promise<T>): Promise<T> {
  const before = taskset();
  taskset(String(ONE_CPU));
  try {
    return await fn();
  } finally {
    taskset(before);
  }
}

type Session = Awaited<ReturnType<typeof ort.InferenceSession.create>>;

/** What (b0) and (b) both do per request: one session.run on the request's single input. */
async function handRolled(sessions: Record<string, Session>, name: string, input: { shape: number[]; data: number[] }) {
  const result = await sessions[name].run({ x: new ort.Tensor("float32", Float32Array.from(input.data.flat()), input.shape) });
  return { model_name: name, model_version: "1", outputs: [{ name: "y", datatype: "FP32", shape: result.y.dims, data: Array.from(result.y.data as Float32Array) }] };
}

async function sessionsByModel() {
  const sessions: Record<string, Session> = {};
  for (const [name, m] of Object.entries(MODELS)) sessions[name] = await ort.InferenceSession.create(m.bytes, sessionOptions);
  return sessions;
}

/** (b0): no framework at all, Bun's own router. */
async function bareBunServe() {
  const sessions = await sessionsByModel();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    routes: {
      "/v2/models/:name/infer": {
        POST: async (req) => Response.json(await handRolled(sessions, req.params.name, ((await req.json()) as { inputs: { shape: number[]; data: number[] }[] }).inputs[0])),
      },
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

/** (b): the smallest honest V2 server: parse JSON, run, answer JSON. */
async function minimalElysia() {
  const sessions = await sessionsByModel();
  const app = new Elysia().post("/v2/models/:name/infer", ({ params, body }) =>
    handRolled(sessions, params.name, (body as { inputs: { shape: number[]; data: number[] }[] }).inputs[0]),
  );
  app.listen({ hostname: "127.0.0.1", port: 0 });
  return { url: `http://127.0.0.1:${app.server!.port}`, stop: () => app.stop() };
}

async function cleave() {
  const raw = {
    deployment: "bench",
    dataDir: join(dir, "data"),
    http: { port: 0 },
    log: { level: "warn" },
    modules: { inference: { models: Object.keys(MODELS).map((name) => ({ name, path: join(dir, `${name}.onnx`) })) } },
  };
  const running = await startProcess(validateConfig(raw, builtinModules, dir), builtinModules, { log: createLogger({ level: "warn", name: "bench" }) });
  while ((await fetch(`${running.url}/v2/health/ready`)).status !== 200) await Bun.sleep(50);
  const index = (await running.bus.call("inference", "index", {})) as { models: { name: string; workers: number; batching: boolean }[] };
  const heavy = index.models.find((m) => m.name === "heavy")!;
  await running.bus.call("inference", "load", { name: "heavy-unbatched", version: "1", bytes: MODELS.heavy.bytes, workers: heavy.workers, batching: { maxBatchSize: 1 } }, { timeoutMs: 60_000 });
  return { running, index };
}

const bare = await bareBunServe();
const elysia = await minimalElysia();
const { running, index } = await cleave();
const median = (runs: Cell[]) => [...runs].sort((x, y) => x.rps - y.rps)[runs.length >> 1];
const chosen = (process.env.BENCH_MODELS ?? "small,heavy").split(",") as (keyof typeof MODELS)[];
for (const model of chosen) {
  const width = MODELS[model].width;
  for (const c of CONCURRENCY) {
    const modes: [string, () => Promise<Cell>][] = [
      ["a raw loop", () => rawLoop(model, c)],
      ["b0 bare Bun.serve", () => httpLoad(model, "b0 bare Bun.serve", `${bare.url}/v2/models/${model}/infer`, width, c)],
      ["b minimal Elysia", () => httpLoad(model, "b minimal Elysia", `${elysia.url}/v2/models/${model}/infer`, width, c)],
      ["c Cleave default", () => httpLoad(model, "c Cleave default", `${running.url}/v2/models/${model}/infer`, width, c)],
    ];
    if (model === "small" && c === 1 && ONE_CPU !== undefined) {
      for (const [tag, label, url] of [["b0'", "bare Bun.serve", bare.url], ["b'", "minimal Elysia", elysia.url], ["c'", "Cleave default", running.url]]) {
        const mode = `${tag} ${label}, one vCPU`;
        modes.push([mode, () => onOneCpu(() => httpLoad(model, mode, `${url}/v2/models/${model}/infer`, width, c, ONE_CPU))]);
      }
    }
    if (model === "heavy") {
      modes.push(["c1 Cleave unbatched", () => httpLoad(model, "c1 Cleave unbatched", `${running.url}/v2/models/heavy-unbatched/infer`, width, c)]);
    }
    const runs = new Map<string, Cell[]>(modes.map(([m]) => [m, []]));
    for (let r = 0; r < ROUNDS; r++) for (const [m, run] of modes) runs.get(m)!.push(await run());
    for (const [m] of modes) {
      const cell = median(runs.get(m)!);
      cells.push(cell);
      console.error(`${model} ${m} c=${c}: ${runs.get(m)!.map((x) => x.rps.toFixed(0)).join(" / ")} req/s (median ${cell.rps.toFixed(0)})`);
    }
  }
}
bare.stop();
elysia.stop();
await running.stop();

const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : "-");
const lines = [
  `machine: ${cpus().length} × ${cpus()[0]?.model}; bun ${Bun.version}; ${new Date().toISOString()}; median of ${ROUNDS} interleaved rounds of ${SECONDS}s per cell; heavy = MLP 256→${HEAVY_WIDTH}→${HEAVY_WIDTH}→1`,
  `cleave default settings chose: ${index.models.map((m) => `${m.name} workers=${m.workers} batching=${m.batching}`).join("; ")}`,
  "",
  "| model | mode | concurrency | req/s | p50 µs | p99 µs | errors |",
  "|---|---|---:|---:|---:|---:|---:|",
  ...cells.map((c) => `| ${c.model} | ${c.mode} | ${c.concurrency} | ${fmt(c.rps)} | ${fmt(c.p50Us)} | ${fmt(c.p99Us)} | ${c.errors} |`),
  "",
];
const find = (model: string, mode: string, c: number) => cells.find((x) => x.model === model && x.mode.startsWith(mode) && x.concurrency === c)!;
if (chosen.includes("small")) {
  for (const c of [32, 64]) lines.push(`small, concurrency ${c}: (c)/(b) throughput = ${(find("small", "c ", c).rps / find("small", "b ", c).rps).toFixed(2)} (goal ≥ 0.9)`);
  const p50 = (mode: string) => find("small", mode, 1).p50Us;
  lines.push(`small, concurrency 1: p50 (c) − (a) = ${fmt(p50("c ") - p50("a "))} µs (goal ≤ 60); for comparison (b) − (a) = ${fmt(p50("b ") - p50("a "))} µs, (b0) − (a) = ${fmt(p50("b0 ") - p50("a "))} µs`);
  if (ONE_CPU !== undefined) {
    lines.push(`small, concurrency 1, one vCPU: p50 (c') − (a) = ${fmt(p50("c'") - p50("a "))} µs (goal ≤ 60); (b') − (a) = ${fmt(p50("b'") - p50("a "))} µs, (b0') − (a) = ${fmt(p50("b0'") - p50("a "))} µs`);
  }
}
if (chosen.includes("heavy")) {
  lines.push(`heavy, concurrency 64: batched/unbatched throughput = ${(find("heavy", "c ", 64).rps / find("heavy", "c1", 64).rps).toFixed(2)} (goal ≥ 4)`);
}
console.log(lines.join("\n"));
