/**
 * Where a model's runs happen: on the event loop (cheapest for models that run in microseconds) or in a pool of
 * worker threads (for models slow enough that a synchronous `session.run` would stall everything else).
 */
import type { NativeSession } from "../../runtime/native/onnxruntime";
import { createSession, type Feeds, runSession, type SessionSettings } from "./session";
import { workerEntry } from "../../runtime/worker-entry";
import { MODEL_THREAD_NAME } from "../../runtime/thread-priority";
import type { WorkerReply, WorkerRequest } from "./worker";

export interface Executor {
  /** How many runs may be in progress at once. */
  readonly slots: number;
  readonly workers: number;
  run(feeds: Feeds, fetches: readonly string[]): Promise<Feeds>;
  close(): Promise<void>;
}

export class InlineExecutor implements Executor {
  readonly slots = 1;
  readonly workers = 0;
  constructor(private readonly session: NativeSession) {}

  static async create(bytes: Uint8Array, settings: SessionSettings): Promise<InlineExecutor> {
    return new InlineExecutor(await createSession(bytes, settings));
  }

  run(feeds: Feeds, fetches: readonly string[]): Promise<Feeds> {
    return runSession(this.session, feeds, fetches);
  }

  async close(): Promise<void> {
    this.session.dispose();
  }
}

interface PendingRun {
  resolve: (outputs: Feeds) => void;
  reject: (err: Error) => void;
}

class SessionWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, PendingRun>();
  private nextId = 1;
  private failure: Error | undefined;

  private constructor(worker: Worker) {
    this.worker = worker;
    worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      const msg = event.data;
      if (msg.type === "ready" || msg.id === undefined) return;
      const run = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.type === "result") run?.resolve(msg.outputs);
      else run?.reject(new Error(msg.message));
    };
    worker.onerror = (event) => {
      this.failure = new Error(`inference worker failed: ${event.message}`);
      for (const run of this.pending.values()) run.reject(this.failure);
      this.pending.clear();
    };
  }

  static start(bytes: Uint8Array, settings: SessionSettings): Promise<SessionWorker> {
    const worker = new Worker(workerEntry("modules/inference/worker.ts"), { name: MODEL_THREAD_NAME });
    const sw = new SessionWorker(worker);
    return new Promise((resolve, reject) => {
      worker.addEventListener("error", (event) => reject(new Error(`inference worker did not start: ${event.message}`)), { once: true });
      const onInit = (event: MessageEvent<WorkerReply>) => {
        if (event.data.type === "ready") {
          worker.removeEventListener("message", onInit);
          resolve(sw);
        } else if (event.data.type === "error" && event.data.id === undefined) {
          worker.removeEventListener("message", onInit);
          worker.terminate();
          reject(new Error(event.data.message));
        }
      };
      worker.addEventListener("message", onInit);
      worker.postMessage({ type: "init", bytes, settings } satisfies WorkerRequest);
    });
  }

  run(feeds: Feeds, fetches: readonly string[]): Promise<Feeds> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: "run", id, feeds, fetches: [...fetches] } satisfies WorkerRequest);
    });
  }

  close(): void {
    this.worker.terminate();
  }
}

/** A fixed pool of workers, each with its own session; the scheduler never starts more runs than `slots`. */
export class WorkerPool implements Executor {
  private readonly idle: SessionWorker[];
  readonly slots: number;
  readonly workers: number;

  private constructor(private readonly all: SessionWorker[]) {
    this.idle = [...all];
    this.slots = all.length;
    this.workers = all.length;
  }

  static async create(bytes: Uint8Array, settings: SessionSettings, size: number): Promise<WorkerPool> {
    const started = await Promise.allSettled(Array.from({ length: size }, () => SessionWorker.start(bytes, settings)));
    const ok = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    const failed = started.find((s) => s.status === "rejected");
    if (failed) {
      for (const w of ok) w.close();
      throw (failed as PromiseRejectedResult).reason;
    }
    return new WorkerPool(ok);
  }

  async run(feeds: Feeds, fetches: readonly string[]): Promise<Feeds> {
    const worker = this.idle.pop();
    if (!worker) throw new Error("worker pool over-subscribed");
    try {
      return await worker.run(feeds, fetches);
    } finally {
      this.idle.push(worker);
    }
  }

  async close(): Promise<void> {
    for (const w of this.all) w.close();
  }
}
