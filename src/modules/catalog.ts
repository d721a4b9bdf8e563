/**
 * The module map: every built-in module, its contract (imported eagerly: plain data) and its implementation
 * (imported when a process runs it). To find a behaviour, start here and go to one folder.
 */
import type { ModuleCatalog } from "../runtime/contract";
import { decisionContract } from "./decision/contract";
import { featureContract } from "./feature/contract";
import { inferenceContract } from "./inference/contract";
import { ingestionContract } from "./ingestion/contract";
import { monitoringContract } from "./monitoring/contract";
import { registryContract } from "./registry/contract";

export const builtinModules: ModuleCatalog = {
  ingestion: { contract: ingestionContract, load: async () => (await import("./ingestion/module")).default },
  feature: { contract: featureContract, load: async () => (await import("./feature/module")).default },
  inference: { contract: inferenceContract, load: async () => (await import("./inference/module")).default },
  decision: { contract: decisionContract, load: async () => (await import("./decision/module")).default },
  registry: { contract: registryContract, load: async () => (await import("./registry/module")).default },
  monitoring: { contract: monitoringContract, load: async () => (await import("./monitoring/module")).default },
};
