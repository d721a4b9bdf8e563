/**
 * The V1 form for legacy apps: `{"instances": [...]}` → `{"predictions": [...]}`, one prediction per instance.
 * Instances are rows (arrays), scalars, or objects: either keyed by the model's input names, or named columns
 * mapped to the single input's row through the model's column order (`columns` in its config; the registry's
 * signature once it has one). The result goes through the same validation as a V2 request.
 */
import { CleaveError } from "../../runtime/errors";
import type { InferRequest, InferResult } from "./contract";
import type { ModelVersion } from "./model";
import type { IoSpec } from "./onnx-graph";
import { type Datatype, elementCount, toJson, type TensorValues } from "./tensor";

const bad = (message: string) => new CleaveError("INVALID_ARGUMENT", message);

function nestedDims(value: unknown): number[] {
  const dims: number[] = [];
  let v = value;
  while (Array.isArray(v)) {
    dims.push(v.length);
    v = v[0];
  }
  return dims;
}

/** A scalar for a rank-2 input ([N, k]) is a one-column row. */
const asRow = (value: unknown, spec: IoSpec) => (!Array.isArray(value) && spec.dims?.length === 2 ? [value] : value);

function rowsFromInstances(model: ModelVersion, instances: unknown[]): Map<string, unknown[]> {
  const inputs = model.info.inputs;
  const rows = new Map<string, unknown[]>(inputs.map((i) => [i.name, []]));
  const inputNames = new Set(inputs.map((i) => i.name));
  instances.forEach((instance, n) => {
    const isObject = instance !== null && typeof instance === "object" && !Array.isArray(instance);
    if (!isObject) {
      if (inputs.length !== 1) throw bad(`instance ${n} must be an object keyed by input name (${[...inputNames].join(", ")})`);
      rows.get(inputs[0].name)!.push(asRow(instance, inputs[0]));
      return;
    }
    const record = instance as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.every((k) => inputNames.has(k)) && (inputs.length > 1 || !model.columns)) {
      for (const spec of inputs) {
        if (!(spec.name in record)) throw bad(`instance ${n} has no value for input "${spec.name}"`);
        rows.get(spec.name)!.push(asRow(record[spec.name], spec));
      }
      return;
    }
    if (!model.columns || inputs.length !== 1) {
      throw bad(
        `instance ${n} has named columns (${keys.slice(0, 5).join(", ")}) but model "${model.name}" has no column order; ` +
          `set "columns" in its config or send rows as arrays`,
      );
    }
    const columns = model.columns;
    const unknown = keys.find((k) => !columns.includes(k));
    if (unknown) throw bad(`instance ${n} has column "${unknown}", which is not one of the model's columns: ${columns.join(", ")}`);
    rows.get(inputs[0].name)!.push(
      columns.map((c) => {
        if (!(c in record)) throw bad(`instance ${n} has no column "${c}"`);
        return record[c];
      }),
    );
  });
  return rows;
}

export function predictToInfer(model: ModelVersion, body: { instances?: unknown[]; inputs?: unknown }): InferRequest {
  let rows: Map<string, unknown[]>;
  if (body.instances !== undefined) rows = rowsFromInstances(model, body.instances);
  else if (Array.isArray(body.inputs)) rows = rowsFromInstances(model, body.inputs);
  else if (body.inputs && typeof body.inputs === "object") {
    // Columnar: {"inputs": {"x": [row, row, ...]}}.
    rows = new Map(Object.entries(body.inputs as Record<string, unknown>).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));
  } else throw bad(`"instances" must be an array of rows`);
  const inputs = [...rows].map(([name, r]) => {
    const spec = model.info.inputs.find((i) => i.name === name);
    if (r.length === 0) throw bad(`"instances" is empty`);
    return { name, datatype: spec?.datatype ?? "FP32", shape: [r.length, ...nestedDims(r[0])], data: r };
  });
  return { name: model.name, version: model.version, inputs };
}

function nest(flat: unknown[], dims: number[]): unknown {
  if (dims.length === 0) return flat[0];
  if (dims.length === 1) return flat;
  const step = elementCount(dims.slice(1));
  return Array.from({ length: dims[0] }, (_, i) => nest(flat.slice(i * step, (i + 1) * step), dims.slice(1)));
}

export function inferToPredictions(model: ModelVersion, result: InferResult): unknown[] {
  const n = result.outputs[0]?.shape[0] ?? 0;
  const columns = result.outputs.map((o) => {
    const flat = toJson(`output "${o.name}"`, o.datatype as Datatype, o.data as TensorValues);
    const rowDims = o.shape.slice(1);
    const rowSize = elementCount(rowDims);
    const labels = model.info.outputs.find((s) => s.name === o.name)?.classLabels;
    return (i: number) => {
      const row = flat.slice(i * rowSize, (i + 1) * rowSize);
      if (labels) return Object.fromEntries(labels.map((label, j) => [String(label), row[j]]));
      return nest(row, rowDims);
    };
  });
  return Array.from({ length: n }, (_, i) =>
    result.outputs.length === 1 ? columns[0](i) : Object.fromEntries(result.outputs.map((o, j) => [o.name, columns[j](i)])),
  );
}
