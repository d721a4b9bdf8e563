/**
 * The trainer: ONNX written through onnx-proto and run by the real onnxruntime-node gives the TypeScript model's own
 * predictions; holdout AUC on the simulator is far above chance; the sidecar carries metrics and the baseline; the
 * CLI writes both files and refuses bad arguments.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onnx } from "onnx-proto";
import { FRAUD_FEATURES } from "../../src/ml/feature-names";
import { auc } from "../../src/ml/metrics";
import { demoFeaturePlan } from "../../src/ml/demo-plan";
import { trainFraudModel } from "../../src/ml/train";
import { loadOnnxRuntime } from "../../src/runtime/native/onnxruntime";

const plan = await demoFeaturePlan();

describe("GBDT trainer", () => {
  const result = trainFraudModel({ seed: 11, transactions: 16_000, params: { trees: 40 }, plan });

  test("onnxruntime-node runs the exported TreeEnsembleClassifier and matches the TS predictions (≤ 1e-5)", async () => {
    const ort = await loadOnnxRuntime();
    const session = await ort.InferenceSession.create(result.onnx);
    expect(session.inputNames).toEqual(["input"]);
    expect(session.outputNames).toEqual(["label", "probabilities"]);
    const { values, rows, predictions } = result.holdout;
    const out = await session.run({ input: new ort.Tensor("float32", values, [rows, FRAUD_FEATURES.length]) });
    const probs = out.probabilities.data as Float32Array;
    const labels = out.label.data as BigInt64Array;
    let maxDiff = 0;
    for (let i = 0; i < rows; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(probs[2 * i + 1] - predictions[i]), Math.abs(probs[2 * i] - (1 - predictions[i])));
      expect(labels[i]).toBe(predictions[i] > 0.5 ? 1n : 0n);
    }
    console.log(`ONNX vs TypeScript on ${rows} holdout rows: max abs diff ${maxDiff.toExponential(2)}`);
    expect(maxDiff).toBeLessThanOrEqual(1e-5);
  });

  test("the model file is a real ONNX protobuf with an ai.onnx.ml TreeEnsembleClassifier (LOGISTIC)", () => {
    const model = onnx.ModelProto.decode(result.onnx);
    const node = model.graph!.node![0];
    expect(node.opType).toBe("TreeEnsembleClassifier");
    expect(node.domain).toBe("ai.onnx.ml");
    const post = node.attribute!.find((a) => a.name === "post_transform")!;
    expect(new TextDecoder().decode(post.s!)).toBe("LOGISTIC");
    expect(model.opsetImport!.map((o) => o.domain)).toContain("ai.onnx.ml");
  });

  test("holdout AUC on the simulator is far above chance, and agrees with an independent pairwise count", () => {
    const h = result.sidecar.metrics.holdout;
    console.log(`holdout AUC ${h.auc.toFixed(4)} on ${h.rows} transactions (${h.positives} fraud); train AUC ${result.sidecar.metrics.train.auc.toFixed(4)}`);
    expect(h.positives).toBeGreaterThan(20);
    expect(h.auc).toBeGreaterThan(0.9);
    // O(n·m) definition of AUC on a sample: P(score of a fraud > score of a legit), ties count half.
    const { predictions, labels } = result.holdout;
    const pos: number[] = [], neg: number[] = [];
    predictions.forEach((p, i) => (labels[i] ? pos : neg).push(p));
    let wins = 0;
    for (const a of pos) for (const b of neg) wins += a > b ? 1 : a === b ? 0.5 : 0;
    expect(Math.abs(wins / (pos.length * neg.length) - h.auc)).toBeLessThan(1e-9);
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
  });

  test("the sidecar carries the feature order, seed and a baseline per feature", () => {
    const s = result.sidecar;
    expect(s.featureNames).toEqual([...FRAUD_FEATURES]);
    expect(s.seed).toBe(11);
    expect(s.baseline.features.map((f) => f.name)).toEqual([...FRAUD_FEATURES]);
    const amount = s.baseline.features[0];
    expect(amount.missingRate).toBe(0);
    expect(amount.quantiles.p50).toBeGreaterThan(0);
    expect(amount.histogram.counts.reduce((a, b) => a + b, 0)).toBe(s.baseline.rows);
    expect(s.baseline.features.find((f) => f.name === "card.devices_24h")!.mean).toBeGreaterThan(0);
    expect(Object.keys(s.baseline.categories.country).length).toBeGreaterThan(5);
  });

  test("same seed and parameters → byte-identical model", () => {
    const again = trainFraudModel({ seed: 11, transactions: 16_000, params: { trees: 40 }, plan });
    expect(Buffer.from(again.onnx).equals(Buffer.from(result.onnx))).toBe(true);
  });
});

describe("cleave train", () => {
  const run = (args: string[]) => Bun.spawnSync(["bun", "src/cli/main.ts", "train", ...args], { stdout: "pipe", stderr: "pipe" });

  test("writes the model and its sidecar", () => {
    const dir = mkdtempSync(join(tmpdir(), "cleave-train-"));
    const out = join(dir, "fraud.onnx");
    const r = run(["--seed", "5", "--out", out, "--transactions", "5000", "--trees", "10"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toContain("AUC");
    expect(existsSync(out)).toBe(true);
    const sidecar = JSON.parse(readFileSync(join(dir, "fraud.json"), "utf8"));
    expect(sidecar).toMatchObject({ seed: 5, featureNames: [...FRAUD_FEATURES], params: { trees: 10 } });
  });

  test("bad arguments: exit code 2 with a message naming the option", () => {
    const missing = run(["--seed", "5"]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr.toString()).toContain("--out is required");
    const bad = run(["--seed", "five", "--out", "/tmp/x.onnx"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.toString()).toContain('--seed must be an integer ≥ 0, got "five"');
  });
});
