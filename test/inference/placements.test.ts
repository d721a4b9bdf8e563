/**
 * The module behaves the same in every placement: in process, in process with every call forced through the wire
 * codec, and split over a real nats-server (gateway in one process, inference in another).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NatsServer } from "../harness/nats-server";
import { PLACEMENTS, startTestProcess, type TestProcess } from "../harness/deployment";
import { IDENTITY_TYPES, identity, smallMlp } from "../fixtures/make-models";
import { binaryRequest, readInferResponse, stringsToBinary } from "./helpers";

const IRIS = join(import.meta.dir, "../fixtures/inference/converter-models/logreg_iris.onnx");
let nats: NatsServer;
let modelDir: string;

beforeAll(async () => {
  nats = await NatsServer.start();
  modelDir = mkdtempSync(join(tmpdir(), "cleave-placement-"));
  writeFileSync(join(modelDir, "mlp.onnx"), smallMlp());
});
afterAll(() => nats.stop());

for (const placement of PLACEMENTS) {
  describe(`placement ${placement}`, () => {
    const procs: TestProcess[] = [];
    let url: string;
    let caller: TestProcess;

    beforeAll(async () => {
      const modules = { inference: { modelDir, models: [{ name: "iris", path: IRIS }] } };
      if (placement === "nats") {
        const deployment = `p${Math.floor(Math.random() * 1e6)}`;
        procs.push(await startTestProcess({ placement, modules, local: ["inference"], http: false, natsUrl: nats.url, deployment }));
        procs.push(await startTestProcess({ placement, modules, local: [], natsUrl: nats.url, deployment }));
      } else procs.push(await startTestProcess({ placement, modules }));
      caller = procs.at(-1)!;
      url = caller.url!;
      while ((await fetch(`${url}/v2/health/ready`)).status !== 200) await Bun.sleep(20);
    });
    afterAll(async () => {
      for (const p of procs.reverse()) await p.close();
    });

    test("JSON and binary V2 inference, V1 predict and metadata", async () => {
      const x = Array.from({ length: 30 }, (_, i) => i / 30);
      const json = await fetch(`${url}/v2/models/mlp/infer`, {
        method: "POST",
        body: JSON.stringify({ id: "r1", inputs: [{ name: "x", datatype: "FP32", shape: [1, 30], data: x }] }),
      });
      expect(json.status).toBe(200);
      const jsonBody: any = await json.json();
      expect(jsonBody.id).toBe("r1");
      const bin = binaryRequest([{ name: "x", datatype: "FP32", shape: [1, 30], values: [], bytes: new Uint8Array(Float32Array.from(x).buffer) }], { parameters: { binary_data_output: true } });
      const binRes = await readInferResponse(await fetch(`${url}/v2/models/mlp/infer`, { method: "POST", body: bin.body, headers: bin.headers }));
      expect(binRes.outputs[0].values).toEqual(jsonBody.outputs[0].data);

      const v1 = await fetch(`${url}/v1/models/iris:predict`, { method: "POST", body: JSON.stringify({ instances: [[5.1, 3.5]] }) });
      const { predictions }: any = await v1.json();
      expect(predictions[0].output_label).toBe(0);
      expect(Object.keys(predictions[0].output_probability)).toEqual(["0", "1", "2"]);
      expect(((await (await fetch(`${url}/v2/models/iris`)).json()) as any).platform).toBe("onnx_onnxv1");
    });

    test("load over the bus, then BYTES, INT64 and FP16 travel intact", async () => {
      for (const d of ["BYTES", "INT64", "FP16"]) {
        await caller.bus.call("inference", "load", { name: `id_${d}`, version: "1", bytes: identity(IDENTITY_TYPES[d]) });
      }
      const cases: [string, Uint8Array, unknown[]][] = [
        ["BYTES", stringsToBinary(["a", "bé", "", "x", "y", "z"]), ["a", "bé", "", "x", "y", "z"]],
        ["INT64", new Uint8Array(new BigInt64Array([2n ** 62n + 1n, -1n, 0n, 1n, 2n, 3n]).buffer), [2n ** 62n + 1n, -1n, 0n, 1n, 2n, 3n]],
        ["FP16", new Uint8Array(new Float16Array([NaN, 1.5, -2, 0, 65504, Infinity]).buffer), [NaN, 1.5, -2, 0, 65504, Infinity]],
      ];
      for (const [datatype, bytes, expected] of cases) {
        const req = binaryRequest([{ name: "x", datatype, shape: [2, 3], values: [], bytes }], { parameters: { binary_data_output: true } });
        const res = await readInferResponse(await fetch(`${url}/v2/models/id_${datatype}/infer`, { method: "POST", body: req.body, headers: req.headers }));
        expect(res.status).toBe(200);
        res.outputs[0].values.forEach((v, i) => expect(Object.is(v, expected[i])).toBe(true));
      }
    });

    test("errors keep their status and message across the placement", async () => {
      const res = await fetch(`${url}/v2/models/mlp/infer`, {
        method: "POST",
        body: JSON.stringify({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 2], data: [1, 2] }] }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error).toContain("dim 1 must be 30");
      expect((await fetch(`${url}/v2/models/none`)).status).toBe(404);
    });
  });
}
