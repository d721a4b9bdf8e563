/**
 * The demo model's training run: simulate a seeded stream, compute its features with the feature module's engine
 * (src/ml/dataset.ts), train gradient-boosted trees on the
 * earlier 75% of the stream (by time), measure on the later 25%, and produce the ONNX model plus its sidecar
 * (metrics, feature baseline, feature order, seed). Deterministic for a given seed and parameters.
 */
import type { FeaturePlan } from "../modules/feature/definitions";
import { type SimTransaction, simulate } from "../sim/transactions";
import { featureTable } from "./dataset";
import { FRAUD_FEATURES } from "./feature-names";
import { DEFAULT_PARAMS, type GbdtModel, type GbdtParams, predict, trainGbdt } from "./gbdt";
import { auc, confusionAt, type FeatureBaseline, featureBaseline } from "./metrics";
import { exportGbdtToOnnx } from "./onnx-export";

export interface TrainOptions {
  seed: number;
  transactions?: number;
  params?: Partial<GbdtParams>;
  /** The feature module's compiled definitions (demoFeaturePlan() for configs/monolith.yaml). */
  plan: FeaturePlan;
  /** Train on these (time-ordered) transactions instead of simulating `transactions` of them. */
  history?: SimTransaction[];
}

export interface ModelSidecar {
  format: "cleave-fraud-model/1";
  description: string;
  seed: number;
  transactions: number;
  params: GbdtParams;
  /** Column order of the `input` tensor. */
  featureNames: string[];
  onnx: { input: string; outputs: { label: string; probabilities: string }; positiveClassIndex: 1; opset: { "ai.onnx.ml": 3 } };
  metrics: {
    holdout: { rows: number; positives: number; auc: number; at05: ReturnType<typeof confusionAt>; at09: ReturnType<typeof confusionAt> };
    train: { rows: number; positives: number; auc: number };
  };
  baseline: { rows: number; features: FeatureBaseline[]; categories: Record<string, Record<string, number>> };
}

export interface TrainResult {
  model: GbdtModel;
  onnx: Uint8Array;
  sidecar: ModelSidecar;
  /** Holdout rows (row-major float32) and the model's own predictions for them, for consistency checks. */
  holdout: { values: Float32Array; rows: number; labels: Uint8Array; predictions: Float64Array };
  /** The simulated history the model was trained on, in time order (the bootstrap ingests it). */
  transactions: SimTransaction[];
}

const countBy = <T>(xs: readonly T[], key: (x: T) => string) => {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
};

export function trainFraudModel(opts: TrainOptions): TrainResult {
  const params = { ...DEFAULT_PARAMS, ...opts.params };
  const txs = opts.history ?? simulate({ seed: opts.seed, transactions: opts.transactions ?? 30_000 });
  const table = featureTable(opts.plan, txs, FRAUD_FEATURES);
  const F = FRAUD_FEATURES.length;
  const cut = Math.floor(table.rows * 0.75);
  const trainX = table.values.subarray(0, cut * F);
  const trainY = table.labels.subarray(0, cut);
  const testX = table.values.subarray(cut * F);
  const testY = table.labels.subarray(cut);
  const rowsTest = table.rows - cut;

  const model = trainGbdt(trainX, trainY, cut, F, params);
  const trainPred = predict(model, trainX, cut);
  const testPred = predict(model, testX, rowsTest);
  const positives = (y: Uint8Array) => y.reduce((a, b) => a + b, 0);
  const trainTxs = txs.slice(0, cut);

  const sidecar: ModelSidecar = {
    format: "cleave-fraud-model/1",
    description: "Gradient-boosted trees trained on SYNTHETIC transactions from src/sim/transactions.ts (demo model)",
    seed: opts.seed,
    transactions: txs.length,
    params,
    featureNames: [...FRAUD_FEATURES],
    onnx: { input: "input", outputs: { label: "label", probabilities: "probabilities" }, positiveClassIndex: 1, opset: { "ai.onnx.ml": 3 } },
    metrics: {
      holdout: {
        rows: rowsTest,
        positives: positives(testY),
        auc: auc(testPred, testY),
        at05: confusionAt(testPred, testY, 0.5),
        at09: confusionAt(testPred, testY, 0.9),
      },
      train: { rows: cut, positives: positives(trainY), auc: auc(trainPred, trainY) },
    },
    baseline: {
      rows: cut,
      features: FRAUD_FEATURES.map((name, f) => featureBaseline(name, trainX, cut, F, f)),
      categories: {
        country: countBy(trainTxs, (t) => t.country),
        channel: countBy(trainTxs, (t) => t.channel),
        mcc: countBy(trainTxs, (t) => t.mcc),
      },
    },
  };
  const onnx = exportGbdtToOnnx(model, {
    featureNames: FRAUD_FEATURES,
    metadata: { seed: String(opts.seed), holdout_auc: sidecar.metrics.holdout.auc.toFixed(4) },
  });
  return { model, onnx, sidecar, holdout: { values: testX, rows: rowsTest, labels: testY, predictions: testPred }, transactions: txs };
}
