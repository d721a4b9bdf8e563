/**
 * Reads a model's graph (onnx-proto) to learn what onnxruntime's metadata does not say — unknown rank vs scalar,
 * and why an input or output is not a tensor — and to make converter models servable.
 *
 * ZipMap: sklearn-onnx and onnxmltools end classifiers with a ZipMap node whose output is seq(map(label, float)),
 * which onnxruntime-node cannot return. We rewrite that node into an Identity, so the output becomes the
 * probability tensor ZipMap was fed: FP32 [N, classes], column j being class label j. The labels are kept and
 * reported in the model metadata (and used by V1 predictions to rebuild {label: probability} objects). The rest of
 * the graph is untouched, so labels and probabilities are exactly what a direct onnxruntime run gives.
 */
import { onnx } from "onnx-proto";
import type { Datatype } from "./tensor";

const E = onnx.TensorProto.DataType;
const ELEMENT_TYPES: Partial<Record<number, Datatype>> = {
  [E.FLOAT]: "FP32", [E.UINT8]: "UINT8", [E.INT8]: "INT8", [E.UINT16]: "UINT16", [E.INT16]: "INT16",
  [E.INT32]: "INT32", [E.INT64]: "INT64", [E.STRING]: "BYTES", [E.BOOL]: "BOOL", [E.FLOAT16]: "FP16",
  [E.DOUBLE]: "FP64", [E.UINT32]: "UINT32", [E.UINT64]: "UINT64",
};

export interface IoSpec {
  name: string;
  datatype: Datatype;
  /** Known sizes, null for a dynamic dimension; null for the whole when the rank is unknown. */
  dims: (number | null)[] | null;
  /** ZipMap outputs: the class labels of the probability columns. */
  classLabels?: (string | number)[];
}

export interface GraphInfo {
  inputs: IoSpec[];
  outputs: IoSpec[];
  /** The model bytes to give onnxruntime (rewritten when a ZipMap was replaced). */
  bytes: Uint8Array;
}

export class UnservableModel extends Error {}

function describeType(t: onnx.ITypeProto | null | undefined): string {
  if (!t) return "an undeclared type";
  if (t.tensorType) return `tensor(${E[t.tensorType.elemType ?? 0] ?? t.tensorType.elemType})`;
  if (t.sequenceType) return `seq(${describeType(t.sequenceType.elemType)})`;
  if (t.mapType) return `map(${E[t.mapType.keyType ?? 0]}, ${describeType(t.mapType.valueType)})`;
  if (t.optionalType) return `optional(${describeType(t.optionalType.elemType)})`;
  if (t.sparseTensorType) return "sparse_tensor";
  return "an unknown type";
}

function tensorSpec(v: onnx.IValueInfoProto, role: "input" | "output"): IoSpec {
  const tensor = v.type?.tensorType;
  const name = v.name ?? "";
  if (!tensor) {
    throw new UnservableModel(
      `${role} "${name}" is ${describeType(v.type)}; the Open Inference Protocol carries only tensors`,
    );
  }
  const datatype = ELEMENT_TYPES[tensor.elemType ?? 0];
  if (!datatype) {
    throw new UnservableModel(`${role} "${name}" has element type ${E[tensor.elemType ?? 0] ?? tensor.elemType}, which has no OIP datatype`);
  }
  const dims = tensor.shape ? (tensor.shape.dim ?? []).map((d) => (d.dimValue != null && d.dimParam == null ? Number(d.dimValue) : null)) : null;
  return { name, datatype, dims };
}

function isZipMapOutput(t: onnx.ITypeProto | null | undefined): boolean {
  return !!t?.sequenceType?.elemType?.mapType;
}

/** Inspects (and if needed rewrites) a model; throws UnservableModel with the reason when it cannot be served. */
export function inspectModel(bytes: Uint8Array): GraphInfo {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new UnservableModel(`not an ONNX model: ${(err as Error).message}`);
  }
  const graph = model.graph;
  if (!graph) throw new UnservableModel("the ONNX model has no graph");
  const initializers = new Set((graph.initializer ?? []).map((i) => i.name));
  const inputs = (graph.input ?? []).filter((v) => !initializers.has(v.name ?? "")).map((v) => tensorSpec(v, "input"));
  let rewritten = false;
  const outputs = (graph.output ?? []).map((v) => {
    if (!isZipMapOutput(v.type)) return tensorSpec(v, "output");
    const node = (graph.node ?? []).find((n) => n.output?.includes(v.name ?? ""));
    if (node?.opType !== "ZipMap") {
      throw new UnservableModel(`output "${v.name}" is ${describeType(v.type)} not made by a ZipMap node; only tensors can be served`);
    }
    const attr = (name: string) => node.attribute?.find((a) => a.name === name);
    const labels: (string | number)[] =
      attr("classlabels_int64s")?.ints?.map(Number) ??
      attr("classlabels_strings")?.strings?.map((s) => new TextDecoder().decode(s)) ??
      [];
    node.opType = "Identity";
    node.domain = "";
    node.attribute = [];
    v.type = { tensorType: { elemType: E.FLOAT, shape: { dim: [{ dimParam: "N" }, { dimValue: labels.length }] } } };
    rewritten = true;
    return { name: v.name ?? "", datatype: "FP32" as const, dims: [null, labels.length], classLabels: labels };
  });
  return { inputs, outputs, bytes: rewritten ? onnx.ModelProto.encode(model).finish() : bytes };
}

/** OIP metadata shape: -1 for dynamic dims, [-1] when even the rank is unknown. */
export const metadataShape = (spec: IoSpec): number[] => (spec.dims ? spec.dims.map((d) => d ?? -1) : [-1]);
