/**
 * Starts Cleave processes inside the test process (real bus, real HTTP on a free port, temp data dir) for any
 * placement: in-process, in-process with forced serialization, or over a real nats-server.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtinModules } from "../../src/modules/catalog";
import type { ModuleCatalog } from "../../src/runtime/contract";
import { validateConfig } from "../../src/runtime/config/load";
import { startProcess, type RunningProcess } from "../../src/runtime/host";
import { createLogger } from "../../src/runtime/log";
import { loadPlugins } from "../../src/runtime/plugins";

export type Placement = "inprocess" | "serialized" | "nats";
export const PLACEMENTS: Placement[] = ["inprocess", "serialized", "nats"];

export interface TestProcessOptions {
  placement: Placement;
  /** The deployment's modules with their settings. */
  modules: Record<string, object>;
  /** Which of them run in this process (default: all). */
  local?: string[];
  natsUrl?: string;
  /** Share a data dir between processes of one deployment; a fresh temp dir otherwise. */
  dataDir?: string;
  deployment?: string;
  http?: boolean;
  plugins?: string[];
  extra?: Record<string, unknown>;
}

export interface TestProcess extends RunningProcess {
  dataDir: string;
  close(): Promise<void>;
}

export async function startTestProcess(opts: TestProcessOptions): Promise<TestProcess> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "cleave-test-"));
  const raw = {
    deployment: opts.deployment ?? "test",
    dataDir,
    modules: opts.modules,
    plugins: (opts.plugins ?? []).map((path) => ({ path })),
    http: { enabled: opts.http ?? true, port: 0 },
    log: { level: process.env.CLEAVE_TEST_LOG ?? "silent" },
    shutdown: { drainTimeoutMs: 2000 },
    bus:
      opts.placement === "nats"
        ? { transport: "nats", nats: { servers: [opts.natsUrl ?? "nats://127.0.0.1:4222"] } }
        : { transport: "inprocess", serialize: opts.placement === "serialized" },
    ...opts.extra,
  };
  const catalog: ModuleCatalog = await loadPlugins(raw, process.cwd(), builtinModules);
  const config = validateConfig(raw, catalog, process.cwd());
  const log = createLogger({ level: raw.log.level, name: "test" });
  const running = await startProcess(config, catalog, { modules: opts.local, log });
  return {
    ...running,
    dataDir,
    async close() {
      await running.stop();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
