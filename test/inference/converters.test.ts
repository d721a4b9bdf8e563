/**
 * Real converter models (sklearn-onnx, onnxmltools) give the same labels and probabilities through Cleave (V2 and
 * V1) as a direct onnxruntime run. For ZipMap models, onnxruntime-node cannot return the seq(map) output, so the
 * reference run uses an independently edited copy of the model that also exposes ZipMap's input tensor as a graph
 * output (the ZipMap node itself kept), and compares probabilities with that.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { onnx } from "onnx-proto";
import { loadOnnxRuntime } from "../../src/runtime/native/onnxruntime";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { mismatch } from "./helpers";

const DIR = join(import.meta.dir, "../fixtures/inference/converter-models");
const MODELS: Record<string, { features: number; input: string }> = {
  treecl: { features: 20, input: "input" },
  treecl2: { features: 20, input: "input" },
  treecl3: { features: 10, input: "input" },
  test_xgb: { features: 4, input: "X" },
  logreg_iris: { features: 2, input: "X" },
  pipeline_lightgbm: { features: 2, input: "input" },
};

/** Deterministic inputs spread over a range that crosses the trees' thresholds. */
function rows(n: number, features: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: features }, (_, j) => Math.sin(i * 7.1 + j * 3.3) * 4 + (j % 3)));
}

/** Direct onnxruntime run: tensor outputs as they are, ZipMap outputs via their input tensor. */
async function reference(file: string, input: string, data: number[][]): Promise<Record<string, number[]>> {
  const ort = await loadOnnxRuntime();
  const model = onnx.ModelProto.decode(readFileSync(join(DIR, file)));
  const graph = model.graph!;
  const fetches: Record<string, string> = {};
  for (const out of [...graph.output!]) {
    const zipmap = graph.node!.find((n) => n.opType === "ZipMap" && n.output!.includes(out.name!));
    if (!zipmap) fetches[out.name!] = out.name!;
    else {
      fetches[out.name!] = zipmap.input![0];
      graph.output!.push({ name: zipmap.input![0], type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } });
    }
  }
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish(), { logSeverityLevel: 4 });
  const x = new ort.Tensor("float32", Float32Array.from(data.flat()), [data.length, data[0].length]);
  const result = await session.run({ [input]: x }, Object.values(fetches));
  return Object.fromEntries(Object.entries(fetches).map(([name, fetched]) => [name, Array.from(result[fetched].data as ArrayLike<number>, Number)]));
}

let proc: TestProcess;
beforeAll(async () => {
  proc = await startTestProcess({
    placement: "inprocess",
    modules: { inference: { models: Object.keys(MODELS).map((name) => ({ name, path: join(DIR, `${name}.onnx`) })) } },
  });
  while ((await fetch(`${proc.url}/v2/health/ready`)).status !== 200) await Bun.sleep(20);
});
afterAll(() => proc.close());

describe("converter models", () => {
  for (const [name, { features, input }] of Object.entries(MODELS)) {
    test(`${name}: V2 outputs equal a direct onnxruntime run`, async () => {
      const data = rows(16, features);
      const expected = await reference(`${name}.onnx`, input, data);
      const res = await fetch(`${proc.url}/v2/models/${name}/infer`, {
        method: "POST",
        body: JSON.stringify({ inputs: [{ name: input, datatype: "FP32", shape: [16, features], data }] }),
      });
      expect(res.status).toBe(200);
      const body: any = await res.json();
      expect(body.outputs.map((o: any) => o.name).sort()).toEqual(Object.keys(expected).sort());
      for (const out of body.outputs) {
        expect(mismatch(out.data, expected[out.name], 1e-6, 1e-7)).toBeUndefined();
      }
    });
  }

  test("ZipMap outputs are FP32 [N, classes] with class labels in the metadata, consistent with the labels", async () => {
    const meta: any = await (await fetch(`${proc.url}/v2/models/logreg_iris`)).json();
    const prob = meta.outputs.find((o: any) => o.name === "output_probability");
    expect(prob).toEqual({ name: "output_probability", datatype: "FP32", shape: [-1, 3], parameters: { class_labels: [0, 1, 2] } });
    const data = rows(8, 2);
    const body: any = await (await fetch(`${proc.url}/v2/models/logreg_iris/infer`, {
      method: "POST",
      body: JSON.stringify({ inputs: [{ name: "X", datatype: "FP32", shape: [8, 2], data }] }),
    })).json();
    const labels = body.outputs.find((o: any) => o.name === "output_label").data;
    const probs = body.outputs.find((o: any) => o.name === "output_probability").data;
    for (let i = 0; i < 8; i++) {
      const row = probs.slice(i * 3, i * 3 + 3);
      expect(row.indexOf(Math.max(...row))).toBe(labels[i]);
      expect(row.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 5);
    }
  });

  test("V1 predict returns {label: probability} maps like the sklearn ZipMap would", async () => {
    const data = rows(3, 2);
    const expected = await reference("pipeline_lightgbm.onnx", "input", data);
    const res = await fetch(`${proc.url}/v1/models/pipeline_lightgbm:predict`, { method: "POST", body: JSON.stringify({ instances: data }) });
    expect(res.status).toBe(200);
    const { predictions }: any = await res.json();
    expect(predictions).toHaveLength(3);
    predictions.forEach((p: any, i: number) => {
      expect(p.output_label).toBe(expected.output_label[i]);
      const classes = Object.keys(p.output_probability);
      expect(classes.length).toBe(expected.output_probability.length / 3);
      classes.forEach((c, j) => expect(p.output_probability[c]).toBeCloseTo(expected.output_probability[i * classes.length + j], 6));
    });
  });
});
