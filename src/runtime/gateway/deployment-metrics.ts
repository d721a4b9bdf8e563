/**
 * `/metrics?scope=deployment`: one exposition for the whole deployment, for a person or a quick look. Each module
 * is asked (through the bus, so across processes) for its process's metrics; processes answering for several
 * modules are counted once, and the sets are merged with prom-client's aggregator, series kept apart by their
 * `process` label. With replicas, a module's queue group answers from one of them: Prometheus should still scrape
 * every process's own `/metrics`.
 */
import { AggregatorRegistry, type Registry } from "prom-client";
import { type Bus, METRICS_OPERATION } from "../bus/bus";
import type { ModuleContract } from "../contract";
import type { RuntimeMetrics } from "../metrics";

type MetricsJson = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;

interface ProcessMetrics {
  instance: string;
  metrics: MetricsJson;
}

export async function deploymentMetrics(bus: Bus, contracts: ModuleContract[], own: RuntimeMetrics, timeoutMs: number): Promise<string> {
  const answers = await Promise.all(
    contracts.map((c) => bus.call(c.name, METRICS_OPERATION, {}, { timeoutMs }).catch(() => undefined) as Promise<ProcessMetrics | undefined>),
  );
  const byProcess = new Map<string, MetricsJson>([[own.instance, await own.registry.getMetricsAsJSON()]]);
  for (const a of answers) if (a && !byProcess.has(a.instance)) byProcess.set(a.instance, a.metrics);
  return AggregatorRegistry.aggregate([...byProcess.values()]).metrics();
}
