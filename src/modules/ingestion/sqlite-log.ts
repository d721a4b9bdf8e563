/**
 * The append-only event log in SQLite (in-process bus). Appends from concurrent requests that arrive in the same
 * turn of the event loop are written in one transaction (group commit): a request is acknowledged only after the
 * transaction holding its events has committed, and many small requests share one commit's cost.
 */
import { join } from "node:path";
import type { Logger } from "../../runtime/log";
import { openDatabase, type Db } from "../../runtime/native/sqlite";
import { SqliteWriter } from "../../runtime/native/sqlite-writer";
import { Throttle } from "../../runtime/throttle";
import type { LoggedEvent } from "./contract";
import type { ValidEvent } from "./events";
import { READ_BUDGET_BYTES, type Appended, type EventLog } from "./log";

const MIGRATIONS = [
  `CREATE TABLE events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, even after trimming: consumer positions stay valid
     id TEXT NOT NULL UNIQUE,               -- idempotency key: a repeated id is acknowledged, not stored again
     type TEXT NOT NULL,
     ts INTEGER NOT NULL,
     data TEXT NOT NULL,
     received INTEGER NOT NULL  -- not indexed: trimming walks from the oldest seq, received grows with seq
   );`,
  // The log gives each event its seq (the head's + 1) instead of AUTOINCREMENT, which wrote sqlite_sequence's page
  // at every commit: a third of the WAL's bytes, and ~5 µs of a one-event commit's ~25. A seq is still never reused:
  // trimming keeps the newest event, and the sequence's last value is kept here for a log that was empty.
  `CREATE TABLE log_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
   INSERT INTO log_meta (key, value) SELECT 'seqFloor', seq FROM sqlite_sequence WHERE name = 'events';
   CREATE TABLE events_v2 (
     seq INTEGER PRIMARY KEY,  -- given by the log: head + 1
     id TEXT NOT NULL UNIQUE,
     type TEXT NOT NULL,
     ts INTEGER NOT NULL,
     data TEXT NOT NULL,
     received INTEGER NOT NULL
   );
   INSERT INTO events_v2 (seq, id, type, ts, data, received) SELECT seq, id, type, ts, data, received FROM events;
   DROP TABLE events;
   ALTER TABLE events_v2 RENAME TO events;`,
];

/** A stored event as a read answers it, its data still the JSON text that was written. */
interface Row {
  seq: number;
  id: string;
  type: string;
  ts: number;
  data: string;
}

/**
 * How many of the newest stored events are also kept in memory: a consumer that keeps up (the feature module in the
 * same process, a read per group commit) is answered from them without a query.
 */
const TAIL_EVENTS = 8192;

/** How often the checkpoint thread copies the WAL into the file, and the WAL size (pages) that forces it to start over. */
const CHECKPOINT_MS = 200;
const RESTART_FRAMES = 16_384;
const FAILURE_LOG_MS = 10_000;

interface Pending {
  events: ValidEvent[];
  resolve: (r: Appended[]) => void;
  reject: (e: unknown) => void;
}

export class SqliteLog implements EventLog {
  readonly kind = "sqlite" as const;
  private readonly db: Db;
  private readonly insert;
  private readonly seqOf;
  private readonly readAfter;
  private readonly insertBatch: (batch: Pending[], received: number, stored: Row[]) => Appended[][];
  private pending: Pending[] = [];
  private flushScheduled = false;
  private headSeq: number;
  private waiters: (() => void)[] = [];
  /** Every event stored since open with seq >= tail[0].seq, in seq order (trimmed in bulk, so up to 2 × TAIL_EVENTS). */
  private tail: Row[] = [];

  /** Runs the WAL checkpoints on its own thread: commits stay on the event loop, where they cost ~35 µs. */
  private readonly checkpointer: SqliteWriter;
  private readonly checkpointTimer: ReturnType<typeof setInterval>;
  private checkpointing = false;
  /** Failures (a full disk fails every commit): logged once per FAILURE_LOG_MS with how many there were since. */
  private readonly failureLog = new Throttle(FAILURE_LOG_MS);

  constructor(
    dir: string,
    durability: "process" | "power",
    private readonly log: Logger,
  ) {
    const file = join(dir, "log.sqlite");
    const synchronous = durability === "power" ? "FULL" : "NORMAL";
    this.db = openDatabase(file, { migrations: MIGRATIONS, synchronous });
    this.db.pragma("wal_autocheckpoint = 0");
    this.checkpointer = new SqliteWriter(file, synchronous, []);
    this.checkpointTimer = setInterval(() => {
      if (this.checkpointing) return;
      this.checkpointing = true;
      this.checkpointer
        .checkpoint(RESTART_FRAMES)
        .then(
          () => (this.checkpointing = false),
          (err) => {
            this.checkpointing = false;
            // A checkpoint that failed (a full disk) is tried again at the next tick.
            if (!this.checkpointer.broken) return this.logFailure("event log checkpoint failed; retrying", err);
            // Without the thread the WAL would grow without bound: commits checkpoint again, stalls and all.
            clearInterval(this.checkpointTimer);
            this.db.pragma("wal_autocheckpoint = 1000");
            log.error({ err: (err as Error).message }, "event log checkpoint thread failed; commits checkpoint the WAL themselves from now on");
          },
        );
    }, CHECKPOINT_MS);
    // The head is read once here and kept by this object, the log file's only writer.
    this.headSeq = this.db
      .prepare("SELECT max(coalesce((SELECT max(seq) FROM events), 0), coalesce((SELECT value FROM log_meta WHERE key = 'seqFloor'), 0))")
      .pluck()
      .get() as number;
    this.insert = this.db.prepare(
      "INSERT OR IGNORE INTO events (seq, id, type, ts, data, received) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.seqOf = this.db.prepare("SELECT seq FROM events WHERE id = ?").pluck();
    this.readAfter = this.db.prepare("SELECT seq, id, type, ts, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?");
    // Built once: better-sqlite3 makes several wrapper functions per transaction() call, and this runs per commit.
    this.insertBatch = this.db.transaction((batch: Pending[], received: number, stored: Row[]) => {
      // The head moves only once the transaction has committed (flush): a failed one gives these seqs out again.
      let last = this.headSeq;
      return batch.map((p) =>
        p.events.map((e) => {
          const data = JSON.stringify(e.data);
          // An id already stored is ignored (the only conflict possible: no seq above the head exists).
          if (this.insert.run(last + 1, e.id, e.type, e.ts, data, received).changes === 1) {
            const seq = ++last;
            stored.push({ seq, id: e.id, type: e.type, ts: e.ts, data });
            return { seq, duplicate: false };
          }
          return { seq: this.seqOf.get(e.id) as number, duplicate: true };
        }),
      );
    });
  }

  private logFailure(msg: string, err: unknown) {
    const failures = this.failureLog.pass();
    if (failures) this.log.error({ err: (err as Error).message, failures }, msg);
  }

  head(): number {
    return this.headSeq;
  }

  append(events: ValidEvent[]): Promise<Appended[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ events, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush() {
    const batch = this.pending;
    this.pending = [];
    this.flushScheduled = false;
    const received = Date.now();
    const stored: Row[] = [];
    let results: Appended[][];
    try {
      results = this.insertBatch(batch, received, stored);
    } catch (err) {
      for (const p of batch) p.reject(err);
      this.logFailure("event log commit failed; its events were refused", err);
      return;
    }
    for (const row of stored) this.tail.push(row);
    if (this.tail.length > 2 * TAIL_EVENTS) this.tail = this.tail.slice(-TAIL_EVENTS);
    for (const r of results.flat()) if (!r.duplicate && r.seq > this.headSeq) this.headSeq = r.seq;
    batch.forEach((p, i) => p.resolve(results[i]));
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  async read(after: number, max: number, waitMs: number): Promise<LoggedEvent[]> {
    if (after >= this.headSeq && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        this.waiters.push(done);
      });
    }
    const rows = this.tail.length && this.tail[0].seq <= after + 1 ? this.tailAfter(after, max) : (this.readAfter.all(after, max) as Row[]);
    const out: LoggedEvent[] = [];
    let bytes = 0;
    for (const r of rows) {
      bytes += r.data.length + r.id.length + 64;
      if (bytes > READ_BUDGET_BYTES && out.length) break;
      out.push({ seq: r.seq, id: r.id, type: r.type, ts: r.ts, data: JSON.parse(r.data) });
    }
    return out;
  }

  /** The tail's events with seq > after (the caller checked that the tail holds all of them), at most `max`. */
  private tailAfter(after: number, max: number): Row[] {
    let lo = 0;
    let hi = this.tail.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.tail[mid].seq <= after) lo = mid + 1;
      else hi = mid;
    }
    return this.tail.slice(lo, lo + max);
  }

  /**
   * Drops events older than the retention that every live consumer has read past, except the newest: its seq is
   * the head a reopened log continues from.
   */
  trim(receivedBefore: number, belowSeq: number): number {
    // Events are received in seq order: the first one young enough bounds the range to delete (by primary key).
    const firstKept = this.db.prepare("SELECT seq FROM events WHERE received >= ? ORDER BY seq LIMIT 1").pluck().get(receivedBefore) as
      number | undefined;
    const below = Math.min(belowSeq, firstKept ?? Infinity, this.headSeq);
    this.tail = this.tail.filter((r) => r.seq >= below);
    return this.db.prepare("DELETE FROM events WHERE seq < ?").run(below).changes;
  }

  async close(): Promise<void> {
    if (this.pending.length) this.flush();
    for (const w of this.waiters.splice(0)) w();
    clearInterval(this.checkpointTimer);
    // A checkpoint thread that failed has nothing to finish; the log's own file still closes.
    await this.checkpointer.close().catch(() => undefined);
    // The last connection to close checkpoints the whole WAL into the file.
    this.db.close();
  }
}
