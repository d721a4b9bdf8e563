/**
 * `/readyz`: asks every module of the deployment, across processes, for its health with a short deadline. One
 * unreachable or unhealthy module makes the deployment not ready, and the answer says which and why.
 */
import { type Bus, HEALTH_OPERATION } from "../bus/bus";
import type { HealthReport, ModuleContract } from "../contract";
import { CleaveError } from "../errors";

export interface ModuleReadiness {
  status: HealthReport["status"] | "unavailable";
  latencyMs: number;
  error?: string;
  details?: Record<string, unknown>;
}

export interface ReadinessReport {
  status: "ready" | "not ready";
  transport: string;
  modules: Record<string, ModuleReadiness>;
}

export async function checkReadiness(bus: Bus, contracts: ModuleContract[], timeoutMs: number): Promise<ReadinessReport> {
  const entries = await Promise.all(
    contracts.map(async (c): Promise<[string, ModuleReadiness]> => {
      const started = performance.now();
      try {
        const report = (await bus.call(c.name, HEALTH_OPERATION, {}, { timeoutMs })) as HealthReport;
        const latencyMs = round(performance.now() - started);
        return [c.name, { status: report.status, latencyMs, ...(report.details ? { details: report.details } : {}) }];
      } catch (err) {
        const message = err instanceof CleaveError ? `${err.code}: ${err.message}` : String(err);
        return [c.name, { status: "unavailable", latencyMs: round(performance.now() - started), error: message }];
      }
    }),
  );
  const modules = Object.fromEntries(entries);
  const ready = entries.every(([, r]) => r.status === "ok" || r.status === "degraded");
  return { status: ready ? "ready" : "not ready", transport: bus.transport.kind, modules };
}

const round = (ms: number) => Math.round(ms * 100) / 100;
