/**
 * Webhook delivery, off the scoring path: `dispatch` only enqueues. Each webhook has its own queue and a few
 * concurrent deliveries; each attempt is bounded by the webhook's timeout, failures are retried with exponential
 * backoff, and a delivery that fails `maxAttempts` times (or is dropped because the queue is full or the module
 * stops) becomes a dead-letter record. A hanging or failing receiver therefore costs memory up to the queue limit,
 * never latency to a decision.
 */
import type { Logger } from "../../runtime/log";

export interface WebhookConfig {
  url: string;
  events: string[];
  timeoutMs: number;
  maxAttempts: number;
  backoffMs: number;
}

export type DeadLetterSink = (url: string, event: string, payload: unknown, attempts: number, error: string) => void;

interface Delivery {
  event: string;
  id: string;
  payload: unknown;
}

/** Deliveries in flight per webhook: enough to absorb a slow receiver, few enough not to flood it. */
const CONCURRENCY = 8;

class WebhookQueue {
  private readonly queue: Delivery[] = [];
  private active = 0;

  constructor(
    readonly hook: WebhookConfig,
    private readonly limit: number,
    private readonly stopping: AbortSignal,
    private readonly deadLetter: DeadLetterSink,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.queue.length + this.active;
  }

  push(d: Delivery): void {
    if (this.queue.length >= this.limit) {
      this.deadLetter(this.hook.url, d.event, d.payload, 0, `dropped: ${this.limit} deliveries already queued`);
      return;
    }
    this.queue.push(d);
    this.pump();
  }

  private pump(): void {
    while (this.active < CONCURRENCY && this.queue.length) {
      const d = this.queue.shift()!;
      this.active++;
      void this.deliver(d).finally(() => {
        this.active--;
        this.pump();
      });
    }
  }

  private async deliver(d: Delivery): Promise<void> {
    const { url, timeoutMs, maxAttempts, backoffMs } = this.hook;
    const body = JSON.stringify({ event: d.event, id: d.id, payload: d.payload });
    let lastError = "";
    let attempt = 0;
    while (attempt < maxAttempts && !this.stopping.aborted) {
      attempt++;
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", "x-cleave-event": d.event, "x-cleave-delivery": `${d.id}:${d.event}` },
          body,
          signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.stopping]),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        lastError = `HTTP ${res.status}`;
      } catch (err) {
        const name = (err as Error).name;
        lastError = name === "TimeoutError" ? `timed out after ${timeoutMs} ms` : `request failed: ${(err as Error).message}`;
      }
      if (attempt < maxAttempts) await sleep(backoffMs * 2 ** (attempt - 1), this.stopping);
    }
    if (this.stopping.aborted) lastError = `not delivered before shutdown (last error: ${lastError || "none"})`;
    this.log.warn({ url, event: d.event, id: d.id, attempts: attempt, error: lastError }, "webhook delivery dead-lettered");
    this.deadLetter(url, d.event, d.payload, attempt, lastError);
  }

  /** At shutdown: whatever is still queued is dead-lettered rather than silently lost. */
  drainToDeadLetters(): void {
    for (const d of this.queue.splice(0)) this.deadLetter(this.hook.url, d.event, d.payload, 0, "not delivered before shutdown");
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

export class WebhookDispatcher {
  private readonly stop = new AbortController();
  private readonly queues: WebhookQueue[];
  private readonly byEvent = new Map<string, WebhookQueue[]>();

  constructor(hooks: WebhookConfig[], queueLimit: number, deadLetter: DeadLetterSink, log: Logger) {
    this.queues = hooks.map((h) => new WebhookQueue(h, queueLimit, this.stop.signal, deadLetter, log));
    for (const q of this.queues) {
      for (const e of q.hook.events) this.byEvent.set(e, [...(this.byEvent.get(e) ?? []), q]);
    }
  }

  /** Enqueues an event for every webhook subscribed to it; returns at once. */
  dispatch(event: string, id: string, payload: unknown): void {
    const targets = this.byEvent.get(event);
    if (!targets || this.stop.signal.aborted) return;
    for (const q of targets) q.push({ event, id, payload });
  }

  get pending(): number {
    return this.queues.reduce((n, q) => n + q.size, 0);
  }

  /** Aborts in-flight attempts (they dead-letter themselves) and dead-letters the queued rest. */
  async close(): Promise<void> {
    this.stop.abort();
    for (const q of this.queues) q.drainToDeadLetters();
    // Let aborted fetches settle so their dead letters are written before the store closes.
    const deadline = Date.now() + 1000;
    while (this.pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }
}
