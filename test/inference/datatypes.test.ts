/**
 * Every OIP datatype round-trips through an Identity model of that ONNX element type, in JSON and in binary
 * (including the values JSON cannot carry: 64-bit integers beyond 2^53, NaN and ±Infinity).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { IDENTITY_TYPES, identity } from "../fixtures/make-models";
import { binaryRequest, readInferResponse, stringsToBinary, type TestTensor } from "./helpers";

const JSON_VALUES: Record<string, unknown[]> = {
  BOOL: [true, false, true, false, false, true],
  UINT8: [0, 255, 1, 128, 7, 9],
  UINT16: [0, 65535, 1, 300, 7, 9],
  UINT32: [0, 4294967295, 1, 70000, 7, 9],
  UINT64: [0, Number.MAX_SAFE_INTEGER, 1, 2 ** 40, 7, 9],
  INT8: [-128, 127, 0, -1, 7, 9],
  INT16: [-32768, 32767, 0, -1, 7, 9],
  INT32: [-2147483648, 2147483647, 0, -1, 7, 9],
  INT64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 0, -1, 7, 9],
  FP16: [1.5, -2, 65504, 0.0009765625, 0, -0.5],
  FP32: [1.5, -3.25, 2 ** 100, 2 ** -126, 0, 0.125],
  FP64: [Math.PI, -1e300, 5e-324, 0.1, 0, 0.25],
  BYTES: ["", "héllo", "日本語", "a b", "x".repeat(300), "🙂"],
};

/** Values only the binary form carries, as raw bytes, with what the output should decode to. */
const BINARY_VALUES: Record<string, { bytes: Uint8Array; expect: unknown[] }> = {
  UINT64: { bytes: new Uint8Array(new BigUint64Array([2n ** 64n - 1n, 0n, 1n, 2n ** 60n + 1n, 5n, 6n]).buffer), expect: [2n ** 64n - 1n, 0n, 1n, 2n ** 60n + 1n, 5n, 6n] },
  INT64: { bytes: new Uint8Array(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, 1n, -1n, 3n]).buffer), expect: [-(2n ** 63n), 2n ** 63n - 1n, 0n, 1n, -1n, 3n] },
  FP32: { bytes: new Uint8Array(new Float32Array([NaN, Infinity, -Infinity, 1, -0, 2]).buffer), expect: [NaN, Infinity, -Infinity, 1, -0, 2] },
  FP64: { bytes: new Uint8Array(new Float64Array([NaN, Infinity, -Infinity, 1, -0, 2]).buffer), expect: [NaN, Infinity, -Infinity, 1, -0, 2] },
  FP16: { bytes: new Uint8Array(new Float16Array([NaN, Infinity, -Infinity, 1, -0, 2]).buffer), expect: [NaN, Infinity, -Infinity, 1, -0, 2] },
  BYTES: { bytes: stringsToBinary(["a", "", "ü", "d", "e", "f"]), expect: ["a", "", "ü", "d", "e", "f"] },
};

let proc: TestProcess;
beforeAll(async () => {
  proc = await startTestProcess({ placement: "inprocess", modules: { inference: {} } });
  for (const [datatype, elemType] of Object.entries(IDENTITY_TYPES)) {
    await proc.bus.call("inference", "load", { name: `id_${datatype.toLowerCase()}`, version: "1", bytes: identity(elemType) });
  }
});
afterAll(() => proc.close());

const infer = (datatype: string, init: RequestInit) => fetch(`${proc.url}/v2/models/id_${datatype.toLowerCase()}/infer`, { method: "POST", ...init });

describe("datatype round trips", () => {
  for (const [datatype, values] of Object.entries(JSON_VALUES)) {
    test(`${datatype} in JSON (nested data) → JSON`, async () => {
      const nested = [values.slice(0, 3), values.slice(3)];
      const res = await readInferResponse(await infer(datatype, { body: JSON.stringify({ inputs: [{ name: "x", datatype, shape: [2, 3], data: nested }] }) }));
      expect(res.status).toBe(200);
      expect(res.outputs[0]).toEqual({ name: "y", datatype, shape: [2, 3], values });
      expect(Object.is(res.outputs[0].values[5], values[5])).toBe(true);
    });

    test(`${datatype} in JSON → binary output`, async () => {
      const res = await readInferResponse(
        await infer(datatype, { body: JSON.stringify({ inputs: [{ name: "x", datatype, shape: [2, 3], data: values }], outputs: [{ name: "y", parameters: { binary_data: true } }] }) }),
      );
      expect(res.status).toBe(200);
      expect(res.outputs[0].values.map((v) => (typeof v === "bigint" ? Number(v) : v))).toEqual(values);
    });
  }

  for (const [datatype, { bytes, expect: expected }] of Object.entries(BINARY_VALUES)) {
    test(`${datatype} binary in → binary out keeps values JSON cannot carry`, async () => {
      const t: TestTensor = { name: "x", datatype, shape: [2, 3], values: [], bytes };
      const req = binaryRequest([t], { parameters: { binary_data_output: true } });
      const res = await readInferResponse(await infer(datatype, { body: req.body, headers: req.headers }));
      expect(res.status).toBe(200);
      res.outputs[0].values.forEach((v, i) => expect(Object.is(v, expected[i])).toBe(true));
    });
  }

  test("non-finite outputs asked for as JSON are a 400 that says to ask for binary", async () => {
    const t: TestTensor = { name: "x", datatype: "FP32", shape: [2, 3], values: [], bytes: BINARY_VALUES.FP32.bytes };
    const req = binaryRequest([t]);
    const res = await infer("FP32", { body: req.body, headers: req.headers });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toContain("binary_data");
  });
});

describe("datatype round trips through a worker thread", () => {
  for (const datatype of ["BOOL", "UINT64", "INT64", "FP16", "BYTES"]) {
    test(`${datatype} binary in → binary out`, async () => {
      const name = `w_${datatype.toLowerCase()}`;
      await proc.bus.call("inference", "load", { name, version: "1", bytes: identity(IDENTITY_TYPES[datatype]), workers: 1 }, { timeoutMs: 30_000 });
      const { bytes, expect: expected } = BINARY_VALUES[datatype] ?? { bytes: new Uint8Array([1, 0, 1, 1, 0, 0]), expect: [true, false, true, true, false, false] };
      const req = binaryRequest([{ name: "x", datatype, shape: [2, 3], values: [], bytes }], { parameters: { binary_data_output: true } });
      const res = await readInferResponse(await fetch(`${proc.url}/v2/models/${name}/infer`, { method: "POST", body: req.body, headers: req.headers }));
      expect(res.status).toBe(200);
      res.outputs[0].values.forEach((v, i) => expect(Object.is(v, expected[i])).toBe(true));
      await proc.bus.call("inference", "unload", { name });
    });
  }
});
