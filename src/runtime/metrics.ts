/**
 * Process-level Prometheus metrics (prom-client): HTTP requests per route, bus calls per caller → callee module and
 * transport, operations served. One registry per process, exposed at `/metrics`; modules register their own
 * metrics in the same registry (ctx.metrics) so one scrape sees everything this process does.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from "prom-client";

/** Fine at the low end: an in-process call takes microseconds, a NATS hop a fraction of a millisecond. */
const LATENCY_BUCKETS = [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class RuntimeMetrics {
  readonly registry = new Registry();
  private readonly httpDuration: Histogram<"method" | "route" | "status">;
  private readonly busDuration: Histogram<"caller" | "callee" | "operation" | "transport" | "outcome">;
  private readonly served: Counter<"module" | "operation" | "outcome">;

  constructor(labels: { deployment: string; process: string }) {
    this.registry.setDefaultLabels(labels);
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: "cleave_http_request_duration_seconds",
      help: "HTTP requests served by the gateway, by route and status",
      labelNames: ["method", "route", "status"],
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
    this.busDuration = new Histogram({
      name: "cleave_bus_call_duration_seconds",
      help: "Bus calls made from this process, by calling and called module, transport and outcome (OK or error code)",
      labelNames: ["caller", "callee", "operation", "transport", "outcome"],
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
    this.served = new Counter({
      name: "cleave_bus_served_total",
      help: "Operations served by modules in this process, by outcome (OK or error code)",
      labelNames: ["module", "operation", "outcome"],
      registers: [this.registry],
    });
  }

  http(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.labels(method, route, String(status)).observe(seconds);
  }

  busCall(caller: string, callee: string, operation: string, transport: string, outcome: string, seconds: number): void {
    this.busDuration.labels(caller, callee, operation, transport, outcome).observe(seconds);
  }

  servedCall(module: string, operation: string, outcome: string): void {
    this.served.labels(module, operation, outcome).inc();
  }

  /** Text exposition format, as Prometheus scrapes it. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
