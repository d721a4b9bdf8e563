/** Feature definitions are checked at start: every mistake stops the process with the config key named. */
import { expect, test } from "bun:test";
import { startTestProcess } from "../harness/deployment";
import { eventTypes } from "./config";

const startWith = (feature: object, ingestion: object = { eventTypes }) =>
  startTestProcess({ placement: "inprocess", modules: { ingestion, feature }, http: false });
const card = (features: object, extra: object = {}) => ({ entities: { card: { key: "card", features, ...extra } } });

const cases: [string, object, RegExp][] = [
  ["a missing field", card({ s: { agg: "sum", field: "amout", window: "1h" } }),
    /modules\.feature\.entities\.card\.features\.s\.field" is "amout", which is not a field of event types transaction/],
  ["an unknown aggregation", card({ s: { agg: "median", field: "amount", window: "1h" } }),
    /modules\.feature\.entities\.card\.features\.s\.agg" is "median".*must be one of "count"/],
  ["a numeric aggregation of a text field", card({ s: { agg: "mean", field: "merchant", window: "1h" } }),
    /features\.s\.field" is "merchant", not numeric/],
  ["an aggregation without its field", card({ s: { agg: "max", window: "1h" } }), /features\.s\.field" is missing/],
  ["a windowed aggregation without a window", card({ s: { agg: "count" } }), /features\.s\.window" is missing/],
  ["a malformed window", card({ s: { agg: "count", window: "1 week" } }), /features\.s\.window" is "1 week"/],
  ["an entity key no event has", { entities: { device: { key: "imei", features: {} } } }, /entities\.device\.key" is "imei"/],
  ["an unknown event type", card({}, { eventTypes: ["refund"] }), /entities\.card\.eventTypes\.0" names unknown event type "refund"/],
  ["a transform of an unknown feature", { ...card({ n: { agg: "count", window: "1h" } }), transforms: { r: { op: "ratio", num: "card.n", den: "card.m" } } },
    /transforms\.r\.den" is "card\.m", which is not an earlier feature/],
  ["a transform without its inputs", { transforms: { z: { op: "zscore", input: "request.amount" } }, request: { amount: { type: "number" } } },
    /transforms\.z\.mean" is missing/],
  ["unsorted bucket boundaries", { request: { a: { type: "number" } }, transforms: { b: { op: "bucket", input: "request.a", boundaries: [5, 1] } } },
    /transforms\.b\.boundaries" must be strictly ascending/],
  ["a retention shorter than a window", card({ n: { agg: "count", window: "7d" } }, { retention: "1d" }), /entities\.card\.retention" is shorter/],
];

for (const [what, feature, message] of cases) {
  test(`rejected at start: ${what}`, async () => {
    await expect(startWith(feature)).rejects.toThrow(message);
  });
}

test("rejected at start: an event type with a bad field type (ingestion config)", async () => {
  const bad = { eventTypes: { transaction: { fields: { amount: { type: "float" } } } } };
  await expect(startWith({}, bad)).rejects.toThrow(/modules\.ingestion\.eventTypes\.transaction\.fields\.amount\.type" is "float"/);
});
