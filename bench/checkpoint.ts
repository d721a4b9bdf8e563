/**
 * What a feature checkpoint costs per changed state: the online store (real SQLite file, real writer thread) with
 * the embedded default's features, fed the score bench's spread of transactions (5,000 cards, 300 merchants, 6,000
 * devices) in rounds of 10,000, each round then checkpointed (after the first, most states are written as tails).
 * CPU from /proc: all threads (the writer's included) and the event loop's alone.
 *
 *   bun bench/checkpoint.ts [--rounds 6] [--events 10000]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { demoFeaturePlan } from "../src/ml/demo-plan";
import { FeatureApplier } from "../src/modules/feature/engine";
import { OnlineStore } from "../src/modules/feature/store";
import { machine, table } from "./lib/report";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "6" }, events: { type: "string", default: "10000" } } });
const rounds = Number(values.rounds);
const perRound = Number(values.events);

/** CPU ms used so far: the process, and its main thread (Linux only). */
function cpuMs(): { all: number; main: number } {
  const ticks = (file: string) => {
    const stat = readFileSync(file, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, USER_HZ = 100
  };
  return { all: ticks("/proc/self/stat"), main: ticks(`/proc/self/task/${process.pid}/stat`) };
}

const plan = await demoFeaturePlan();
const dir = mkdtempSync(join(tmpdir(), "cleave-bench-checkpoint-"));
const store = new OnlineStore(dir, plan, 200_000);
const applier = new FeatureApplier(plan, store.stateOf, store.touched);
const countries = ["US", "GB", "FR", "DE", "ES", "IT"];
let seq = 0;
let ts = Date.now() - 3_600_000;
// The same spread as bench/lib/score-wrk.lua.
const apply = (n: number) => {
  for (let k = 0; k < n; k++) {
    const i = seq;
    applier.apply({
      seq: ++seq,
      type: "transaction",
      ts: ts++,
      data: {
        card_id: `card-${(i * 7919) % 5000}`,
        merchant_id: `merchant-${(i * 104729) % 300}`,
        amount: 5 + ((i * 2654435761) % 50000) / 100,
        country: countries[i % 6],
        device_id: `device-${(i * 31) % 6000}`,
      },
    });
  }
};

const rows: string[][] = [];
for (let round = 0; round < rounds; round++) {
  apply(perRound);
  const states = store.pendingChanges;
  const before = cpuMs();
  const started = performance.now();
  await store.checkpoint({ position: seq, watermark: applier.watermark, applied: seq, lateDropped: 0 });
  const wall = performance.now() - started;
  const after = cpuMs();
  rows.push([
    String(round + 1),
    String(states),
    wall.toFixed(0),
    ((1000 * (after.all - before.all)) / states).toFixed(1),
    ((1000 * (after.main - before.main)) / states).toFixed(1),
  ]);
}
await store.close();
rmSync(dir, { recursive: true, force: true });

console.log(`feature checkpoints, ${perRound} transactions a round (${machine()})`);
console.log(table(["round", "states written", "checkpoint ms", "CPU µs / state, all threads", "CPU µs / state, event loop"], rows));
console.log("CPU is read from /proc in 10 ms ticks: compare rounds 2 and later, and runs, not single rows.");
