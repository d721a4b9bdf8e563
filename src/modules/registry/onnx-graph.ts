/**
 * Reads what a serving runtime needs to know from an ONNX file without running it: the graph's inputs and outputs
 * (name, element type, shape). Parsing the ModelProto is also how an upload is recognised as ONNX at all.
 */
import { onnx } from "onnx-proto";
import { CleaveError } from "../../runtime/errors";
import type { TensorSignature, TensorSpec } from "./schemas";

/** ONNX TensorProto.DataType → the names onnxruntime uses for tensor types. */
const ELEM_TYPES: Record<number, string> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  7: "int64",
  8: "string",
  9: "bool",
  10: "float16",
  11: "float64",
  12: "uint32",
  13: "uint64",
  14: "complex64",
  15: "complex128",
  16: "bfloat16",
};

const elemName = (t: number | null | undefined) => ELEM_TYPES[t ?? 0] ?? `type${t ?? 0}`;

const toNumber = (v: unknown): number => (typeof v === "number" ? v : Number(String(v)));

/** A non-tensor type as text, e.g. `seq(map(int64,tensor(float32)))` (sklearn's ZipMap output). */
function describeType(t: onnx.ITypeProto | null | undefined): string {
  if (!t) return "unknown";
  if (t.tensorType) return `tensor(${elemName(t.tensorType.elemType)})`;
  if (t.sequenceType) return `seq(${describeType(t.sequenceType.elemType)})`;
  if (t.mapType) return `map(${elemName(t.mapType.keyType)},${describeType(t.mapType.valueType)})`;
  if (t.optionalType) return `optional(${describeType(t.optionalType.elemType)})`;
  if (t.sparseTensorType) return `sparse_tensor(${elemName(t.sparseTensorType.elemType)})`;
  return "unknown";
}

function spec(v: onnx.IValueInfoProto): TensorSpec {
  const tensor = v.type?.tensorType;
  if (!tensor) return { name: v.name ?? "", kind: "other", dtype: null, shape: null, type: describeType(v.type) };
  const dims = tensor.shape?.dim;
  const shape = dims
    ? dims.map((d) => (d.dimValue !== undefined && d.dimValue !== null ? toNumber(d.dimValue) : d.dimParam || null))
    : null;
  return { name: v.name ?? "", kind: "tensor", dtype: elemName(tensor.elemType), shape, type: describeType(v.type) };
}

/** Parses an ONNX ModelProto; anything that is not one is a 415 naming what is wrong. */
export function readTensorSignature(bytes: Uint8Array): TensorSignature {
  const notOnnx = (why: string) =>
    new CleaveError("UNSUPPORTED_MEDIA_TYPE", `the upload is not an ONNX model: ${why}`, { expected: "ONNX ModelProto" });
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw notOnnx(`protobuf decoding failed (${(err as Error).message})`);
  }
  const irVersion = toNumber(model.irVersion);
  if (!irVersion) throw notOnnx("no ir_version");
  const graph = model.graph;
  if (!graph) throw notOnnx("no graph");
  // Initializers may be listed among the inputs (IR < 4); only true feeds are inputs of the model.
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((v) => !initializers.has(v.name ?? "")).map(spec);
  const outputs = (graph.output ?? []).map(spec);
  if (!inputs.length) throw notOnnx("the graph has no inputs");
  if (!outputs.length) throw notOnnx("the graph has no outputs");
  if ([...inputs, ...outputs].some((t) => !t.name)) throw notOnnx("a graph input or output has no name");
  return {
    irVersion,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(" "),
    opsets: (model.opsetImport ?? []).map((o) => ({ domain: o.domain || "ai.onnx", version: toNumber(o.version) })),
    inputs,
    outputs,
  };
}
