/** `cleave serve`: run some or all modules of a deployment in this process until SIGINT/SIGTERM. */
import { builtinModules } from "../modules/catalog";
import { bootstrapDemoModel } from "../demo/bootstrap";
import { planOf } from "../ml/demo-plan";
import type { DecisionConfig } from "../modules/decision/contract";
import { type RunningProcess, startProcess } from "../runtime/host";
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
  void maybeBootstrap(running);
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

/**
 * The process that serves the registry bootstraps the demo model when the config asks for it (one process does, so
 * replicas of other modules never race), in the background: the REST API is up meanwhile and /v1/score answers 503
 * with the reason until the model is promoted and loaded.
 */
async function maybeBootstrap(running: RunningProcess): Promise<void> {
  const pipeline = (running.config.modules.decision as DecisionConfig | undefined)?.pipeline;
  if (!pipeline?.bootstrap.enabled || !running.modules.includes("registry")) return;
  try {
    const version = await bootstrapDemoModel(
      running.bus,
      { model: pipeline.model, seed: pipeline.bootstrap.seed, transactions: pipeline.bootstrap.transactions, plan: planOf(running.config) },
      running.log,
    );
    const where = running.url ? `POST ${running.url}/v1/score` : "POST /v1/score on the deployment's gateway";
    console.error(`cleave: fraud pipeline ready (${pipeline.model}@champion = version ${version}): ${where}`);
  } catch (err) {
    running.log.error({ err }, "demo model bootstrap failed; /v1/score will answer 503 until a model is promoted");
  }
}
