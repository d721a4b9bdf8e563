/**
 * The process host: given a validated config, it connects the bus, starts the modules placed in this process,
 * serves them on the bus, opens the gateway, and on shutdown does it all in reverse with a drain.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Bus } from "./bus/bus";
import { InProcessTransport } from "./bus/inprocess";
import { NatsTransport } from "./bus/nats";
import type { Transport } from "./bus/transport";
import { type LoadedConfig, resolveConfigPath } from "./config/load";
import type { ModuleCatalog, ModuleInstance } from "./contract";
import { createGateway } from "./gateway/gateway";
import { GatewaySecurity } from "./gateway/security";
import { AccessPolicy } from "./security/policy";
import { createLogger, type Logger } from "./log";
import { RuntimeMetrics } from "./metrics";
import { keepBackgroundThreadsLow } from "./thread-priority";
import { flushTracing, installTracing } from "./tracing";
import { VERSION } from "./version";

export interface HostOptions {
  /** Overrides `process.modules` (the CLI's `--modules`). */
  modules?: string[];
  /** Overrides `http.port`; null turns the gateway off. */
  httpPort?: number | null;
  log?: Logger;
}

export interface RunningProcess {
  config: LoadedConfig;
  bus: Bus;
  metrics: RuntimeMetrics;
  log: Logger;
  /** The gateway's base URL, when this process serves one. */
  url?: string;
  modules: string[];
  /** Applies the reloadable parts of a new config (access rules, public routes, rate limits): SIGHUP. */
  reloadSecurity(next: LoadedConfig): void;
  stop(): Promise<void>;
}

const RUNTIME_OPERATIONS = ["runtime.readyz", "runtime.metrics", "runtime.openapi"];

function warnUnmatchedRules(policy: AccessPolicy, contracts: { name: string; operations: object }[], log: Logger) {
  const operations = [...RUNTIME_OPERATIONS, ...contracts.flatMap((c) => Object.keys(c.operations).map((op) => `${c.name}.${op}`))];
  for (const i of policy.unmatchedRules(operations)) {
    log.warn({ key: `auth.rules.${i}` }, "access rule names no operation of this deployment (a typo?); it grants nothing");
  }
}

/** The NATS options with their credential and TLS file paths made relative to the config file. */
function natsFiles(config: LoadedConfig) {
  const n = config.bus.nats;
  const path = (p: string | undefined) => (p === undefined ? undefined : resolveConfigPath(config, p));
  const tls = n.tls && Object.fromEntries(Object.entries(n.tls).map(([k, v]) => [k, path(v)]));
  return { ...n, nkeySeedFile: path(n.nkeySeedFile), credsFile: path(n.credsFile), tls };
}

export async function startProcess(config: LoadedConfig, catalog: ModuleCatalog, opts: HostOptions = {}): Promise<RunningProcess> {
  const deploymentModules = Object.keys(config.modules);
  const local = opts.modules ?? (config.process.modules === "all" ? deploymentModules : config.process.modules);
  const everything = local.length > 1 && local.length === deploymentModules.length;
  const name = config.process.name ?? (everything ? "monolith" : local.length ? local.join("+") : "gateway");
  const log = opts.log ?? createLogger({ level: config.log.level, name });
  installTracing({ ...config.tracing, serviceName: `${config.deployment}:${name}` });

  const transport: Transport =
    config.bus.transport === "nats"
      ? await NatsTransport.connect(config.deployment, { ...natsFiles(config), name: `${config.deployment}:${name}` }, log)
      : new InProcessTransport({ serialize: config.bus.serialize, log });
  const contracts = Object.fromEntries(deploymentModules.map((m) => [m, catalog[m].contract]));
  const metrics = new RuntimeMetrics({ deployment: config.deployment, process: name });
  const bus = new Bus(transport, {
    deployment: config.deployment,
    defaultTimeoutMs: config.bus.defaultTimeoutMs,
    log,
    metrics,
    policy: config.auth.mode === "on" ? new AccessPolicy(config.auth) : undefined,
  });
  if (config.auth.mode === "on") warnUnmatchedRules(new AccessPolicy(config.auth), Object.values(contracts), log);

  const instances: [string, ModuleInstance][] = [];
  const stopModules = async () => {
    for (const [m, instance] of instances.reverse()) {
      try {
        await instance.stop?.();
      } catch (err) {
        log.error({ err, module: m }, "module failed to stop cleanly");
      }
    }
  };
  try {
    // Modules start concurrently and each serves as soon as it is created, so that one which needs another at start
    // (feature asks ingestion for its event types) can wait for it, whatever their order in the config.
    const started = await Promise.allSettled(
      local.map(async (m) => {
        const definition = await catalog[m].load();
        const dataDir = join(resolveConfigPath(config, config.dataDir), m);
        mkdirSync(dataDir, { recursive: true });
        const instance = await definition.create({
          contract: definition.contract,
          config: config.modules[m] as never,
          deployment: config.deployment,
          dataDir,
          bus,
          log: log.child({ module: m }),
          metrics: metrics.registry,
        });
        instances.push([m, instance]);
        await bus.serve(definition.contract, instance);
      }),
    );
    const failed = started.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  } catch (err) {
    await stopModules();
    await bus.close();
    throw err;
  }

  let server: { stop: (closeActive?: boolean) => Promise<void> | void; port: number; hostname: string } | undefined;
  const httpPort = opts.httpPort === undefined ? config.http.port : opts.httpPort;
  let security: GatewaySecurity | undefined;
  if (config.http.enabled && httpPort !== null) {
    const dataDir = resolveConfigPath(config, config.dataDir);
    security = await GatewaySecurity.create(
      { auth: config.auth, rateLimits: config.rateLimits, audit: config.audit, dataDir, resolvePath: (p) => resolveConfigPath(config, p) },
      log,
      metrics.registry,
    );
    const app = createGateway({
      bus,
      contracts: Object.values(contracts),
      log,
      metrics,
      maxBodyBytes: config.http.maxBodyBytes,
      readyTimeoutMs: config.http.readyTimeoutMs,
      version: VERSION,
      security,
      limits: config.http,
    });
    app.listen({ hostname: config.http.host, port: httpPort });
    server = app.server as unknown as typeof server;
  }
  const url = server ? `http://${server.hostname}:${server.port}` : undefined;
  const stopLowering = keepBackgroundThreadsLow(config.process.backgroundNice);
  log.info({ modules: local, transport: transport.kind, url, deployment: config.deployment }, "cleave process started");

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      log.info({ drainTimeoutMs: config.shutdown.drainTimeoutMs }, "shutting down: draining in-flight calls");
      // Stop taking new HTTP requests first; requests already accepted finish through the drain below.
      await server?.stop(false);
      stopLowering();
      const { abandoned } = await bus.drain(config.shutdown.drainTimeoutMs);
      if (abandoned) log.warn({ abandoned }, "drain timeout passed with calls still in flight");
      await stopModules();
      await bus.close();
      await security?.close();
      await flushTracing();
      log.info("stopped");
      log.flush();
    })());
  const reloadSecurity = (next: LoadedConfig) => {
    security?.update(next);
    bus.setPolicy(next.auth.mode === "on" ? new AccessPolicy(next.auth) : undefined);
    log.info({ rules: next.auth.rules.length }, "access rules and rate limits reloaded");
  };
  return { config, bus, metrics, log, url, modules: local, reloadSecurity, stop };
}
