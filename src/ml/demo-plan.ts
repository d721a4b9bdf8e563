/**
 * The feature definitions of the embedded default (configs/monolith.yaml), compiled: what `cleave train` and the
 * demo bootstrap compute training rows with when they are given no other config.
 */
import { builtinModules } from "../modules/catalog";
import type { FeatureConfig } from "../modules/feature/contract";
import { compilePlan, type FeaturePlan } from "../modules/feature/definitions";
import type { IngestionConfig } from "../modules/ingestion/contract";
import type { LoadedConfig } from "../runtime/config/load";
import { loadEmbeddedDefault } from "../runtime/plugins";

export function planOf(config: LoadedConfig): FeaturePlan {
  const ingestion = config.modules.ingestion as IngestionConfig | undefined;
  const feature = config.modules.feature as FeatureConfig | undefined;
  if (!ingestion || !feature) throw new Error("the config must declare modules.ingestion and modules.feature");
  return compilePlan(feature, ingestion.eventTypes);
}

export async function demoFeaturePlan(): Promise<FeaturePlan> {
  return planOf((await loadEmbeddedDefault(builtinModules)).config);
}
