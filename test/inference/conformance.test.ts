/**
 * Conformance: every ONNX backend test case (simple, pytorch-operator, light) is loaded through the `load`
 * operation and served through POST /v2/models/…/infer, in JSON and in binary, matching the expected outputs
 * within rtol 1e-3 / atol 1e-7 — or is refused at load with a stated reason. Refusals are counted and listed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { binaryRequest, hasNonFinite, jsonRequest, mismatch, readInferResponse, type TestTensor, tensorFromProto } from "./helpers";

const ROOT = join(import.meta.dir, "../fixtures/inference/onnx-backend");

interface Case {
  name: string;
  model: string;
  inputs: TestTensor[];
  expected: TestTensor[];
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const suite of ["simple", "pytorch-operator"]) {
    for (const dir of readdirSync(join(ROOT, suite)).sort()) {
      const data = join(ROOT, suite, dir, "test_data_set_0");
      const files = existsSync(data) ? readdirSync(data) : [];
      const read = (prefix: string) =>
        files.filter((f) => f.startsWith(prefix)).sort((a, b) => parseInt(a.slice(prefix.length)) - parseInt(b.slice(prefix.length)))
          .map((f) => tensorFromProto(readFileSync(join(data, f))));
      out.push({ name: dir, model: join(ROOT, suite, dir, "model.onnx"), inputs: read("input_"), expected: read("output_") });
    }
  }
  for (const f of readdirSync(join(ROOT, "light")).filter((f) => f.endsWith(".onnx")).sort()) {
    const name = f.slice(0, -5);
    const n = 3 * 224 * 224;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = i / n;
    const input: TestTensor = { name: "", datatype: "FP32", shape: [1, 3, 224, 224], values: Array.from(x), bytes: new Uint8Array(x.buffer) };
    out.push({ name, model: join(ROOT, "light", f), inputs: [input], expected: [tensorFromProto(readFileSync(join(ROOT, "light", `${name}_output_0.pb`)))] });
  }
  return out;
}

let proc: TestProcess;
beforeAll(async () => {
  proc = await startTestProcess({ placement: "inprocess", modules: { inference: {} } });
});
afterAll(() => proc.close());

test("every ONNX backend case is served within tolerance in JSON and binary, or refused with a reason", async () => {
  const served: string[] = [];
  const refused: { name: string; reason: string }[] = [];
  const failures: string[] = [];
  const binaryOnly: string[] = [];
  for (const c of cases()) {
    try {
      // Workers off: this test is about the protocol and numerics; the light models are large in memory.
      await proc.bus.call("inference", "load", { name: c.name, version: "1", bytes: new Uint8Array(readFileSync(c.model)), workers: 0 }, { timeoutMs: 60_000 });
    } catch (err) {
      const reason = (err as Error).message;
      expect(reason).toContain("cannot be served: ");
      refused.push({ name: c.name, reason });
      continue;
    }
    const meta: any = await (await fetch(`${proc.url}/v2/models/${c.name}`)).json();
    const inputs = c.inputs.map((t, i) => ({ ...t, name: t.name || meta.inputs[i].name }));
    const outputNames: string[] = c.expected.map((t, i) => t.name || meta.outputs[i].name);
    const outputs = outputNames.map((name) => ({ name }));
    const url = `${proc.url}/v2/models/${c.name}/infer`;
    const jsonOk = !inputs.some(hasNonFinite);
    const wantBinaryOut = c.expected.some(hasNonFinite);
    const forms: [string, RequestInit][] = [];
    if (!jsonOk) binaryOnly.push(c.name);
    if (jsonOk) forms.push(["json", { method: "POST", body: jsonRequest(inputs, { outputs, parameters: { binary_data_output: wantBinaryOut } }) }]);
    const bin = binaryRequest(inputs, { outputs, parameters: { binary_data_output: true } });
    forms.push(["binary", { method: "POST", body: bin.body, headers: bin.headers }]);
    for (const [form, init] of forms) {
      const res = await readInferResponse(await fetch(url, init));
      if (res.status !== 200) {
        failures.push(`${c.name} (${form}): HTTP ${res.status} ${res.body.error}`);
        continue;
      }
      c.expected.forEach((e, i) => {
        const got = res.outputs.find((o) => o.name === outputNames[i]);
        const problem = !got ? "missing" : JSON.stringify(got.shape) !== JSON.stringify(e.shape) ? `shape ${JSON.stringify(got.shape)} ≠ ${JSON.stringify(e.shape)}` : mismatch(got.values, e.values);
        if (problem) failures.push(`${c.name} (${form}) output ${outputNames[i]}: ${problem}`);
      });
    }
    served.push(c.name);
    await proc.bus.call("inference", "unload", { name: c.name });
  }
  console.log(`conformance: ${served.length} served (JSON and binary; binary only, inputs not representable in JSON: ${binaryOnly.join(", ") || "none"}), ${refused.length} refused at load:\n` + refused.map((r) => `  ${r.name}: ${r.reason}`).join("\n"));
  expect(failures).toEqual([]);
  expect(served.length + refused.length).toBe(64);
  expect(served.length).toBeGreaterThanOrEqual(45);
}, 120_000);
