/** `cleave serve`: run some or all modules of a deployment in this process until SIGINT/SIGTERM. */
import { builtinModules } from "../modules/catalog";
import { startProcess } from "../runtime/host";
import { loadDeployment, loadEmbeddedDefault } from "../runtime/plugins";
import { CliError, parse } from "./args";

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    config: { type: "string", short: "c" },
    modules: { type: "string", short: "m" },
    "http-port": { type: "string" },
    "no-http": { type: "boolean" },
    name: { type: "string" },
  });
  const { config, catalog } = values.config
    ? await loadDeployment(values.config, builtinModules)
    : await loadEmbeddedDefault(builtinModules);
  if (values.name) config.process.name = values.name;
  const modules = values.modules === undefined ? undefined : values.modules.split(",").filter(Boolean);
  for (const m of modules ?? []) {
    if (!(m in config.modules)) {
      throw new CliError(`--modules names "${m}", which is not in the config's modules: ${Object.keys(config.modules).join(", ")}`);
    }
  }
  let httpPort: number | null | undefined;
  if (values["no-http"]) httpPort = null;
  else if (values["http-port"] !== undefined) {
    httpPort = Number(values["http-port"]);
    if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65535) {
      throw new CliError(`--http-port must be a port number (0-65535), got "${values["http-port"]}"`);
    }
  } else if (modules) {
    // A process started for named modules is a worker; the gateway is opt-in (--http-port) so replicas don't clash.
    httpPort = null;
  }
  const running = await startProcess(config, catalog, { modules, httpPort });
  if (running.url) {
    console.error(`cleave: serving ${running.modules.join(", ") || "the gateway"} — REST at ${running.url} (API docs: ${running.url}/openapi)`);
  }
  const shutdown = async (signal: string) => {
    running.log.info({ signal }, "signal received");
    await running.stop();
      process.exit(0);
  };
  // SIGHUP re-reads the config file and applies what can change live: access rules, public routes, rate limits.
  process.on("SIGHUP", () => {
    if (!values.config) return running.log.warn("SIGHUP ignored: the embedded default config has no file to re-read");
    loadDeployment(values.config, builtinModules).then(
      ({ config: next }) => running.reloadSecurity(next),
      (err) => running.log.error({ err: (err as Error).message }, "SIGHUP: config not reloaded; the current one stays"),
    );
  });
  process.once("SIGINT", () => void shutdown("SIGINT"));
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  return -1; // keep running
}
