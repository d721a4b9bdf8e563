/**
 * The audit log as the gateway uses it: `append` only queues the record, and every `flushIntervalMs` the queue
 * goes to a writer thread (audit-worker.ts) that hashes and commits it — a tenth of the CPU of a small
 * model's prediction was the audit write when it ran on the event loop. Records already queued or handed to the
 * thread are bounded together (MAX_QUEUE); beyond that they are dropped and counted, as in the log itself.
 */
import type { Logger } from "../log";
import { workerEntry } from "../worker-entry";
import { type AuditRecord, MAX_QUEUE, serializeRecord } from "./audit";
import type { AuditWorkerReply, AuditWorkerRequest } from "./audit-worker";

export class AuditWriter {
  /** `at TAB json` per record: a string crosses to the thread several times cheaper than objects do. */
  private queue: string[] = [];
  /** Handed to the thread and not yet confirmed. */
  private pending = 0;
  private droppedHere = 0;
  private droppedThere = 0;
  private readonly timer: ReturnType<typeof setInterval>;
  private onClosed?: () => void;
  private closing?: Promise<void>;
  private failed = false;

  private constructor(
    private readonly worker: Worker,
    flushIntervalMs: number,
    private readonly log: Logger,
  ) {
    worker.onmessage = (event: MessageEvent<AuditWorkerReply>) => this.onReply(event.data);
    worker.onerror = (event) => {
      this.failed = true;
      this.log.error({ err: event.message }, "audit writer thread failed; audit records are dropped until restart");
      this.onClosed?.();
    };
    this.timer = setInterval(() => this.post(), flushIntervalMs);
    this.timer.unref?.();
  }

  /** Starts the writer thread; rejects, naming the file, when the audit file cannot be opened. */
  static start(file: string, options: { flushIntervalMs: number; retentionDays: number }, log: Logger): Promise<AuditWriter> {
    const worker = new Worker(workerEntry("runtime/security/audit-worker.ts"), { name: "cleave-audit" });
    return new Promise((resolve, reject) => {
      worker.onerror = (event) => reject(new Error(`audit writer thread did not start: ${event.message}`));
      worker.onmessage = (event: MessageEvent<AuditWorkerReply>) => {
        if (event.data.type === "ready") {
          resolve(new AuditWriter(worker, options.flushIntervalMs, log));
        } else if (event.data.type === "error") {
          worker.terminate();
          reject(new Error(`audit log ${file} could not be opened: ${event.data.message}`));
        }
      };
      worker.postMessage({ type: "open", file, options } satisfies AuditWorkerRequest);
    });
  }

  get dropped(): number {
    return this.droppedHere + this.droppedThere;
  }

  append(record: AuditRecord): void {
    if (this.closing || this.failed || this.queue.length + this.pending >= MAX_QUEUE) {
      this.droppedHere++;
      return;
    }
    this.queue.push(`${Date.now()}\t${serializeRecord(record)}`);
  }

  private post(): void {
    if (!this.queue.length) return;
    const batch = this.queue;
    this.queue = [];
    this.pending += batch.length;
    this.worker.postMessage({ type: "write", lines: batch.join("\n"), count: batch.length } satisfies AuditWorkerRequest);
  }

  private onReply(msg: AuditWorkerReply): void {
    if (msg.type === "written") {
      this.pending -= msg.count;
      this.droppedThere = msg.dropped;
    } else if (msg.type === "error") {
      this.log.error({ err: msg.message, records: msg.records }, "audit records could not be written; retrying");
    } else if (msg.type === "closed") this.onClosed?.();
  }

  /** Hands over what is queued and waits until the thread has committed it and closed the file. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      clearInterval(this.timer);
      this.post();
      this.onClosed = () => {
        this.worker.terminate();
        resolve();
      };
      if (this.failed) this.onClosed();
      else this.worker.postMessage({ type: "close" } satisfies AuditWorkerRequest);
    });
    return this.closing;
  }
}
