/** `cleave train`: trains the demo fraud model on simulated transactions; writes the ONNX model and a JSON sidecar. */
import { writeFileSync } from "node:fs";
import { demoFeaturePlan, planOf } from "../ml/demo-plan";
import { trainFraudModel } from "../ml/train";
import { builtinModules } from "../modules/catalog";
import { loadDeployment } from "../runtime/plugins";
import { CliError, parse } from "./args";

const USAGE =
  "usage: cleave train --seed N --out model.onnx [--transactions N] [--trees N] [--depth N] [--config FILE]\n" +
  "  features are computed with the feature definitions of --config (default: the embedded configs/monolith.yaml)";

function intOption(value: string | undefined, name: string, min: number, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new CliError(`--${name} is required; ${USAGE}`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new CliError(`--${name} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

export async function trainCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    seed: { type: "string" },
    out: { type: "string" },
    transactions: { type: "string" },
    trees: { type: "string" },
    depth: { type: "string" },
    config: { type: "string" },
  });
  if (!values.out) throw new CliError(`--out is required; ${USAGE}`);
  const seed = intOption(values.seed, "seed", 0);
  const transactions = intOption(values.transactions, "transactions", 1000, 30_000);
  const params = {
    ...(values.trees === undefined ? {} : { trees: intOption(values.trees, "trees", 1) }),
    ...(values.depth === undefined ? {} : { maxDepth: intOption(values.depth, "depth", 1) }),
  };
  const started = performance.now();
  const plan = values.config ? planOf((await loadDeployment(values.config, builtinModules)).config) : await demoFeaturePlan();
  const result = trainFraudModel({ seed, transactions, params, plan });
  const sidecarPath = values.out.replace(/\.onnx$/, "") + ".json";
  writeFileSync(values.out, result.onnx);
  writeFileSync(sidecarPath, JSON.stringify(result.sidecar, null, 2));
  const m = result.sidecar.metrics;
  console.log(`trained ${result.sidecar.params.trees} trees (depth ≤ ${result.sidecar.params.maxDepth}) on ${m.train.rows} synthetic transactions (seed ${seed}) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(`holdout: ${m.holdout.rows} transactions, ${m.holdout.positives} fraud — AUC ${m.holdout.auc.toFixed(4)}, at 0.5: precision ${m.holdout.at05.precision.toFixed(3)} recall ${m.holdout.at05.recall.toFixed(3)}`);
  console.log(`wrote ${values.out} (${result.onnx.byteLength} bytes) and ${sidecarPath}`);
  return 0;
}
