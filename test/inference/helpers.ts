/**
 * Test helpers for the inference module: reading ONNX TensorProto files, building OIP requests (JSON and binary,
 * written independently of the module's own encoder), and comparing outputs with the ONNX runner's tolerances.
 */
import { onnx } from "onnx-proto";

const E = onnx.TensorProto.DataType;

export interface TestTensor {
  name: string;
  datatype: string;
  shape: number[];
  /** Flat values: numbers, bigints, booleans or strings. */
  values: (number | bigint | boolean | string)[];
  /** The same values in binary layout. */
  bytes: Uint8Array;
}

const DTYPE: Record<number, [string, number, any]> = {
  [E.FLOAT]: ["FP32", 4, Float32Array],
  [E.DOUBLE]: ["FP64", 8, Float64Array],
  [E.FLOAT16]: ["FP16", 2, Float16Array],
  [E.UINT8]: ["UINT8", 1, Uint8Array],
  [E.INT8]: ["INT8", 1, Int8Array],
  [E.UINT16]: ["UINT16", 2, Uint16Array],
  [E.INT16]: ["INT16", 2, Int16Array],
  [E.UINT32]: ["UINT32", 4, Uint32Array],
  [E.INT32]: ["INT32", 4, Int32Array],
  [E.UINT64]: ["UINT64", 8, BigUint64Array],
  [E.INT64]: ["INT64", 8, BigInt64Array],
  [E.BOOL]: ["BOOL", 1, Uint8Array],
  [E.STRING]: ["BYTES", 0, null],
};

export function tensorFromProto(bytes: Uint8Array): TestTensor {
  const t = onnx.TensorProto.decode(bytes);
  const shape = (t.dims ?? []).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const entry = DTYPE[t.dataType ?? 0];
  if (!entry) throw new Error(`unsupported TensorProto type ${t.dataType}`);
  const [datatype, size, Ctor] = entry;
  if (datatype === "BYTES") {
    const values = (t.stringData ?? []).map((s) => new TextDecoder().decode(s));
    return { name: t.name ?? "", datatype, shape, values, bytes: stringsToBinary(values) };
  }
  let typed: any;
  if (t.rawData && t.rawData.length) typed = new Ctor(new Uint8Array(t.rawData).buffer, 0, n);
  else {
    typed = new Ctor(n);
    const src: any[] =
      datatype === "FP32" ? t.floatData : datatype === "FP64" ? t.doubleData : datatype === "INT64" ? t.int64Data
        : datatype === "UINT64" || datatype === "UINT32" ? t.uint64Data : t.int32Data;
    for (let i = 0; i < n; i++) {
      const v = src[i];
      if (datatype === "FP16") new Uint16Array(typed.buffer)[i] = Number(v);
      else typed[i] = typeof typed[0] === "bigint" ? BigInt(String(v)) : Number(String(v));
    }
  }
  const values = datatype === "BOOL" ? Array.from(typed as Uint8Array, (v) => v !== 0) : Array.from(typed as ArrayLike<number>);
  return { name: t.name ?? "", datatype, shape, values, bytes: new Uint8Array(typed.buffer, typed.byteOffset, n * size) };
}

export function stringsToBinary(values: string[]): Uint8Array {
  const parts = values.map((s) => new TextEncoder().encode(s));
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
  let o = 0;
  for (const p of parts) {
    new DataView(out.buffer).setUint32(o, p.length, true);
    out.set(p, o + 4);
    o += 4 + p.length;
  }
  return out;
}

export const jsonValue = (v: number | bigint | boolean | string) => (typeof v === "bigint" ? Number(v) : v);
export const hasNonFinite = (t: TestTensor) => t.values.some((v) => typeof v === "number" && !Number.isFinite(v));

/** JSON request for the given inputs. */
export function jsonRequest(inputs: TestTensor[], extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    ...extra,
    inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: t.values.map(jsonValue) })),
  });
}

/** Binary-extension request: JSON header with binary_data_size, then each input's bytes. */
export function binaryRequest(inputs: TestTensor[], extra: Record<string, unknown> = {}) {
  const header = new TextEncoder().encode(
    JSON.stringify({
      ...extra,
      inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, parameters: { binary_data_size: t.bytes.byteLength } })),
    }),
  );
  const body = new Uint8Array(header.length + inputs.reduce((n, t) => n + t.bytes.byteLength, 0));
  body.set(header);
  let o = header.length;
  for (const t of inputs) {
    body.set(t.bytes, o);
    o += t.bytes.byteLength;
  }
  return { body, headers: { "inference-header-content-length": String(header.length), "content-type": "application/octet-stream" } };
}

export interface DecodedOutput {
  name: string;
  datatype: string;
  shape: number[];
  values: unknown[];
}

/** Reads an infer response in either form (binary outputs decoded by datatype). */
export async function readInferResponse(res: Response): Promise<{ status: number; body: any; outputs: DecodedOutput[] }> {
  const bytes = new Uint8Array(await res.arrayBuffer());
  const headerLength = res.headers.get("inference-header-content-length");
  const jsonEnd = headerLength === null ? bytes.length : Number(headerLength);
  const body = JSON.parse(new TextDecoder().decode(bytes.subarray(0, jsonEnd)));
  if (res.status !== 200) return { status: res.status, body, outputs: [] };
  let offset = jsonEnd;
  const outputs = body.outputs.map((o: any) => {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) return { name: o.name, datatype: o.datatype, shape: o.shape, values: o.data };
    const slice = bytes.slice(offset, offset + size);
    offset += size;
    return { name: o.name, datatype: o.datatype, shape: o.shape, values: decodeBinary(o.datatype, slice) };
  });
  return { status: res.status, body, outputs };
}

function decodeBinary(datatype: string, b: Uint8Array): unknown[] {
  if (datatype === "BYTES") {
    const out: string[] = [];
    const view = new DataView(b.buffer);
    for (let o = 0; o < b.length; ) {
      const len = view.getUint32(o, true);
      out.push(new TextDecoder().decode(b.subarray(o + 4, o + 4 + len)));
      o += 4 + len;
    }
    return out;
  }
  const entry = Object.values(DTYPE).find(([d]) => d === datatype)!;
  const typed = new entry[2](b.buffer, 0, b.length / entry[1]);
  return datatype === "BOOL" ? Array.from(typed as Uint8Array, (v) => v !== 0) : Array.from(typed as ArrayLike<number>);
}

/** The ONNX backend runner's comparison: |actual − expected| ≤ atol + rtol·|expected|, NaN equal to NaN. */
export function mismatch(actual: unknown[], expected: unknown[], rtol = 1e-3, atol = 1e-7): string | undefined {
  if (actual.length !== expected.length) return `length ${actual.length} ≠ ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    const [a, e] = [actual[i], expected[i]];
    if (typeof e === "number" || typeof e === "bigint") {
      const [x, y] = [Number(a), Number(e)];
      if (Number.isNaN(y) && Number.isNaN(x)) continue;
      if (x === y) continue;
      if (!(Math.abs(x - y) <= atol + rtol * Math.abs(y))) return `element ${i}: ${x} vs expected ${y}`;
    } else if (a !== e) return `element ${i}: ${JSON.stringify(a)} vs expected ${JSON.stringify(e)}`;
  }
  return undefined;
}
