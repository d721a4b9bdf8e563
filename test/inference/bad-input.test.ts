/**
 * Malformed requests get a 4xx whose message names the problem — never a 500, a crash or a hang — and the
 * process keeps serving afterwards.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { IDENTITY_TYPES, identity, smallMlp, twoHeads } from "../fixtures/make-models";
import { stringsToBinary } from "./helpers";

let proc: TestProcess;
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "cleave-bad-"));
  const files: Record<string, Uint8Array> = {
    mlp: smallMlp(),
    heads: twoHeads(),
    strings: identity(IDENTITY_TYPES.BYTES),
    ints: identity(IDENTITY_TYPES.INT32),
    flags: identity(IDENTITY_TYPES.BOOL),
  };
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, `${name}.onnx`), bytes);
  proc = await startTestProcess({
    placement: "inprocess",
    modules: { inference: { modelDir: dir, models: [{ name: "tabular", path: join(dir, "mlp.onnx"), columns: Array.from({ length: 30 }, (_, i) => `f${i}`) }] } },
    extra: { http: { enabled: true, port: 0, maxBodyBytes: 64 * 1024 } },
  });
  while ((await fetch(`${proc.url}/v2/health/ready`)).status !== 200) await Bun.sleep(20);
});
afterAll(() => proc.close());

const x30 = (rows = 1) => Array.from({ length: rows * 30 }, (_, i) => i / 100);

async function post(path: string, body: string | Uint8Array, headers: Record<string, string> = {}) {
  const res = await fetch(`${proc.url}${path}`, { method: "POST", body, headers });
  const text = await res.text();
  // Bun's own body-size limit answers 413 before the gateway sees the request, with an empty body.
  return { status: res.status, error: text ? ((JSON.parse(text) as { error?: string }).error ?? "") : "" };
}
const infer = (model: string, request: unknown) => post(`/v2/models/${model}/infer`, typeof request === "string" ? request : JSON.stringify(request));
const one = (input: Record<string, unknown>) => ({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 30], data: x30(), ...input }] });

function binary(header: unknown, payload: Uint8Array, declared?: string) {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const body = new Uint8Array(h.length + payload.length);
  body.set(h);
  body.set(payload, h.length);
  return post("/v2/models/mlp/infer", body, { "inference-header-content-length": declared ?? String(h.length) });
}

const CASES: [string, () => Promise<{ status: number; error: string }>, number, string][] = [
  ["malformed JSON", () => infer("mlp", '{"inputs": [ {"name": "x"'), 400, "not valid JSON"],
  ["NaN literal in JSON", () => infer("mlp", `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,1],"data":[NaN]}]}`), 400, "not valid JSON"],
  ["empty body", () => infer("mlp", ""), 400, "empty"],
  ["body is an array", () => infer("mlp", "[1,2]"), 400, "JSON object"],
  ["inputs missing", () => infer("mlp", {}), 400, "inputs"],
  ["negative dim", () => infer("mlp", one({ shape: [-1, 30] })), 400, "shape"],
  ["wrong datatype", () => infer("mlp", one({ datatype: "FP64" })), 400, 'input "x" has datatype "FP64" but the model takes FP32'],
  ["unknown datatype", () => infer("mlp", one({ datatype: "FLOAT" })), 400, '"FLOAT"'],
  ["shape vs metadata", () => infer("mlp", one({ shape: [1, 29] })), 400, "dim 1 must be 30"],
  ["rank vs metadata", () => infer("mlp", one({ shape: [30] })), 400, "rank 1"],
  ["element count vs shape", () => infer("mlp", one({ shape: [2, 30] })), 400, "holds 60 elements but \"data\" has 30"],
  ["huge shape with little data", () => infer("mlp", one({ shape: [1e9, 30] })), 400, "elements"],
  ["string where a number goes", () => infer("mlp", one({ data: ["1", ...x30().slice(1)] })), 400, "element 0 is the string"],
  ["NaN as a string", () => infer("mlp", one({ data: ["NaN", ...x30().slice(1)] })), 400, "binary data"],
  ["null element", () => infer("mlp", one({ data: [null, ...x30().slice(1)] })), 400, "element 0 is null"],
  ["data not an array", () => infer("mlp", one({ data: { a: 1 } })), 400, '"data" must be an array'],
  ["no data", () => infer("mlp", one({ data: undefined })), 400, 'no "data"'],
  ["number where a string goes", () => infer("strings", { inputs: [{ name: "x", datatype: "BYTES", shape: [1, 3], data: ["a", 2, "c"] }] }), 400, "BYTES takes strings"],
  ["ragged nested data", () => infer("heads", { inputs: ["a", "b"].map((name) => ({ name, datatype: "FP32", shape: [2, 4], data: [[1, 2, 3, 4, 5], [6, 7, 8]] })) }), 400, "data[0] should be an array of 4"],
  ["NUL inside a string", () => infer("strings", { inputs: [{ name: "x", datatype: "BYTES", shape: [1, 3], data: ["a\u0000b", "x", "y"] }] }), 400, "NUL"],
  ["integer out of range", () => infer("ints", { inputs: [{ name: "x", datatype: "INT32", shape: [1, 3], data: [1, 2, 2 ** 31] }] }), 400, "integers in"],
  ["fraction for an integer", () => infer("ints", { inputs: [{ name: "x", datatype: "INT32", shape: [1, 3], data: [1, 2.5, 3] }] }), 400, "integers"],
  ["number for BOOL", () => infer("flags", { inputs: [{ name: "x", datatype: "BOOL", shape: [1, 3], data: [1, 0, 1] }] }), 400, "true/false"],
  ["missing input", () => infer("heads", { inputs: [{ name: "a", datatype: "FP32", shape: [1, 4], data: [1, 2, 3, 4] }] }), 400, 'input "b" is missing'],
  ["extra input", () => infer("mlp", { inputs: [...one({}).inputs, { name: "z", datatype: "FP32", shape: [1], data: [1] }] }), 400, 'input "z" is not an input'],
  ["duplicate input", () => infer("mlp", { inputs: [...one({}).inputs, ...one({}).inputs] }), 400, "given twice"],
  ["unknown output", () => infer("mlp", { ...one({}), outputs: [{ name: "nope" }] }), 400, 'output "nope" is not an output'],
  ["unknown model", () => infer("nope", one({})), 404, 'model "nope" is not loaded'],
  ["unknown version", () => post("/v2/models/mlp/versions/7/infer", JSON.stringify(one({}))), 404, 'no version "7"'],
  ["body over the limit", () => infer("mlp", one({ data: Array(20000).fill(0.123456) })), 413, ""],
  ["binary header length past the body", () => binary({ inputs: [] }, new Uint8Array(0), "99999"), 400, "Inference-Header-Content-Length"],
  ["binary header length not a number", () => binary({ inputs: [] }, new Uint8Array(0), "12abc"), 400, "Inference-Header-Content-Length"],
  ["binary size larger than the body", () => binary({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 30], parameters: { binary_data_size: 120 } }] }, new Uint8Array(100)), 400, "runs past the end"],
  ["binary sizes not covering the body", () => binary({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 30], parameters: { binary_data_size: 120 } }] }, new Uint8Array(124)), 400, "add up to 120"],
  ["binary bytes vs shape", () => binary({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 30], parameters: { binary_data_size: 116 } }] }, new Uint8Array(116)), 400, "needs 120"],
  ["binary size not an integer", () => binary({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 30], parameters: { binary_data_size: "120" } }] }, new Uint8Array(120)), 400, "binary_data_size must be"],
  ["BYTES length prefix that lies", () => post("/v2/models/strings/infer", ...bytesRequest(lyingStrings())), 400, "claims"],
  ["BYTES not UTF-8", () => post("/v2/models/strings/infer", ...bytesRequest(new Uint8Array([1, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]))), 400, "UTF-8"],
  ["V1 unknown verb", () => post("/v1/models/mlp:explain", JSON.stringify({ instances: [x30()] })), 404, ":explain"],
  ["V1 no instances", () => post("/v1/models/mlp:predict", JSON.stringify({ rows: [] })), 400, "instances"],
  ["V1 named columns without a column order", () => post("/v1/models/mlp:predict", JSON.stringify({ instances: [{ amount: 1 }] })), 400, "no column order"],
  ["V1 missing column", () => post("/v1/models/tabular:predict", JSON.stringify({ instances: [{ f0: 1 }] })), 400, 'no column "f1"'],
  ["V1 unknown column", () => post("/v1/models/tabular:predict", JSON.stringify({ instances: [{ zz: 1 }] })), 400, 'column "zz"'],
  ["V1 ragged rows", () => post("/v1/models/mlp:predict", JSON.stringify({ instances: [x30(), [1, 2]] })), 400, "data[1] should be an array of 30"],
];

function lyingStrings(): Uint8Array {
  const ok = stringsToBinary(["a", "b", "c"]);
  new DataView(ok.buffer).setUint32(8, 1000, true);
  return ok;
}
function bytesRequest(payload: Uint8Array): [Uint8Array, Record<string, string>] {
  const h = new TextEncoder().encode(JSON.stringify({ inputs: [{ name: "x", datatype: "BYTES", shape: [1, 3], parameters: { binary_data_size: payload.length } }] }));
  const body = new Uint8Array(h.length + payload.length);
  body.set(h);
  body.set(payload, h.length);
  return [body, { "inference-header-content-length": String(h.length) }];
}

describe("bad input", () => {
  for (const [name, run, status, message] of CASES) {
    test(`${name} → ${status}`, async () => {
      const res = await run();
      expect(res.error).toContain(message);
      expect(res.status).toBe(status);
    });
  }

  test("the process still serves after all of them, V1 named columns included", async () => {
    const ok = await post("/v2/models/mlp/infer", JSON.stringify(one({})));
    expect(ok.status).toBe(200);
    const instance = Object.fromEntries(x30().map((v, i) => [`f${i}`, v]));
    const v1 = await fetch(`${proc.url}/v1/models/tabular:predict`, { method: "POST", body: JSON.stringify({ instances: [instance] }) });
    const direct = await fetch(`${proc.url}/v1/models/mlp:predict`, { method: "POST", body: JSON.stringify({ instances: [x30()] }) });
    expect(v1.status).toBe(200);
    expect(await v1.json()).toEqual(await direct.json());
  });
});
