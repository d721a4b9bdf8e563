/**
 * Writes a GbdtModel as an ONNX model with one `ai.onnx.ml` TreeEnsembleClassifier node (post_transform LOGISTIC),
 * built as protobuf messages with the onnx-proto package.
 *
 * Input `input`: float32 [N, F] in the sidecar's feature order. Outputs `label`: int64 [N] (0/1) and
 * `probabilities`: float32 [N, 2] ([P(legit), P(fraud)]).
 *
 * onnxruntime's binary case (two class labels, one weight column) applies the logistic to the summed weights only
 * when some weight is negative; otherwise it reads the sum as a probability. Boosted leaves of both signs are the
 * norm, but to be certain, a model whose leaves are all ≥ 0 has 1 moved from every leaf of its first tree into the
 * base value — every row reaches exactly one leaf of that tree, so the sum is unchanged.
 */
import { onnx } from "onnx-proto";
import type { GbdtModel } from "./gbdt";

const ATTR = onnx.AttributeProto.AttributeType;

const ints = (name: string, v: number[]) => onnx.AttributeProto.create({ name, type: ATTR.INTS, ints: v });
const floats = (name: string, v: number[]) => onnx.AttributeProto.create({ name, type: ATTR.FLOATS, floats: v });
const strings = (name: string, v: string[]) =>
  onnx.AttributeProto.create({ name, type: ATTR.STRINGS, strings: v.map((s) => new TextEncoder().encode(s)) });
const string = (name: string, v: string) => onnx.AttributeProto.create({ name, type: ATTR.STRING, s: new TextEncoder().encode(v) });

function tensorType(elemType: number, dims: (number | string)[]) {
  return onnx.TypeProto.create({
    tensorType: onnx.TypeProto.Tensor.create({
      elemType,
      shape: onnx.TensorShapeProto.create({
        dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })),
      }),
    }),
  });
}

export interface ExportOptions {
  featureNames: readonly string[];
  /** Free-form key/value metadata stored in the model (seed, metrics, …). */
  metadata?: Record<string, string>;
}

export function exportGbdtToOnnx(model: GbdtModel, opts: ExportOptions): Uint8Array {
  let base = model.base;
  const trees = model.trees.map((t) => ({ ...t, value: [...t.value] }));
  const anyNegative = trees.some((t) => t.feature.some((f, n) => f < 0 && t.value[n] < 0));
  if (!anyNegative && trees.length) {
    const t0 = trees[0];
    t0.value = t0.value.map((v, n) => (t0.feature[n] < 0 ? Math.fround(v - 1) : v));
    base = Math.fround(base + 1);
  }

  const n = { treeIds: [] as number[], nodeIds: [] as number[], featureIds: [] as number[], values: [] as number[],
    modes: [] as string[], trueIds: [] as number[], falseIds: [] as number[], missingTrue: [] as number[] };
  const c = { treeIds: [] as number[], nodeIds: [] as number[], classIds: [] as number[], weights: [] as number[] };
  trees.forEach((t, treeId) => {
    for (let node = 0; node < t.feature.length; node++) {
      const leaf = t.feature[node] < 0;
      n.treeIds.push(treeId);
      n.nodeIds.push(node);
      n.featureIds.push(leaf ? 0 : t.feature[node]);
      n.values.push(leaf ? 0 : t.threshold[node]);
      n.modes.push(leaf ? "LEAF" : "BRANCH_LEQ");
      n.trueIds.push(leaf ? 0 : t.left[node]);
      n.falseIds.push(leaf ? 0 : t.right[node]);
      n.missingTrue.push(0);
      if (leaf) {
        c.treeIds.push(treeId);
        c.nodeIds.push(node);
        c.classIds.push(0);
        c.weights.push(t.value[node]);
      }
    }
  });

  const node = onnx.NodeProto.create({
    opType: "TreeEnsembleClassifier",
    domain: "ai.onnx.ml",
    name: "fraud_gbdt",
    input: ["input"],
    output: ["label", "probabilities"],
    attribute: [
      ints("nodes_treeids", n.treeIds),
      ints("nodes_nodeids", n.nodeIds),
      ints("nodes_featureids", n.featureIds),
      floats("nodes_values", n.values),
      strings("nodes_modes", n.modes),
      ints("nodes_truenodeids", n.trueIds),
      ints("nodes_falsenodeids", n.falseIds),
      ints("nodes_missing_value_tracks_true", n.missingTrue),
      ints("class_treeids", c.treeIds),
      ints("class_nodeids", c.nodeIds),
      ints("class_ids", c.classIds),
      floats("class_weights", c.weights),
      ints("classlabels_int64s", [0, 1]),
      floats("base_values", [base]),
      string("post_transform", "LOGISTIC"),
    ],
  });
  const F = opts.featureNames.length;
  const graph = onnx.GraphProto.create({
    name: "cleave_fraud_gbdt",
    node: [node],
    input: [onnx.ValueInfoProto.create({ name: "input", type: tensorType(onnx.TensorProto.DataType.FLOAT, ["N", F]) })],
    output: [
      onnx.ValueInfoProto.create({ name: "label", type: tensorType(onnx.TensorProto.DataType.INT64, ["N"]) }),
      onnx.ValueInfoProto.create({ name: "probabilities", type: tensorType(onnx.TensorProto.DataType.FLOAT, ["N", 2]) }),
    ],
    docString: `features (column order): ${opts.featureNames.join(", ")}`,
  });
  const metadata = { feature_names: JSON.stringify(opts.featureNames), ...opts.metadata };
  const modelProto = onnx.ModelProto.create({
    irVersion: 8,
    producerName: "cleave-train",
    producerVersion: "1",
    domain: "cleave",
    modelVersion: 1,
    opsetImport: [
      { domain: "", version: 17 },
      { domain: "ai.onnx.ml", version: 3 },
    ],
    graph,
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(modelProto).finish();
}
