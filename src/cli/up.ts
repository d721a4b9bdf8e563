/** `cleave up`: the whole split topology on this machine, for development. */
import { builtinModules } from "../modules/catalog";
import { createLogger } from "../runtime/log";
import { loadDeployment } from "../runtime/plugins";
import { up } from "../runtime/supervisor";
import { CliError, parse } from "./args";

export async function upCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { config: { type: "string", short: "c" } });
  if (!values.config) throw new CliError("cleave up needs --config FILE (e.g. configs/split.yaml)");
  const { config } = await loadDeployment(values.config, builtinModules);
  const log = createLogger({ level: config.log.level, name: "up" });
  const topology = await up(config, log);
  process.once("SIGINT", () => void topology.stop());
  process.once("SIGTERM", () => void topology.stop());
  await topology.done;
  return 0;
}
