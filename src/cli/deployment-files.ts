/** The config a local CLI command acts on (`--config FILE`, else the embedded default) and its resolved data dir. */
import { builtinModules } from "../modules/catalog";
import { resolveConfigPath } from "../runtime/config/load";
import { loadDeployment, loadEmbeddedDefault } from "../runtime/plugins";

export async function deploymentDataDir(configFile: string | undefined): Promise<string> {
  const { config } = configFile ? await loadDeployment(configFile, builtinModules) : await loadEmbeddedDefault(builtinModules);
  return resolveConfigPath(config, config.dataDir);
}
