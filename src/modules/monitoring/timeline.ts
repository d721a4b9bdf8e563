/**
 * Time series of what was observed, in fixed-width buckets: throughput, latency percentiles, errors and decisions
 * per outcome. The dashboard draws it; latency and error SLOs are judged on its most recent buckets.
 */
export interface Bucket {
  start: number;
  count: number;
  errors: number;
  latencies: number[];
  outcomes: Record<string, number>;
}

export interface TimelinePoint {
  t: number;
  count: number;
  perSecond: number;
  errors: number;
  p50: number | null;
  p95: number | null;
}

/** Latencies kept per bucket for percentiles; past this, a uniform reservoir sample. */
const MAX_LATENCIES = 2000;
const MAX_BUCKETS = 360;

export function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export class Timeline {
  private readonly buckets = new Map<number, Bucket>();

  constructor(private readonly widthMs: number) {}

  add(ts: number, o: { latencyMs?: number; error?: boolean; outcome?: string }): void {
    const start = ts - (ts % this.widthMs);
    let b = this.buckets.get(start);
    if (!b) {
      b = { start, count: 0, errors: 0, latencies: [], outcomes: {} };
      this.buckets.set(start, b);
      if (this.buckets.size > MAX_BUCKETS) this.buckets.delete(Math.min(...this.buckets.keys()));
    }
    b.count++;
    if (o.error) b.errors++;
    if (o.outcome !== undefined) b.outcomes[o.outcome] = (b.outcomes[o.outcome] ?? 0) + 1;
    if (o.latencyMs !== undefined) {
      if (b.latencies.length < MAX_LATENCIES) b.latencies.push(o.latencyMs);
      else {
        const j = Math.floor(Math.random() * b.count);
        if (j < MAX_LATENCIES) b.latencies[j] = o.latencyMs;
      }
    }
  }

  points(): TimelinePoint[] {
    return [...this.buckets.values()]
      .sort((a, b) => a.start - b.start)
      .map((b) => {
        const sorted = [...b.latencies].sort((x, y) => x - y);
        return {
          t: b.start,
          count: b.count,
          perSecond: b.count / (this.widthMs / 1000),
          errors: b.errors,
          p50: percentile(sorted, 0.5),
          p95: percentile(sorted, 0.95),
        };
      });
  }

  outcomes(): Record<string, number> {
    const total: Record<string, number> = {};
    for (const b of this.buckets.values()) for (const [k, n] of Object.entries(b.outcomes)) total[k] = (total[k] ?? 0) + n;
    return total;
  }

  /** Requests, error share and p95 latency over the buckets that start within the last `windowMs`. */
  recent(windowMs: number, now = Date.now()): { count: number; errorRate: number; p95: number | null } {
    let count = 0;
    let errors = 0;
    const lat: number[] = [];
    for (const b of this.buckets.values()) {
      if (b.start + this.widthMs <= now - windowMs) continue;
      count += b.count;
      errors += b.errors;
      for (const l of b.latencies) lat.push(l);
    }
    lat.sort((x, y) => x - y);
    return { count, errorRate: count ? errors / count : 0, p95: percentile(lat, 0.95) };
  }
}
