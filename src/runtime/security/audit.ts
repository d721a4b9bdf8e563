/**
 * The security audit log: who called what, with which outcome — writes, refusals and predictions served by the
 * gateway. Tamper-evident: each record stores the SHA-256 of the previous record's hash plus its own content, so an
 * edited or deleted record breaks the chain at that point (`cleave audit verify`). Records are queued in memory and
 * committed in groups (one transaction per `flushIntervalMs`); each group reads the chain's head inside an IMMEDIATE
 * transaction, so several gateway processes sharing a data dir extend one chain. Retention deletes old records and
 * keeps the hash of the last deleted one as the anchor the remaining chain starts from.
 */
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Statement } from "better-sqlite3";
import { type Db, openDatabase } from "../native/sqlite";
import { Throttle } from "../throttle";

export interface AuditRecord {
  identity: string;
  method: string;
  route: string;
  operation: string;
  status: number;
  outcome: string;
  model?: string;
  modelVersion?: string;
  decisionId?: string;
  requestId?: string;
}

// Records are stored a committed group per row (one insert per flush instead of one per record: the per-record
// cost is what every audited request pays); each line of a group is `seq \t at \t hash \t record-JSON`, and a
// record's `prev` is the hash on the line before it (the group's first line follows the previous group's last).
// Since migration 2 a group's text is stored zstd-compressed in `packed` (and `lines` is empty): every prediction
// is audited, and compressed the log is a fifth of the bytes to write, checkpoint and keep.
const MIGRATIONS = [
  `CREATE TABLE audit_block (first_seq INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL, last_hash TEXT NOT NULL, last_at TEXT NOT NULL, lines TEXT NOT NULL);
   CREATE TABLE audit_anchor (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL)`,
  `ALTER TABLE audit_block ADD COLUMN packed BLOB`,
];

interface BlockRow {
  lines: string;
  packed: Uint8Array | null;
}

const blockText = (row: BlockRow) => (row.packed ? Bun.zstdDecompressSync(row.packed).toString() : row.lines);

const GENESIS = "0".repeat(64);
export const MAX_QUEUE = 100_000;

export const auditPath = (dataDir: string) => join(dataDir, "audit", "audit.db");

export const chainHash = (prev: string, seq: number, at: string, record: string) =>
  createHash("sha256").update(`${prev}\n${seq}\n${at}\n${record}`).digest("hex");

/** The same hash with one reusable hasher: the writer computes one per audited request. */
const hasher = new Bun.CryptoHasher("sha256");
const fastChainHash = (prev: string, seq: number, at: string, record: string) =>
  hasher.update(`${prev}\n${seq}\n${at}\n${record}`).digest("hex");

export interface StoredRecord {
  seq: number;
  at: string;
  hash: string;
  record: string;
}

function parseLines(lines: string): StoredRecord[] {
  return lines.split("\n").map((line) => {
    const [seq, at, hash, ...rest] = line.split("\t");
    return { seq: Number(seq), at, hash, record: rest.join("\t") };
  });
}

/** Every stored record in order, for inspection (`record` is the JSON text that was hashed). */
export function readAuditRecords(file: string): StoredRecord[] {
  const db = openDatabase(file, { migrations: MIGRATIONS });
  try {
    return (db.prepare("SELECT lines, packed FROM audit_block ORDER BY first_seq").all() as BlockRow[]).flatMap((b) => parseLines(blockText(b)));
  } finally {
    db.close();
  }
}

/** Longest string field kept: a caller controls paths, ids and model names, and must not bloat the audit log. */
const MAX_FIELD = 256;

function clipped(record: AuditRecord): AuditRecord {
  for (const v of Object.values(record)) {
    if (typeof v === "string" && v.length > MAX_FIELD) {
      const out: Record<string, unknown> = { ...record };
      for (const [k, x] of Object.entries(out)) if (typeof x === "string" && x.length > MAX_FIELD) out[k] = `${x.slice(0, MAX_FIELD)}…`;
      return out as unknown as AuditRecord;
    }
  }
  return record;
}

/** Where a failed write is reported (a pino logger, or the writer thread's message to the main thread). */
export interface WriteErrorLog {
  error(obj: { err: unknown; records: number }, msg: string): void;
}

/** A record as it is hashed and stored: its JSON, with over-long fields clipped. */
export const serializeRecord = (record: AuditRecord): string => JSON.stringify(clipped(record));

const FAILURE_LOG_MS = 10_000;

export class AuditLog {
  private readonly db: Db;
  private readonly statements: Record<"head" | "anchor" | "insert", Statement<unknown[]>>;
  /** Time (ms) and the record's JSON (clipped), as hashed and stored. */
  private queue: { at: number; json: string }[] = [];
  private timer?: ReturnType<typeof setInterval>;
  private retentionTimer?: ReturnType<typeof setInterval>;
  dropped = 0;
  private readonly failureLog = new Throttle(FAILURE_LOG_MS);

  constructor(
    file: string,
    private readonly opts: { flushIntervalMs: number; retentionDays: number; log: WriteErrorLog },
  ) {
    mkdirSync(join(file, ".."), { recursive: true, mode: 0o700 });
    this.db = openDatabase(file, { migrations: MIGRATIONS });
    this.statements = {
      head: this.db.prepare("SELECT last_seq AS seq, last_hash AS hash FROM audit_block ORDER BY first_seq DESC LIMIT 1"),
      anchor: this.db.prepare("SELECT seq, hash FROM audit_anchor WHERE id = 1"),
      insert: this.db.prepare("INSERT INTO audit_block (first_seq, last_seq, last_hash, last_at, lines, packed) VALUES (?, ?, ?, ?, '', ?)"),
    };
    this.timer = setInterval(() => this.flush(), opts.flushIntervalMs);
    this.timer.unref?.();
    this.retentionTimer = setInterval(() => this.applyRetention(), 3_600_000);
    this.retentionTimer.unref?.();
    this.applyRetention();
  }

  /** `at`: when the audited request was answered (ms), if earlier than now (records reach a writer thread later). */
  append(record: AuditRecord, at = Date.now()): void {
    this.appendSerialized(at, serializeRecord(record));
  }

  /** A record already through `serializeRecord` (the writer thread receives them so). */
  appendSerialized(at: number, json: string): void {
    if (this.queue.length >= MAX_QUEUE) {
      // The disk is not keeping up (or is full): count what is lost rather than grow without bound.
      this.dropped++;
      return;
    }
    this.queue.push({ at, json });
  }

  flush(): void {
    if (!this.queue.length) return;
    const batch = this.queue;
    this.queue = [];
    try {
      this.db
        .transaction(() => {
          const head = (this.statements.head.get() ?? this.statements.anchor.get()) as { seq: number; hash: string } | undefined;
          const first = (head?.seq ?? 0) + 1;
          let seq = first - 1;
          let prev = head?.hash ?? GENESIS;
          const lines: string[] = [];
          let at = "";
          let atMs = NaN;
          for (const r of batch) {
            seq++;
            // Dozens of records share a millisecond at load: one conversion each.
            if (r.at !== atMs) at = new Date((atMs = r.at)).toISOString();
            const hash = fastChainHash(prev, seq, at, r.json);
            lines.push(`${seq}\t${at}\t${hash}\t${r.json}`);
            prev = hash;
          }
          this.statements.insert.run(first, seq, prev, at, Bun.zstdCompressSync(lines.join("\n"), { level: 1 }));
        })
        .immediate();
    } catch (err) {
      this.queue = batch.concat(this.queue).slice(0, MAX_QUEUE);
      // Retried at every flush; reported once per FAILURE_LOG_MS (a full disk failed 8 times a second).
      const attempts = this.failureLog.pass();
      if (attempts) this.opts.log.error({ err, records: this.queue.length }, `audit records could not be written (${attempts} attempts); retrying`);
    }
  }

  /**
   * Deletes groups whose newest record is past retention; the last deleted record's hash becomes the anchor the
   * remaining chain is verified from.
   */
  applyRetention(now = Date.now()): number {
    const cutoff = new Date(now - this.opts.retentionDays * 86_400_000).toISOString();
    return this.db
      .transaction(() => {
        const last = this.db.prepare("SELECT last_seq AS seq, last_hash AS hash FROM audit_block WHERE last_at < ? ORDER BY first_seq DESC LIMIT 1").get(cutoff) as
          | { seq: number; hash: string }
          | undefined;
        if (!last) return 0;
        this.db.prepare("INSERT INTO audit_anchor (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash").run(last.seq, last.hash);
        const deleted = this.db.prepare("SELECT coalesce(sum(last_seq - first_seq + 1), 0) AS n FROM audit_block WHERE last_seq <= ?").get(last.seq) as { n: number };
        this.db.prepare("DELETE FROM audit_block WHERE last_seq <= ?").run(last.seq);
        return deleted.n;
      })
      .immediate();
  }

  close(): void {
    clearInterval(this.timer);
    clearInterval(this.retentionTimer);
    this.flush();
    this.db.close();
  }
}

export interface VerifyResult {
  ok: boolean;
  records: number;
  firstSeq?: number;
  lastSeq?: number;
  /** Hash of the last record. */
  head?: string;
  /** The first record that does not fit the chain, and why. */
  broken?: { seq: number; reason: string };
}

/** Walks the chain from its anchor: every record must name its predecessor's hash and hash to what it stores. */
export function verifyAuditChain(file: string): VerifyResult {
  const db = openDatabase(file, { migrations: MIGRATIONS });
  try {
    const anchor = db.prepare("SELECT seq, hash FROM audit_anchor WHERE id = 1").get() as { seq: number; hash: string } | undefined;
    let prev = anchor?.hash ?? GENESIS;
    let expectedSeq = (anchor?.seq ?? 0) + 1;
    let records = 0;
    let firstSeq: number | undefined;
    let lastSeq: number | undefined;
    const fail = (seq: number, reason: string): VerifyResult => ({ ok: false, records, firstSeq, lastSeq, broken: { seq, reason } });
    for (const block of db.prepare("SELECT lines, packed FROM audit_block ORDER BY first_seq").iterate() as Iterable<BlockRow>) {
      for (const r of parseLines(blockText(block))) {
        firstSeq ??= r.seq;
        if (r.seq !== expectedSeq) return fail(r.seq, `record ${expectedSeq} is missing`);
        if (chainHash(prev, r.seq, r.at, r.record) !== r.hash) return fail(r.seq, "content does not match its hash (edited)");
        prev = r.hash;
        lastSeq = r.seq;
        expectedSeq++;
        records++;
      }
    }
    return { ok: true, records, firstSeq, lastSeq, head: records ? prev : undefined };
  } finally {
    db.close();
  }
}
