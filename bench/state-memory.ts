/**
 * Memory of the feature module's entity states per transaction applied: live heap bytes, objects and strings after a
 * full collection, for the embedded default's features over simulated transactions (each goes into a card's, a
 * merchant's and a device's state). Each event is parsed from its own JSON text, as ingestion receives it. A state
 * keeps every event of its longest window (30 days for cards), so this is what each transaction held costs.
 *
 *   bun bench/state-memory.ts [--transactions 200000]
 */
import { heapStats } from "bun:jsc";
import { parseArgs } from "node:util";
import { demoFeaturePlan } from "../src/ml/demo-plan";
import { FeatureApplier } from "../src/modules/feature/engine";
import { memoryStates } from "../src/modules/feature/offline";
import { simulate } from "../src/sim/transactions";
import { machine, table } from "./lib/report";

const { values } = parseArgs({ options: { transactions: { type: "string", default: "200000" } } });
const total = Number(values.transactions);

const plan = await demoFeaturePlan();
const { states, stateOf } = memoryStates(plan);
const applier = new FeatureApplier(plan, stateOf, () => {});
// JSON texts first, so that the measured heap holds the states and nothing the simulator keeps. The simulator's
// cards, merchants and devices, a millisecond apart within the last minutes: every event stays in every window.
const start = Date.now() - total - 60_000;
const texts = simulate({ seed: 7, transactions: total }).map((tx, i) => ({ ts: start + i, text: JSON.stringify({ ...tx, timestamp: start + i }) }));

const held = () => states.flatMap((m) => [...m.values()]).reduce((n, s) => n + s.ts.length, 0);
const live = () => {
  Bun.gc(true);
  Bun.gc(true);
  const s = heapStats();
  return { bytes: s.heapSize, objects: s.objectCount, strings: (s.objectTypeCounts as Record<string, number>).string ?? 0, events: held() };
};

let seq = 0;
const apply = (from: number, to: number) => {
  for (let i = from; i < to; i++) applier.apply({ seq: ++seq, type: "transaction", ts: texts[i].ts, data: JSON.parse(texts[i].text) });
};
// A first quarter makes the states, the maps and the compiled code; the rest is what events alone add.
const first = Math.floor(total / 4);
apply(0, first);
const before = live();
apply(first, total);
const after = live();
const applied = total - first;

console.log(`entity states: live heap per transaction applied (${machine()})`);
console.log(table(
  ["transactions measured", "events they added to states", "states", "heap bytes / transaction", "heap objects / transaction", "strings / transaction"],
  [[
    String(applied),
    String(after.events - before.events),
    String(states.reduce((n, m) => n + m.size, 0)),
    ((after.bytes - before.bytes) / applied).toFixed(0),
    ((after.objects - before.objects) / applied).toFixed(2),
    ((after.strings - before.strings) / applied).toFixed(2),
  ]],
));
