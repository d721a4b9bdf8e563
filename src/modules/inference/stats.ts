/**
 * Per model version counters, read by the monitoring module through the `stats` operation. Plain numbers and a
 * fixed latency histogram: cheap enough to update on every request.
 */
const LATENCY_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, Infinity];

export class ModelStats {
  requests = 0;
  errors = 0;
  /** Refused because the queue was full or the model was going away (also counted in errors). */
  rejected = 0;
  batches = 0;
  /** Rows run, summed over batches. */
  rows = 0;
  private latencySum = 0;
  private latencyMax = 0;
  private readonly latencyCounts = new Array<number>(LATENCY_BUCKETS_MS.length).fill(0);
  private queueSum = 0;
  private queueMax = 0;
  private batchSizeSum = 0;
  private batchSizeMax = 0;

  constructor(
    readonly name: string,
    readonly version: string,
  ) {}

  request(latencyMs: number, ok: boolean): void {
    this.requests++;
    if (!ok) this.errors++;
    this.latencySum += latencyMs;
    if (latencyMs > this.latencyMax) this.latencyMax = latencyMs;
    let i = 0;
    while (latencyMs > LATENCY_BUCKETS_MS[i]) i++;
    this.latencyCounts[i]++;
  }

  queued(waitMs: number): void {
    this.queueSum += waitMs;
    if (waitMs > this.queueMax) this.queueMax = waitMs;
  }

  batch(requests: number, rows: number): void {
    this.batches++;
    this.rows += rows;
    this.batchSizeSum += requests;
    if (requests > this.batchSizeMax) this.batchSizeMax = requests;
  }

  snapshot() {
    let cumulative = 0;
    return {
      name: this.name,
      version: this.version,
      requests: this.requests,
      errors: this.errors,
      rejected: this.rejected,
      batches: this.batches,
      rows: this.rows,
      // Cumulative counts per upper bound (Prometheus style); the last bound is +Inf, written as -1 for JSON.
      latencyMs: {
        sum: this.latencySum,
        max: this.latencyMax,
        buckets: LATENCY_BUCKETS_MS.map((le, i) => [Number.isFinite(le) ? le : -1, (cumulative += this.latencyCounts[i])] as [number, number]),
      },
      queueMs: { sum: this.queueSum, max: this.queueMax },
      batchSize: { sum: this.batchSizeSum, max: this.batchSizeMax },
    };
  }
}
