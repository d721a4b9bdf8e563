/**
 * Adaptive batching for one model version. Requests queue; whenever the executor has a free slot, the queue head
 * and the following requests with the same non-batch dims are concatenated along dim 0 (up to maxBatchSize rows),
 * run once, and the outputs are split back by rows. Nothing waits for a batch to fill when the model is idle (unless
 * maxQueueDelayMs says so): batches form from what arrived while the model was busy or in the same turn of the
 * event loop, so latency at low load is that of a single run and throughput at high load is that of batched runs.
 */
import { CleaveError } from "../../runtime/errors";
import type { Executor } from "./executor";
import type { Feeds } from "./session";
import type { ModelStats } from "./stats";
import { elementCount, type Tensor, type TensorValues } from "./tensor";

export interface BatchingSettings {
  maxBatchSize: number;
  maxQueueDelayMs: number;
  maxQueue: number;
}

interface Pending {
  feeds: Feeds;
  rows: number;
  /** Requests batch together only when their keys (input names and non-batch dims) match. */
  key: string;
  deadline: number;
  enqueued: number;
  resolve: (outputs: Feeds) => void;
  reject: (err: Error) => void;
}

/** A request arriving at least this long (ms) after the previous one, to an idle worker model, goes at once. */
const IDLE_MS = 0.05;
/**
 * Event-loop runs of a backlog follow each other within one turn while they add up to less than this (ms): a model
 * without a batch dimension then costs no extra turn per request. Past it, the next run waits for the next turn.
 */
const TURN_BUDGET_MS = 1;

const overloaded = (message: string) => new CleaveError("RESOURCE_EXHAUSTED", message, { retryAfterSeconds: 1 });

export class Scheduler {
  private readonly queue: Pending[] = [];
  private running = 0;
  private scheduled = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private idleWaiters: (() => void)[] = [];
  /** When the latest request arrived, and how long after the one before it (ms). */
  private lastArrival = -Infinity;
  /** When the current chain of pumps started (the turn's first pump). */
  private chainStart = 0;
  private arrivalGap = Infinity;
  private closed = false;

  constructor(
    private readonly executor: Executor,
    private readonly settings: BatchingSettings,
    /** False for models without a batch dimension on every input and output. */
    private batchable: boolean,
    private readonly fetches: readonly string[],
    private readonly stats: ModelStats,
    private readonly onBatchingDisabled: (reason: string) => void,
  ) {}

  /** Whether requests are still concatenated (turned off for good when a model's outputs do not keep rows). */
  get batching(): boolean {
    return this.batchable;
  }

  submit(feeds: Feeds, deadline: number): Promise<Feeds> {
    if (this.closed) return Promise.reject(new CleaveError("UNAVAILABLE", "model version is unloading", { retryAfterSeconds: 1 }));
    if (this.queue.length >= this.settings.maxQueue) {
      return Promise.reject(overloaded(`model queue is full (${this.settings.maxQueue} requests waiting); retry later`));
    }
    const { rows, key } = this.describe(feeds);
    const now = performance.now();
    this.arrivalGap = now - this.lastArrival;
    this.lastArrival = now;
    return new Promise<Feeds>((resolve, reject) => {
      this.queue.push({ feeds, rows, key, deadline, enqueued: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or running (used to retire a version after it stops taking traffic). */
  drain(): Promise<void> {
    this.closed = true;
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private describe(feeds: Feeds): { rows: number; key: string } {
    if (!this.batchable) return { rows: 1, key: "" };
    let rows = -1;
    let key = "";
    for (const name in feeds) {
      const shape = feeds[name].shape;
      if (rows === -1) rows = shape[0];
      // Inputs disagreeing on dim 0 cannot be split back by rows: such a request runs alone.
      else if (shape[0] !== rows) return { rows: 1, key: `solo:${Math.random()}` };
      key += name;
      for (let i = 1; i < shape.length; i++) key += `,${shape[i]}`;
      key += ";";
    }
    return { rows: Math.max(rows, 0), key };
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const go = () => {
      this.scheduled = false;
      this.chainStart = performance.now();
      this.pump();
    };
    // A batch starts at the end of the event loop's turn (setImmediate): requests that arrived together, in the I/O
    // the turn handled, join one run, and a run on the event loop never starts in the middle of that I/O (a health
    // check behind it). A worker model has no such turn to protect: a request that arrives long after the one before
    // it, to an idle pool, has nobody to wait for and goes at once. Under load requests arrive in bursts
    // (microseconds apart), so they wait and batch — which is why the gap between arrivals is the signal, not the
    // time since the last run.
    if (this.executor.workers > 0 && this.running === 0 && this.arrivalGap > IDLE_MS) queueMicrotask(go);
    else setImmediate(go);
  }

  private pump(): void {
    while (this.running < this.executor.slots && this.queue.length > 0) {
      const now = Date.now();
      while (this.queue.length && this.queue[0].deadline <= now) {
        this.queue.shift()!.reject(new CleaveError("DEADLINE_EXCEEDED", "request deadline passed while it was queued"));
      }
      if (!this.queue.length) break;
      if (this.shouldWait()) return;
      this.start(this.takeBatch());
    }
    this.checkIdle();
  }

  /** With maxQueueDelayMs > 0 and the model idle, let a partial batch wait for company, up to that delay. */
  private shouldWait(): boolean {
    const delay = this.settings.maxQueueDelayMs;
    if (delay <= 0 || !this.batchable || this.running > 0) return false;
    const rows = this.queue.reduce((n, p) => n + p.rows, 0);
    const waited = performance.now() - this.queue[0].enqueued;
    if (rows >= this.settings.maxBatchSize || waited >= delay) return false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pump(), delay - waited);
    return true;
  }

  private takeBatch(): Pending[] {
    const head = this.queue.shift()!;
    const batch = [head];
    if (!this.batchable || this.settings.maxBatchSize <= 1) return batch;
    let rows = head.rows;
    for (let i = 0; i < this.queue.length && rows < this.settings.maxBatchSize; ) {
      const p = this.queue[i];
      if (p.key === head.key && rows + p.rows <= this.settings.maxBatchSize) {
        batch.push(p);
        rows += p.rows;
        this.queue.splice(i, 1);
      } else i++;
    }
    return batch;
  }

  private start(batch: Pending[]): void {
    this.running++;
    const now = performance.now();
    const rows = batch.reduce((n, p) => n + p.rows, 0);
    for (const p of batch) this.stats.queued(now - p.enqueued);
    this.stats.batch(batch.length, rows);
    const feeds = batch.length === 1 ? batch[0].feeds : concat(batch.map((p) => p.feeds));
    this.executor
      .run(feeds, this.fetches)
      .then(
        (outputs) => {
          if (batch.length === 1) return batch[0].resolve(outputs);
          const parts = split(outputs, batch.map((p) => p.rows));
          if (typeof parts === "string") {
            // The model does not keep rows independent: never batch it again, and run these requests one by one.
            this.batchable = false;
            this.onBatchingDisabled(parts);
            for (const p of batch) this.queue.unshift({ ...p, rows: 1, key: "" });
            return;
          }
          batch.forEach((p, i) => p.resolve(parts[i]));
        },
        (err: Error) => {
          const error = new CleaveError("INVALID_ARGUMENT", `onnxruntime refused the request: ${err.message}`);
          for (const p of batch) p.reject(error);
        },
      )
      .finally(() => {
        this.running--;
        // A run on the event loop ends in the turn that started it. Once a backlog's runs have held this turn for
        // long enough, the next batch waits a turn so that I/O (health checks, other models' requests) gets in.
        const yieldNow = this.executor.workers === 0 && this.queue.length > 0 && performance.now() - this.chainStart > TURN_BUDGET_MS;
        if (yieldNow) this.schedule();
        else this.pump();
      });
  }

  private checkIdle(): void {
    if (this.queue.length || this.running) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

function concat(requests: Feeds[]): Feeds {
  const out: Feeds = {};
  for (const name of Object.keys(requests[0])) {
    const parts = requests.map((r) => r[name]);
    const first = parts[0];
    const rows = parts.reduce((n, t) => n + t.shape[0], 0);
    let data: TensorValues;
    if (Array.isArray(first.data)) data = parts.flatMap((t) => t.data as string[]);
    else {
      const total = parts.reduce((n, t) => n + t.data.length, 0);
      const Ctor = first.data.constructor as new (n: number) => Exclude<TensorValues, string[]>;
      const joined = new Ctor(total);
      let offset = 0;
      for (const t of parts) {
        (joined as Float32Array).set(t.data as Float32Array, offset);
        offset += t.data.length;
      }
      data = joined;
    }
    out[name] = { datatype: first.datatype, shape: [rows, ...first.shape.slice(1)], data };
  }
  return out;
}

/** Splits a batched run's outputs by rows; a string explains why it could not. */
function split(outputs: Feeds, rows: number[]): Feeds[] | string {
  const total = rows.reduce((a, b) => a + b, 0);
  const parts: Feeds[] = rows.map(() => ({}));
  for (const [name, t] of Object.entries(outputs)) {
    if (t.shape[0] !== total) return `output "${name}" has ${t.shape[0]} rows for a batch of ${total}`;
    const rowSize = elementCount(t.shape.slice(1));
    let offset = 0;
    rows.forEach((r, i) => {
      const data = Array.isArray(t.data)
        ? t.data.slice(offset * rowSize, (offset + r) * rowSize)
        : t.data.subarray(offset * rowSize, (offset + r) * rowSize);
      parts[i][name] = { datatype: t.datatype, shape: [r, ...t.shape.slice(1)], data } as Tensor;
      offset += r;
    });
  }
  return parts;
}
