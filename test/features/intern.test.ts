/**
 * Entity states keep one copy of each repeated text (src/modules/feature/intern.ts): every event parsed from JSON
 * brings its own copies, and a state keeps every event of its longest window. Counted as live strings on the real
 * heap after a full collection, since a shared copy and an equal one look the same to JavaScript.
 */
import { expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { Value } from "@sinclair/typebox/value";
import { FeatureConfig } from "../../src/modules/feature/contract";
import { compilePlan } from "../../src/modules/feature/definitions";
import { FeatureApplier } from "../../src/modules/feature/engine";
import { INTERN_MAX, intern } from "../../src/modules/feature/intern";
import { memoryStates } from "../../src/modules/feature/offline";
import { eventTypes, featureConfig } from "./config";

const liveStrings = () => {
  Bun.gc(true);
  return (heapStats().objectTypeCounts as Record<string, number>).string ?? 0;
};

test("20,000 events over 50 merchants and 4 channels keep about one string per distinct text, not one per event", () => {
  const plan = compilePlan(Value.Default(FeatureConfig, structuredClone(featureConfig)) as never, eventTypes as never);
  const { states, stateOf } = memoryStates(plan);
  const applier = new FeatureApplier(plan, stateOf, () => {});
  const t0 = Date.now() - 3_600_000;
  const before = liveStrings();
  for (let i = 0; i < 20_000; i++) {
    // Parsed one by one, as ingestion receives them: every event brings its own copies of its texts.
    const text = `{"card":"c${i % 20}","customer":"u${i % 10}","merchant":"merchant-${i % 50}","amount":${i % 97},"channel":"channel-${i % 4}"}`;
    applier.apply({ seq: i + 1, type: "transaction", ts: t0 + i, data: JSON.parse(text) });
  }
  const grown = liveStrings() - before;
  // The states hold 20,000 merchant texts (cards) and 20,000 channel texts (customers).
  const held = states.flatMap((m) => [...m.values()]).reduce((n, s) => n + s.cols.flat().filter((v) => typeof v === "string").length, 0);
  expect(held).toBe(40_000);
  expect(grown).toBeLessThan(2_000);
});

test("the table is bounded: unique texts beyond its size do not stay alive through it", () => {
  const before = liveStrings();
  for (let i = 0; i < 2 * INTERN_MAX + 10; i++) intern(`unique-${i}-${Math.random()}`);
  const grown = liveStrings() - before;
  expect(grown).toBeGreaterThan(0); // what the table holds now
  expect(grown).toBeLessThan(INTERN_MAX + 1_000);
});
