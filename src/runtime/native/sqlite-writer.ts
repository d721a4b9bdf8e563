/**
 * Group-commit writes to a SQLite file from a worker thread (a module uses it for its own files). Inserting a batch
 * costs milliseconds of CPU, and on the event loop that is time no request is served (and a visible stall at p99);
 * on its own thread it uses the other core. The caller opens the file first on its own connection (migrations,
 * WAL, reads); the worker opens a second connection that only writes. `write` resolves once the batch's transaction
 * has committed.
 *
 * A batch crosses to the thread as ONE string, a JSON array of parameters per line: cloning a batch of row arrays
 * for postMessage cost the event loop about as much as inserting them (a profile put it at 6% of CPU at
 * saturation), while one string is a copy. Parameters that are objects or arrays are bound as their JSON text,
 * except `{"$blob": [offset, length]}`: those bytes of the batch's `blob`, which is transferred, not copied.
 */
import { workerEntry } from "../worker-entry";

export type WriterRequest =
  | { type: "open"; file: string; synchronous: "NORMAL" | "FULL"; statements: string[] }
  | { type: "write"; id: number; parts: WriterPart[]; blob?: Uint8Array }
  | { type: "add"; parts: WriterPart[]; blob?: Uint8Array }
  | { type: "commit"; id: number }
  | { type: "rollback" }
  | { type: "checkpoint"; id: number; restartFrames: number }
  | { type: "close"; id: number };

export type WriterReply = { type: "done"; id: number } | { type: "failed"; id: number; message: string };

/** Rows for one statement: statements[statement] runs once per line of `lines`. */
export interface WriterPart {
  statement: number;
  lines: string;
}

/** Rows handed over in pieces and committed as one transaction (SqliteWriter.group). */
export interface WriterGroup {
  /** `blob` is transferred, as with writeAll. */
  add(parts: WriterPart[], blob?: Uint8Array<ArrayBuffer>): void;
  commit(): Promise<void>;
  rollback(): void;
}

/** One row's parameters as a line of a batch (JSON never contains a raw newline). */
export const encodeRow = (params: unknown[]): string => JSON.stringify(params);

export class SqliteWriter {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private failure: Error | undefined;
  private groupOpen = false;

  /** `statements` are the SQL texts a batch refers to by index. */
  constructor(file: string, synchronous: "NORMAL" | "FULL", statements: string[]) {
    this.worker = new Worker(workerEntry("runtime/native/sqlite-writer-worker.ts"), { name: "cleave-sqlite" });
    this.worker.onmessage = (event: MessageEvent<WriterReply>) => {
      const msg = event.data;
      const w = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      if (msg.type === "done") w?.resolve();
      else w?.reject(new Error(msg.message));
    };
    this.worker.onerror = (event) => {
      this.failure = new Error(`SQLite writer thread failed: ${event.message}`);
      for (const w of this.waiting.values()) w.reject(this.failure);
      this.waiting.clear();
    };
    this.worker.postMessage({ type: "open", file, synchronous, statements } satisfies WriterRequest);
  }

  /**
   * Runs statements[statement] once per line of `lines` (each a JSON array of its parameters, as `encodeRow` makes
   * them), in one transaction; resolves once it has committed.
   */
  write(statement: number, lines: string, blob?: Uint8Array<ArrayBuffer>): Promise<void> {
    return this.writeAll([{ statement, lines }], blob);
  }

  /**
   * Several statements' rows, in order, in one transaction and one message: a batch that touches several tables
   * commits whole or not at all, and costs one hand-over and one commit instead of one per table. `blob` is shared
   * by all parts' `$blob` references.
   */
  writeAll(parts: WriterPart[], blob?: Uint8Array<ArrayBuffer>): Promise<void> {
    return this.send((id) => ({ type: "write", id, parts, blob }), blob);
  }

  /**
   * A transaction built over several messages, for a batch too large to encode in one turn of the event loop: each
   * `add` is written at once inside the open transaction (no answer), `commit` ends it and resolves once it has
   * committed, or rejects with the first failure after rolling back every row added. One transaction writes each page
   * once, where a transaction per piece wrote the same B-tree pages to the WAL again and again (a feature checkpoint
   * of 11,300 states in slices of 16 cost the writer 16–20 µs a state; as one transaction 5–7). Until `commit` or
   * `rollback`, the writer takes no other request, and holds the file's write lock.
   */
  group(): WriterGroup {
    if (this.groupOpen) throw new Error("a write group is already open on this writer");
    this.groupOpen = true;
    const end = () => {
      if (!this.groupOpen) throw new Error("this write group has ended");
      this.groupOpen = false;
    };
    return {
      add: (parts, blob) => {
        if (!this.groupOpen) throw new Error("this write group has ended");
        if (!this.failure) this.worker.postMessage({ type: "add", parts, blob } satisfies WriterRequest, blob ? [blob.buffer] : []);
      },
      commit: () => {
        end();
        return this.send((id) => ({ type: "commit", id }));
      },
      rollback: () => {
        end();
        if (!this.failure) this.worker.postMessage({ type: "rollback" } satisfies WriterRequest);
      },
    };
  }

  /**
   * Copies committed pages from the WAL into the database file on this thread, for a connection that commits on the
   * event loop with `wal_autocheckpoint = 0`: SQLite's automatic checkpoint runs inside the commit that crosses its
   * threshold, and its copy and fsyncs stalled that commit, and the event loop, for 2–10 ms several times a second.
   * PASSIVE never waits for the writer. While commits keep landing during checkpoints, the WAL cannot start over and
   * grows; once it holds `restartFrames` pages, a RESTART checkpoint makes the next commit wait for it and start the
   * WAL over.
   */
  checkpoint(restartFrames: number): Promise<void> {
    return this.send((id) => ({ type: "checkpoint", id, restartFrames }));
  }

  /** The thread itself failed (every later request fails); a rejected write or checkpoint alone does not set it. */
  get broken(): boolean {
    return this.failure !== undefined;
  }

  /** Closes the writer's connection after the batches already sent, then ends the thread. */
  async close(): Promise<void> {
    try {
      await this.send((id) => ({ type: "close", id }));
    } finally {
      this.worker.terminate();
    }
  }

  /** `transfer`: a buffer that moves to the thread (the caller must own all of its ArrayBuffer and not reuse it). */
  private send(message: (id: number) => WriterRequest, transfer?: Uint8Array<ArrayBuffer>): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const request = message(id);
    if (this.groupOpen) return Promise.reject(new Error(`a write group is open: "${request.type}" must wait for its commit`));
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage(request, transfer ? [transfer.buffer] : []);
    });
  }
}
