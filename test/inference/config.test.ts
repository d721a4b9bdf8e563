/**
 * The inference config is validated by the contract's schema (errors name the key), models load from the `models`
 * list and from `modelDir`, defaults merge section by section, and a model that cannot be loaded is refused with
 * its reason without holding the others back.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtinModules } from "../../src/modules/catalog";
import { validateConfig } from "../../src/runtime/config/load";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { mlp, smallMlp } from "../fixtures/make-models";

const configWith = (inference: unknown) => () => validateConfig({ modules: { inference } }, builtinModules, "/tmp");

test("bad inference config names the key", () => {
  expect(configWith({ models: [{ name: "m", path: "m.onnx", batching: { maxBatchSize: 0 } }] })).toThrow(/modules\.inference\.models\.0\.batching\.maxBatchSize/);
  expect(configWith({ models: [{ name: "m", path: "m.onnx", workers: "many" }] })).toThrow(/modules\.inference\.models\.0\.workers/);
  expect(configWith({ models: [{ name: "m", path: "m.onnx", sesion: {} }] })).toThrow(/unknown key "modules\.inference\.models\.0\.sesion"/);
  expect(configWith({ models: [{ name: "bad name", path: "m.onnx" }] })).toThrow(/modules\.inference\.models\.0\.name/);
  expect(configWith({ models: [{ name: "m", path: "m.onnx", session: { graphOptimizationLevel: "max" } }] })).toThrow(/graphOptimizationLevel/);
  expect(configWith({ models: [{ name: "m" }] })).toThrow(/path/);
  expect(configWith({ models: [{ name: "m", path: "m.onnx", version: 2, workers: 1, session: { intraOpThreads: 2 } }] })).not.toThrow();
});

test("registry follow config: defaults applied, bad keys named", () => {
  const inference = (registry: unknown) => (configWith({ registry })() as any).modules.inference.registry;
  expect(inference({ follow: [{ model: "fraud" }] })).toEqual({
    follow: [{ model: "fraud", alias: "champion" }],
    retrySeconds: 5,
    resyncSeconds: 60,
    downloadTimeoutMs: 30_000,
  });
  expect(configWith({ registry: { follow: [{ model: "fraud", alias: "1st" }] } })).toThrow(/modules\.inference\.registry\.follow\.0\.alias/);
  expect(configWith({ registry: { follow: [{ alias: "champion" }] } })).toThrow(/model/);
  expect(configWith({ registry: { retrySeconds: 0 } })).toThrow(/modules\.inference\.registry\.retrySeconds/);
  expect(configWith({ registry: { signatures: { required: true, trustedKeys: ["not-a-key"] } } })).toThrow(/trustedKeys/);
});

let proc: TestProcess;
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "cleave-config-"));
  mkdirSync(join(dir, "repo", "scorer", "1"), { recursive: true });
  mkdirSync(join(dir, "repo", "scorer", "2"), { recursive: true });
  writeFileSync(join(dir, "repo", "scorer", "1", "model.onnx"), mlp([30, 64, 1], { seed: 1 }));
  writeFileSync(join(dir, "repo", "scorer", "2", "model.onnx"), mlp([30, 64, 1], { seed: 2 }));
  writeFileSync(join(dir, "repo", "flat.onnx"), smallMlp());
  writeFileSync(join(dir, "broken.onnx"), new Uint8Array([1, 2, 3, 4, 5]));
  proc = await startTestProcess({
    placement: "inprocess",
    modules: {
      inference: {
        modelDir: join(dir, "repo"),
        defaults: { batching: { maxQueue: 3 } },
        models: [
          { name: "configured", version: 7, path: join(dir, "repo", "flat.onnx"), batching: { maxBatchSize: 1 } },
          { name: "missing", path: join(dir, "nope.onnx") },
          { name: "broken", path: join(dir, "broken.onnx") },
        ],
      },
    },
  });
  while ((await fetch(`${proc.url}/readyz`)).status !== 200) await Bun.sleep(20);
});
afterAll(() => proc.close());

test("models come from the list and from modelDir; refusals carry their reason", async () => {
  const index: any = await (await fetch(`${proc.url}/v2/repository/index`)).json();
  const loaded = index.models.map((m: any) => `${m.name}:${m.version}:${m.batching}`).sort();
  expect(loaded).toEqual(["configured:7:false", "flat:1:true", "scorer:1:true", "scorer:2:true"]);
  const failed = Object.fromEntries(index.failed.map((f: any) => [f.name, f.reason]));
  expect(failed.missing).toContain("cannot read");
  expect(failed.broken).toContain("not an ONNX model");
  const res = await fetch(`${proc.url}/v2/models/broken/infer`, { method: "POST", body: '{"inputs": []}' });
  expect(res.status).toBe(404);
  expect(((await res.json()) as any).error).toContain("refused at load");
  const ready: any = await (await fetch(`${proc.url}/readyz`)).json();
  expect(ready.modules.inference.status).toBe("degraded");
  expect(((await (await fetch(`${proc.url}/v2/models/scorer`)).json()) as any).versions).toEqual(["1", "2"]);
});

test("a model's own batching options keep the defaults they do not set", async () => {
  // maxQueue 3 from the defaults, maxBatchSize 1 from the model: 8 calls queued in one tick → 3 run, 5 get 429.
  const input = { name: "configured", inputs: [{ name: "x", datatype: "FP32", shape: [1, 30], data: Array(30).fill(0.1) }] };
  const results = await Promise.allSettled(Array.from({ length: 8 }, () => proc.bus.call("inference", "infer", input)));
  expect(results.filter((r) => r.status === "fulfilled").length).toBe(3);
  const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  expect(rejected.map((r) => r.reason.code)).toEqual(Array(5).fill("RESOURCE_EXHAUSTED"));
});
