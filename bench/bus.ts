/**
 * Bus call cost, in one run: a direct function call (the floor), the in-process bus, the in-process bus forced
 * through the wire encoding, and NATS to another process. Reports p50/p99 per call (µs) at concurrency 1 and
 * calls/s at concurrency 64, plus the overhead each adds over the direct call.
 *
 *   bun bench/bus.ts [--seconds 3]
 */
import { connect } from "@nats-io/transport-node";
import { parseArgs } from "node:util";
import { encode } from "../src/runtime/codec";
import { probeContract } from "../test/fixtures/plugins/probe";
import { Child, writeConfig, REPO } from "../test/harness/child";
import { startTestProcess, type TestProcess } from "../test/harness/deployment";
import { NatsServer } from "../test/harness/nats-server";
import { closedLoopRate, machine, sequentialLatencies, summarize, table } from "./lib/report";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "3" } } });
const seconds = Number(values.seconds);
const input = { text: "tx-42", n: 1 };

type Call = () => Promise<unknown>;

const PROBE = `${REPO}/test/fixtures/plugins/probe.ts`;
const procs: TestProcess[] = [];
const start = async (placement: "inprocess" | "serialized") => {
  const p = await startTestProcess({ placement, modules: { probe: {} }, plugins: [PROBE], http: false });
  procs.push(p);
  return p;
};

const direct = await start("inprocess");
const handler = (await (await import(PROBE)).default.create({ bus: direct.bus })).handlers.echo;
const traceCtx = { deadline: Date.now() + 1e9, signal: new AbortController().signal, traceId: "" };
const inproc = await start("inprocess");
const serialized = await start("serialized");

const nats = await NatsServer.start();
const server = new Child(["serve", "--config", writeConfig({
  deployment: "bench",
  modules: { probe: {} },
  plugins: [{ path: PROBE }],
  bus: { transport: "nats", nats: { servers: [nats.url] } },
  log: { level: "warn" },
}), "--modules", "probe"]);
await server.waitFor(/.*/, 100).catch(() => {});
const client = await startTestProcess({
  placement: "nats", natsUrl: nats.url, deployment: "bench", modules: { probe: {} }, local: [], plugins: [PROBE], http: false,
});
procs.push(client);
for (let i = 0; i < 100; i++) {
  try {
    await client.bus.call(probeContract, "echo", input, { timeoutMs: 500 });
    break;
  } catch {
    await Bun.sleep(100);
  }
}

const raw = new Child([`${REPO}/bench/lib/raw-nats-responder.ts`, nats.url], { cmd: [process.execPath] });
await raw.waitFor("ready");
const rawClient = await connect({ servers: nats.url });
const rawBody = encode(input);

const cases: [string, Call][] = [
  ["direct function call", async () => handler(input, traceCtx)],
  ["bus, in-process", () => inproc.bus.call(probeContract, "echo", input)],
  ["bus, in-process serialized", () => serialized.bus.call(probeContract, "echo", input)],
  ["bus, NATS to another process", () => client.bus.call(probeContract, "echo", input)],
  ["raw nats.js request/reply (no Cleave)", () => rawClient.request("bench.raw.echo", rawBody, { timeout: 5000 })],
];

const rows: (string | number)[][] = [];
let floor = 0;
for (const [name, call] of cases) {
  const lat = summarize(await sequentialLatencies(call, seconds, 2000), seconds);
  const tput = await closedLoopRate(call, 64, seconds);
  if (rows.length === 0) floor = lat.p50;
  rows.push([name, lat.p50, lat.p99, lat.p50 - floor, Math.round(lat.perSecond), Math.round(tput)]);
}

console.log(`\nBus call benchmark — ${machine()}\n${seconds}s per measurement; payload ${JSON.stringify(input)}\n`);
console.log(table(["path", "p50 µs", "p99 µs", "added p50 µs", "calls/s (c=1)", "calls/s (c=64)"], rows));

await rawClient.close();
raw.proc.kill("SIGTERM");
server.proc.kill("SIGTERM");
await server.exit();
for (const p of procs) await p.close();
await nats.stop();
process.exit(0);
