/**
 * The audit trail: every decision, its inputs and why, in the module's own SQLite file.
 *
 * Group commit: `record` only appends to an in-memory buffer; the buffer is written in ONE transaction every
 * `flushIntervalMs` (or as soon as `batchSize` records wait), and on stop. The hot path therefore never waits for
 * a disk write, and the cost of a commit (an fsync with synchronous=FULL) is shared by the whole batch. The
 * transactions run on a worker thread (SqliteWriter), so inserting them takes no time from the event loop; reads,
 * overrides and retention use this thread's connection, after the records already answered have committed.
 * Durability window: a process crash loses at most the records buffered since the last flush (≤ flushIntervalMs of
 * decisions, at most batchSize). With synchronous=NORMAL (default, WAL) committed batches also survive a process
 * crash but the last batches before an OS crash or power loss may be lost; synchronous=FULL fsyncs each batch.
 */
import type { Db } from "../../runtime/native/sqlite";
import { openDatabase } from "../../runtime/native/sqlite";
import type { Logger } from "../../runtime/log";
import type { DecisionRecord, Outcome, RuleFired } from "./contract";
import { encodeRow, SqliteWriter } from "../../runtime/native/sqlite-writer";
import { type Failing, FaultSpan } from "../../runtime/fault-span";

type Scalar = string | number | boolean | null;

export interface AuditEntry {
  id: string;
  at: number;
  decision: Outcome;
  score: number;
  modelName: string;
  modelVersion: string;
  ruleSetVersion: string;
  rulesFired: RuleFired[];
  reasons: string[];
  transaction: Record<string, Scalar>;
  features: Record<string, Scalar>;
  latencyUs: number;
  caller: string | null;
  traceId: string;
}


export interface AuditOptions {
  flushIntervalMs: number;
  batchSize: number;
  synchronous: "NORMAL" | "FULL";
  maxPending: number;
}

export interface DeadLetter {
  id: number;
  url: string;
  event: string;
  payload: unknown;
  attempts: number;
  error: string;
  at: string;
}

const MIGRATIONS = [
  `CREATE TABLE decisions (
     id TEXT PRIMARY KEY, at INTEGER NOT NULL, decision TEXT NOT NULL, score REAL NOT NULL,
     model_name TEXT NOT NULL, model_version TEXT NOT NULL, rule_set_version TEXT NOT NULL,
     rules_fired TEXT NOT NULL, reasons TEXT NOT NULL, tx TEXT NOT NULL, features TEXT NOT NULL,
     latency_us REAL NOT NULL, caller TEXT, trace_id TEXT NOT NULL);
   CREATE INDEX decisions_at ON decisions(at);
   CREATE TABLE overrides (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     decision_id TEXT NOT NULL REFERENCES decisions(id) ON DELETE CASCADE,
     decision TEXT NOT NULL, reason TEXT NOT NULL, analyst TEXT, at INTEGER NOT NULL);
   CREATE INDEX overrides_decision ON overrides(decision_id);
   CREATE TABLE dead_letters (
     id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL, event TEXT NOT NULL, payload TEXT NOT NULL,
     attempts INTEGER NOT NULL, error TEXT NOT NULL, at INTEGER NOT NULL);
   CREATE INDEX dead_letters_at ON dead_letters(at);`,
];

/** Longest wait between attempts while group commits keep failing. */
const MAX_RETRY_MS = 5_000;

export class AuditStore {
  private readonly db: Db;
  /** Decisions waiting for the next group commit, each the insert's parameters as one line (see SqliteWriter). */
  private buffer: string[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private readonly writer: SqliteWriter;
  /** Records sent to the writer and not yet committed. */
  private writing = 0;
  /** Group commits failed in a row (the retry backs off with it). */
  private failedFlushes = 0;
  /** Since when group commits have been failing, and the last error: cleared by the next one that commits. */
  private readonly failure = new FaultSpan();
  /** Settles once every batch sent so far has been answered. */
  private written: Promise<unknown> = Promise.resolve();
  private readonly stmts;

  constructor(
    file: string,
    private readonly opts: AuditOptions,
    private readonly log: Logger,
  ) {
    this.db = openDatabase(file, { migrations: MIGRATIONS, synchronous: opts.synchronous });
    this.writer = new SqliteWriter(file, opts.synchronous, [
      `INSERT INTO decisions (id, at, decision, score, model_name, model_version, rule_set_version, rules_fired,
         reasons, tx, features, latency_us, caller, trace_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    ]);
    this.stmts = {
      get: this.db.prepare("SELECT * FROM decisions WHERE id = ?"),
      overrides: this.db.prepare("SELECT decision, reason, analyst, at FROM overrides WHERE decision_id = ? ORDER BY seq"),
      addOverride: this.db.prepare("INSERT INTO overrides (decision_id, decision, reason, analyst, at) VALUES (?,?,?,?,?)"),
      purgeDecisions: this.db.prepare("DELETE FROM decisions WHERE id IN (SELECT id FROM decisions WHERE at < ? ORDER BY at LIMIT ?)"),
      purgeDeadLetters: this.db.prepare("DELETE FROM dead_letters WHERE at < ?"),
      addDeadLetter: this.db.prepare("INSERT INTO dead_letters (url, event, payload, attempts, error, at) VALUES (?,?,?,?,?,?)"),
      deadLetters: this.db.prepare("SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?"),
    };
  }

  /** Group commits failing now (a full disk): since when and the last error; shown by the module's health. */
  get writesFailing(): Failing | undefined {
    return this.failure.current;
  }

  /** True while commits keep failing and the backlog has reached maxPending: no decision should go unrecorded. */
  get saturated(): boolean {
    return this.pending >= this.opts.maxPending;
  }

  /** Buffers one decision; it reaches the file at the next group commit. */
  record(entry: AuditEntry): void {
    if (this.closed) throw new Error("audit store is closed");
    const e = entry;
    // Encoded now, not at commit time: an in-process caller may reuse or change its objects once answered.
    this.buffer.push(encodeRow([e.id, e.at, e.decision, e.score, e.modelName, e.modelVersion, e.ruleSetVersion,
      e.rulesFired, e.reasons, e.transaction, e.features, e.latencyUs, e.caller, e.traceId]));
    // A full batch goes at once, unless commits are failing: then it waits for the retry.
    if (this.buffer.length >= this.opts.batchSize && this.failedFlushes === 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.opts.flushIntervalMs);
  }

  /** Sends every buffered record to the writer, to be written in one transaction. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.writing += batch.length;
    const sent = this.writer.write(0, batch.join("\n")).then(
      () => {
        this.writing -= batch.length;
        this.failedFlushes = 0;
        this.failure.succeeded();
      },
      (err) => {
        this.writing -= batch.length;
        this.failure.failed(err);
        // Keep the records for the next attempt (SQLITE_BUSY from an external reader holding a lock, a full disk),
        // backing off while attempts keep failing: a full disk failed and logged every attempt, 20 a second.
        const retryMs = Math.min(this.opts.flushIntervalMs * 10 * 2 ** this.failedFlushes++, MAX_RETRY_MS);
        this.buffer = batch.concat(this.buffer);
        this.log.error({ err, records: this.pending, retryMs }, "audit group commit failed; will retry");
        if (!this.closed) {
          clearTimeout(this.timer);
          this.timer = setTimeout(() => this.flush(), retryMs);
        }
      },
    );
    this.written = Promise.all([this.written, sent]);
  }

  /** Records not yet committed: buffered, or being written. */
  get pending(): number {
    return this.buffer.length + this.writing;
  }

  /** Waits until every record already answered has been written (or its write has failed and it is buffered). */
  private async settle(): Promise<void> {
    this.flush();
    await this.written;
  }

  async get(id: string): Promise<DecisionRecord | undefined> {
    await this.settle();
    const row = this.stmts.get.get(id) as Record<string, any> | undefined;
    if (!row) return undefined;
    const overrides = (this.stmts.overrides.all(id) as { decision: Outcome; reason: string; analyst: string | null; at: number }[]).map(
      (o) => ({ ...o, at: new Date(o.at).toISOString() }),
    );
    return {
      decisionId: row.id,
      at: new Date(row.at).toISOString(),
      decision: row.decision,
      effectiveDecision: overrides.length ? overrides[overrides.length - 1].decision : row.decision,
      transaction: JSON.parse(row.tx),
      features: JSON.parse(row.features),
      score: row.score,
      model: { name: row.model_name, version: row.model_version },
      ruleSetVersion: row.rule_set_version,
      rulesFired: JSON.parse(row.rules_fired),
      reasons: JSON.parse(row.reasons),
      latencyUs: row.latency_us,
      caller: row.caller,
      traceId: row.trace_id,
      overrides,
    };
  }

  /** Appends an override; false when the decision does not exist. The original row is never changed. */
  async override(id: string, decision: Outcome, reason: string, analyst: string | null, at = Date.now()): Promise<boolean> {
    await this.settle();
    if (!this.stmts.get.get(id)) return false;
    this.stmts.addOverride.run(id, decision, reason, analyst, at);
    return true;
  }

  /** Retention: deletes up to `limit` decisions (with their overrides) older than the cutoff, and old dead letters. */
  async purgeOlderThan(cutoffMs: number, limit: number): Promise<number> {
    if (this.closed) return 0;
    await this.settle();
    const deleted = this.stmts.purgeDecisions.run(cutoffMs, limit).changes;
    this.stmts.purgeDeadLetters.run(cutoffMs);
    return deleted;
  }

  addDeadLetter(url: string, event: string, payload: unknown, attempts: number, error: string): void {
    if (this.closed) return;
    this.stmts.addDeadLetter.run(url, event, JSON.stringify(payload), attempts, error, Date.now());
  }

  deadLetters(limit: number): DeadLetter[] {
    return (this.stmts.deadLetters.all(limit) as Record<string, any>[]).map((r) => ({
      id: r.id,
      url: r.url,
      event: r.event,
      payload: JSON.parse(r.payload),
      attempts: r.attempts,
      error: r.error,
      at: new Date(r.at).toISOString(),
    }));
  }

  /** Writes what is buffered, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.settle();
    this.closed = true;
    clearTimeout(this.timer);
    await this.writer.close();
    this.db.close();
  }
}
