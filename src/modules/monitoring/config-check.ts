/**
 * Start-time checks of the drift config that a schema cannot express: a per-feature override must name a declared
 * model and one of its declared features (or its score), with a test that fits the feature's type. A typo here
 * would otherwise silently leave a feature on the default test.
 */
import type { MonitoringConfig } from "./config";

const NUMERIC_ONLY = new Set(["ks", "wasserstein"]);

export function checkDriftConfig(cfg: MonitoringConfig): void {
  for (const [name, choice] of Object.entries(cfg.drift.features)) {
    const where = `modules.monitoring.drift.features.${name}`;
    const dot = name.indexOf(".");
    const model = dot > 0 ? name.slice(0, dot) : "";
    const feature = name.slice(dot + 1);
    if (!model || !feature) throw new Error(`${where}: key must be "<model>.<feature>" or "<model>.score"`);
    const declared = cfg.models[model];
    if (!declared) {
      throw new Error(`${where}: model "${model}" is not declared under modules.monitoring.models`);
    }
    if (feature === "score") continue;
    const kind = declared.features[feature];
    if (!kind) {
      const known = Object.keys(declared.features).join(", ") || "none";
      throw new Error(`${where}: unknown feature "${feature}" of model "${model}" (declared: ${known})`);
    }
    if (kind === "categorical" && NUMERIC_ONLY.has(choice.test)) {
      throw new Error(`${where}: test "${choice.test}" needs a numeric feature; "${feature}" is categorical`);
    }
  }
}
