/**
 * Tensors as the Open Inference Protocol names them, and their conversions: JSON data (flat or nested) → typed
 * arrays with every element checked, typed arrays → JSON, and the binary tensor layout. Pure functions with no
 * onnxruntime dependency, so the gateway side of the contract can use them too.
 *
 * In-memory form: numbers in the matching typed array (FP16 as Uint16Array of IEEE half bits, because the bus
 * codec carries no Float16Array; BOOL as Uint8Array of 0/1; INT64/UINT64 as BigInt arrays); BYTES as string[].
 */
import { CleaveError } from "../../runtime/errors";

export type Datatype =
  | "BOOL" | "UINT8" | "UINT16" | "UINT32" | "UINT64" | "INT8" | "INT16" | "INT32" | "INT64"
  | "FP16" | "FP32" | "FP64" | "BYTES";

export type NumericArray =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | BigUint64Array | BigInt64Array | Float32Array | Float64Array;
export type TensorValues = NumericArray | string[];

export interface Tensor {
  datatype: Datatype;
  shape: number[];
  data: TensorValues;
}

type Kind = "bool" | "int" | "bigint" | "float" | "half" | "string";
interface DatatypeSpec {
  /** onnxruntime-node's name of the element type. */
  ort: string;
  kind: Kind;
  bytes: number;
  array?: { new (n: number): NumericArray; new (b: ArrayBuffer, o: number, n: number): NumericArray };
  min?: number | bigint;
  max?: number | bigint;
}

export const DATATYPES: Record<Datatype, DatatypeSpec> = {
  BOOL: { ort: "bool", kind: "bool", bytes: 1, array: Uint8Array },
  UINT8: { ort: "uint8", kind: "int", bytes: 1, array: Uint8Array, min: 0, max: 255 },
  UINT16: { ort: "uint16", kind: "int", bytes: 2, array: Uint16Array, min: 0, max: 65535 },
  UINT32: { ort: "uint32", kind: "int", bytes: 4, array: Uint32Array, min: 0, max: 4294967295 },
  UINT64: { ort: "uint64", kind: "bigint", bytes: 8, array: BigUint64Array, min: 0n, max: 2n ** 64n - 1n },
  INT8: { ort: "int8", kind: "int", bytes: 1, array: Int8Array, min: -128, max: 127 },
  INT16: { ort: "int16", kind: "int", bytes: 2, array: Int16Array, min: -32768, max: 32767 },
  INT32: { ort: "int32", kind: "int", bytes: 4, array: Int32Array, min: -2147483648, max: 2147483647 },
  INT64: { ort: "int64", kind: "bigint", bytes: 8, array: BigInt64Array, min: -(2n ** 63n), max: 2n ** 63n - 1n },
  FP16: { ort: "float16", kind: "half", bytes: 2, array: Uint16Array },
  FP32: { ort: "float32", kind: "float", bytes: 4, array: Float32Array },
  FP64: { ort: "float64", kind: "float", bytes: 8, array: Float64Array },
  BYTES: { ort: "string", kind: "string", bytes: 0 },
};

const BY_ORT = new Map((Object.keys(DATATYPES) as Datatype[]).map((d) => [DATATYPES[d].ort, d]));

export function datatypeOfOrt(ortType: string): Datatype | undefined {
  return BY_ORT.get(ortType);
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

const bad = (message: string) => new CleaveError("INVALID_ARGUMENT", message);

function describe(v: unknown): string {
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}…` : v)}`;
  if (v === null) return "null";
  if (Array.isArray(v)) return "a nested array";
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** onnxruntime-node passes strings to native code as C strings: a NUL would silently cut the element short. */
const nulError = (what: string, i: number) =>
  bad(`${what}: BYTES element ${i} contains a NUL character, which onnxruntime string tensors cannot carry`);

/** Flattens OIP `data` (flat or nested row-major) into one array. */
function flatten(what: string, data: unknown[], shape: number[]): unknown[] {
  for (let i = 0; i < data.length; i++) {
    if (Array.isArray(data[i])) {
      checkNesting(what, data, shape, 0, "data");
      return data.flat(Infinity);
    }
  }
  return data;
}

/** Nested data must follow the shape level by level: [[1,2,3],[4]] is not a [2,2] tensor even with 4 numbers. */
function checkNesting(what: string, level: unknown, shape: number[], depth: number, path: string): void {
  if (depth === shape.length) {
    if (Array.isArray(level)) throw bad(`${what}: ${path} is nested deeper than shape [${shape.join(",")}]`);
    return;
  }
  if (!Array.isArray(level) || level.length !== shape[depth]) {
    const got = Array.isArray(level) ? `${level.length} items` : describe(level);
    throw bad(`${what}: ${path} should be an array of ${shape[depth]} (dim ${depth} of shape [${shape.join(",")}]), got ${got}`);
  }
  for (let i = 0; i < level.length; i++) checkNesting(what, level[i], shape, depth + 1, `${path}[${i}]`);
}

/**
 * Converts JSON `data` of one input into its typed form, checking every element against the datatype and the
 * element count against the shape. `what` names the input in errors (`input "x"`).
 */
export function fromJson(what: string, datatype: Datatype, shape: number[], data: unknown): TensorValues {
  if (!Array.isArray(data)) {
    throw bad(`${what}: "data" must be an array (flat or nested, row-major), got ${describe(data)}`);
  }
  const flat = flatten(what, data, shape);
  const expected = elementCount(shape);
  if (flat.length !== expected) {
    throw bad(`${what}: shape [${shape.join(",")}] holds ${expected} elements but "data" has ${flat.length}`);
  }
  const spec = DATATYPES[datatype];
  const elementError = (i: number, v: unknown, wants: string) =>
    bad(`${what}: element ${i} is ${describe(v)}; ${datatype} takes ${wants}`);
  switch (spec.kind) {
    case "string": {
      for (let i = 0; i < flat.length; i++) {
        if (typeof flat[i] !== "string") throw elementError(i, flat[i], "strings");
        if ((flat[i] as string).includes("\0")) throw nulError(what, i);
      }
      return flat as string[];
    }
    case "bool": {
      const out = new Uint8Array(flat.length);
      for (let i = 0; i < flat.length; i++) {
        const v = flat[i];
        if (typeof v !== "boolean") throw elementError(i, v, "true/false");
        out[i] = v ? 1 : 0;
      }
      return out;
    }
    case "float":
    case "half": {
      const values = spec.kind === "half" ? new Float16Array(flat.length) : new spec.array!(flat.length);
      for (let i = 0; i < flat.length; i++) {
        const v = flat[i];
        if (typeof v !== "number") {
          throw elementError(i, v, "JSON numbers (NaN and ±Infinity are not JSON: send them as binary data)");
        }
        (values as Float32Array)[i] = v;
      }
      return spec.kind === "half" ? new Uint16Array(values.buffer) : (values as NumericArray);
    }
    case "int": {
      const out = new spec.array!(flat.length) as Int32Array;
      const [min, max] = [spec.min as number, spec.max as number];
      for (let i = 0; i < flat.length; i++) {
        const v = flat[i];
        if (typeof v !== "number" || !Number.isInteger(v)) throw elementError(i, v, "integers");
        if (v < min || v > max) throw elementError(i, v, `integers in [${min}, ${max}]`);
        out[i] = v;
      }
      return out;
    }
    case "bigint": {
      const out = new spec.array!(flat.length) as BigInt64Array;
      const [min, max] = [spec.min as bigint, spec.max as bigint];
      for (let i = 0; i < flat.length; i++) {
        const v = flat[i];
        if (typeof v !== "number" || !Number.isInteger(v)) throw elementError(i, v, "integers");
        const b = BigInt(v);
        if (b < min || b > max) throw elementError(i, v, `integers in [${min}, ${max}]`);
        out[i] = b;
      }
      return out;
    }
  }
}

const halfToNumbers = (bits: Uint16Array) => new Float16Array(bits.buffer, bits.byteOffset, bits.length);

/**
 * Typed values → a JSON-ready flat array. Non-finite floats cannot be written as JSON: the caller gets a clear
 * error telling it to ask for binary output instead of silently receiving nulls.
 */
export function toJson(what: string, datatype: Datatype, values: TensorValues): unknown[] {
  const kind = DATATYPES[datatype].kind;
  if (kind === "string") return values as string[];
  if (kind === "bool") return Array.from(values as Uint8Array, (v) => v !== 0);
  if (kind === "bigint") return Array.from(values as BigInt64Array, (v) => Number(v));
  const numbers = kind === "half" ? halfToNumbers(values as Uint16Array) : (values as Float32Array);
  const out = Array.from(numbers as Float32Array);
  if (kind === "float" || kind === "half") {
    for (let i = 0; i < out.length; i++) {
      if (!Number.isFinite(out[i])) {
        throw bad(
          `${what}: element ${i} is ${out[i]}, which JSON cannot represent; request this output as binary data ` +
            `("parameters": {"binary_data": true}) to receive IEEE values`,
        );
      }
    }
  }
  return out;
}


/** Bytes of one tensor in the binary extension's layout (BYTES: each element as u32 LE length + UTF-8). */
export function toBinary(datatype: Datatype, values: TensorValues): Uint8Array {
  if (DATATYPES[datatype].kind !== "string") {
    const v = values as NumericArray;
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }
  const encoded = (values as string[]).map((s) => new TextEncoder().encode(s));
  const out = new Uint8Array(encoded.reduce((n, e) => n + 4 + e.byteLength, 0));
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const e of encoded) {
    view.setUint32(offset, e.byteLength, true);
    out.set(e, offset + 4);
    offset += 4 + e.byteLength;
  }
  return out;
}

/** The inverse of `toBinary`, checking that the byte length is exactly what the shape and datatype need. */
export function fromBinary(what: string, datatype: Datatype, shape: number[], bytes: Uint8Array): TensorValues {
  const spec = DATATYPES[datatype];
  const count = elementCount(shape);
  if (spec.kind === "string") return stringsFromBinary(what, count, bytes);
  if (bytes.byteLength !== count * spec.bytes) {
    throw bad(
      `${what}: binary data has ${bytes.byteLength} bytes but shape [${shape.join(",")}] of ${datatype} needs ` +
        `${count * spec.bytes}`,
    );
  }
  // A typed-array view needs an offset aligned to its element size; copy when the body slice is not aligned.
  const source = bytes.byteOffset % spec.bytes === 0 ? bytes : bytes.slice();
  const values = new spec.array!(source.buffer as ArrayBuffer, source.byteOffset, count);
  if (spec.kind === "bool") {
    for (let i = 0; i < count; i++) if (values[i] > 1) throw bad(`${what}: BOOL element ${i} is byte ${values[i]}, not 0 or 1`);
  }
  return values;
}

function stringsFromBinary(what: string, count: number, bytes: Uint8Array): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const out: string[] = [];
  let offset = 0;
  while (offset < bytes.byteLength) {
    if (offset + 4 > bytes.byteLength) throw bad(`${what}: BYTES element ${out.length} has a truncated length prefix`);
    const length = view.getUint32(offset, true);
    if (offset + 4 + length > bytes.byteLength) {
      throw bad(`${what}: BYTES element ${out.length} claims ${length} bytes but only ${bytes.byteLength - offset - 4} remain`);
    }
    let text: string;
    try {
      text = decoder.decode(bytes.subarray(offset + 4, offset + 4 + length));
    } catch {
      throw bad(`${what}: BYTES element ${out.length} is not valid UTF-8 (ONNX string tensors hold text)`);
    }
    if (text.includes("\0")) throw nulError(what, out.length);
    out.push(text);
    offset += 4 + length;
  }
  if (out.length !== count) throw bad(`${what}: binary data holds ${out.length} BYTES elements but the shape needs ${count}`);
  return out;
}
