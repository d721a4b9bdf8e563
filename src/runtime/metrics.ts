/**
 * Process-level Prometheus metrics: HTTP requests per route, bus calls per caller → callee module and transport,
 * operations served — on the hot path of every call, so recorded in plain arrays and rendered only at scrape time
 * (prom-client hashes the label object on every observation, which was a tenth of an in-process call). One
 * registry per process, exposed at `/metrics`; modules register their own prom-client metrics in the same
 * registry (ctx.metrics) so one scrape sees everything this process does.
 */
import { collectDefaultMetrics, Registry } from "prom-client";

/** Fine at the low end: an in-process call takes microseconds, a NATS hop a fraction of a millisecond. */
const LATENCY_BUCKETS = [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

interface Series {
  labels: Record<string, string>;
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A labelled histogram or counter in prom-client's custom-metric shape (`get()` at scrape time), for metrics
 * recorded on every request: register it in the process registry (`registry.registerMetric`) like any other.
 */
export class HotMetric {
  private readonly series: Series[] = [];
  /** Label values → series, one Map level per label: lookups by the (mostly constant) strings themselves, with no
   * key string built per observation. */
  private readonly index = new Map<string, unknown>();
  readonly aggregator = "sum";

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "histogram" | "counter",
    private readonly labelNames: readonly string[],
    /** Upper bounds of a histogram's buckets (default: latencies in seconds, from 10 µs). */
    private readonly buckets: readonly number[] = LATENCY_BUCKETS,
  ) {}

  /** One labelled series, looked up once: recording through it costs no lookup at all. */
  child(values: string[]): { inc: () => void; observe: (value: number) => void } {
    const s = this.lookup(values);
    return { inc: () => this.add(s, 0), observe: (value) => this.add(s, value) };
  }

  private lookup(values: string[]): Series {
    let level = this.index;
    for (let i = 0; i < values.length - 1; i++) {
      let next = level.get(values[i]) as Map<string, unknown> | undefined;
      if (!next) level.set(values[i], (next = new Map()));
      level = next;
    }
    let s = level.get(values[values.length - 1]) as Series | undefined;
    if (!s) {
      const labels = Object.fromEntries(this.labelNames.map((n, i) => [n, values[i]]));
      s = { labels, counts: new Float64Array(this.buckets.length), sum: 0, count: 0 };
      level.set(values[values.length - 1], s);
      this.series.push(s);
    }
    return s;
  }

  /** A counter counts; a histogram observes `value`. */
  record(values: string[], value = 0): void {
    this.add(this.lookup(values), value);
  }

  private add(s: Series, value: number): void {
    s.count++;
    if (this.type === "counter") return;
    s.sum += value;
    // One slot per observation (its smallest bucket); the cumulative counts Prometheus wants are summed at scrape.
    const buckets = this.buckets;
    let i = 0;
    while (i < buckets.length && value > buckets[i]) i++;
    if (i < buckets.length) s.counts[i]++;
  }

  get() {
    const values: { labels: Record<string, string | number>; value: number; metricName?: string }[] = [];
    for (const s of this.series) {
      if (this.type === "counter") {
        values.push({ labels: s.labels, value: s.count });
        continue;
      }
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i];
        values.push({ labels: { ...s.labels, le }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...s.labels, le: "+Inf" }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.series.length = 0;
    this.index.clear();
  }
}

export class RuntimeMetrics {
  readonly registry = new Registry();
  /** Tells this Cleave process's metrics apart from another's, even when tests run several in one OS process. */
  readonly instance = crypto.randomUUID();
  private readonly httpDuration = new HotMetric(
    "cleave_http_request_duration_seconds",
    "HTTP requests served by the gateway, by route and status",
    "histogram",
    ["method", "route", "status"],
  );
  private readonly busDuration = new HotMetric(
    "cleave_bus_call_duration_seconds",
    "Bus calls made from this process, by calling and called module, transport and outcome (OK or error code)",
    "histogram",
    ["caller", "callee", "operation", "transport", "outcome"],
  );
  private readonly served = new HotMetric(
    "cleave_bus_served_total",
    "Operations served by modules in this process, by outcome (OK or error code)",
    "counter",
    ["module", "operation", "outcome"],
  );

  constructor(labels: { deployment: string; process: string }) {
    this.registry.setDefaultLabels(labels);
    collectDefaultMetrics({ register: this.registry });
    // prom-client names these gauges with a `_total` suffix, which `promtool check metrics` rejects.
    for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) {
      this.registry.removeSingleMetric(name);
    }
    // V8's heap spaces do not exist in JavaScriptCore: Bun answers v8.getHeapSpaceStatistics() by walking the whole
    // heap, which stalled the event loop ~30 ms per scrape of a loaded process. nodejs_heap_size_* stay (cheap).
    for (const kind of ["total", "used", "available"]) this.registry.removeSingleMetric(`nodejs_heap_space_size_${kind}_bytes`);
    for (const m of [this.httpDuration, this.busDuration, this.served]) this.registry.registerMetric(m as never);
  }

  http(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.record([method, route, String(status)], seconds);
  }

  busCall(caller: string, callee: string, operation: string, transport: string, outcome: string, seconds: number): void {
    this.busDuration.record([caller, callee, operation, transport, outcome], seconds);
  }

  servedCall(module: string, operation: string, outcome: string): void {
    this.served.record([module, operation, outcome]);
  }

  /** Text exposition format, as Prometheus scrapes it. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
