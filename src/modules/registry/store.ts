/**
 * The registry's SQLite state: models, versions, aliases and the append-only alias history. Every change is one
 * immediate transaction, so concurrent writers (other calls, other processes on the same file) are serialized and
 * a crash leaves each change applied entirely or not at all.
 */
import { openDatabase, type Db } from "../../runtime/native/sqlite";
import { CleaveError, notFound } from "../../runtime/errors";
import type { AliasMove, Column, ModelSummary, TensorSignature, VersionRecord } from "./schemas";

const MIGRATIONS = [
  `CREATE TABLE models (
     name TEXT PRIMARY KEY,
     created_at TEXT NOT NULL,
     created_by TEXT NOT NULL
   );
   CREATE TABLE versions (
     model TEXT NOT NULL REFERENCES models(name),
     version INTEGER NOT NULL,
     digest TEXT NOT NULL,
     size INTEGER NOT NULL,
     created_at TEXT NOT NULL,
     created_by TEXT NOT NULL,
     approved_by TEXT,
     approved_at TEXT,
     approval_reason TEXT,
     sig_key_id TEXT,
     sig_public_key TEXT,
     sig_value TEXT,
     tensors TEXT NOT NULL,
     columns TEXT NOT NULL,
     metrics TEXT NOT NULL,
     tags TEXT NOT NULL,
     lineage TEXT NOT NULL,
     baseline TEXT,
     description TEXT NOT NULL,
     PRIMARY KEY (model, version),
     UNIQUE (model, digest)
   );
   CREATE TABLE aliases (
     model TEXT NOT NULL,
     alias TEXT NOT NULL,
     version INTEGER NOT NULL,
     updated_at TEXT NOT NULL,
     PRIMARY KEY (model, alias),
     FOREIGN KEY (model, version) REFERENCES versions(model, version)
   );
   CREATE TABLE alias_history (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     model TEXT NOT NULL,
     alias TEXT NOT NULL,
     action TEXT NOT NULL,
     from_version INTEGER,
     to_version INTEGER,
     actor TEXT NOT NULL,
     reason TEXT NOT NULL,
     at TEXT NOT NULL
   );
   CREATE INDEX alias_history_by_alias ON alias_history(model, alias, id);
   CREATE TRIGGER alias_history_no_update BEFORE UPDATE ON alias_history
     BEGIN SELECT RAISE(ABORT, 'alias history is append-only'); END;
   CREATE TRIGGER alias_history_no_delete BEFORE DELETE ON alias_history
     BEGIN SELECT RAISE(ABORT, 'alias history is append-only'); END;`,
  // The transactional outbox of events (see outbox.ts) and a per-database id for their idempotency keys.
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL, payload TEXT NOT NULL);`,
];

export interface NewVersion {
  digest: string;
  size: number;
  createdBy: string;
  signature: { keyId: string; publicKey: string; value: string } | null;
  tensors: TensorSignature;
  columns: Column[];
  metrics: Record<string, number>;
  tags: Record<string, string>;
  lineage: VersionRecord["lineage"];
  baseline: VersionRecord["baseline"];
  description: string;
}

interface VersionRow {
  model: string;
  version: number;
  digest: string;
  size: number;
  created_at: string;
  created_by: string;
  approved_by: string | null;
  approved_at: string | null;
  sig_key_id: string | null;
  sig_public_key: string | null;
  sig_value: string | null;
  tensors: string;
  columns: string;
  metrics: string;
  tags: string;
  lineage: string;
  baseline: string | null;
  description: string;
}

interface HistoryRow {
  id: number;
  model: string;
  alias: string;
  action: AliasMove["action"];
  from_version: number | null;
  to_version: number | null;
  actor: string;
  reason: string;
  at: string;
}

const now = () => new Date().toISOString();

export class RegistryStore {
  readonly db: Db;

  constructor(file: string) {
    // FULL: an acknowledged push, approval or alias move survives power loss, not only a process crash.
    this.db = openDatabase(file, { migrations: MIGRATIONS, synchronous: "FULL" });
  }

  close() {
    this.db.close();
  }

  /** Runs `fn` as one immediate transaction (the store's own methods nest inside it as savepoints). */
  atomically<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Runs `sweep` with the referenced digests while holding the write lock, so no push is half-way meanwhile. */
  withReferencedDigests<T>(sweep: (referenced: Set<string>) => T): T {
    return this.db.transaction(() => {
      const rows = this.db.prepare("SELECT DISTINCT digest FROM versions").all() as { digest: string }[];
      return sweep(new Set(rows.map((r) => r.digest)));
    }).immediate();
  }

  /**
   * Adds a version, or returns the existing one when this model already has these exact bytes. `storeBlob` runs
   * inside the write transaction, before the row: the artifact is durable before any version names it, and a
   * start-up sweep (which takes the same lock) can never see a blob between its rename and its row.
   */
  addVersion(model: string, v: NewVersion, storeBlob: () => void): { record: VersionRecord; created: boolean } {
    return this.db.transaction(() => {
      const existing = this.db.prepare("SELECT version FROM versions WHERE model = ? AND digest = ?").get(model, v.digest) as
        | { version: number }
        | undefined;
      if (existing) return { record: this.version(model, existing.version), created: false };
      storeBlob();
      const at = now();
      this.db.prepare("INSERT OR IGNORE INTO models (name, created_at, created_by) VALUES (?, ?, ?)").run(model, at, v.createdBy);
      const { next } = this.db.prepare("SELECT COALESCE(MAX(version), 0) + 1 AS next FROM versions WHERE model = ?").get(model) as {
        next: number;
      };
      this.db
        .prepare(
          `INSERT INTO versions (model, version, digest, size, created_at, created_by, sig_key_id, sig_public_key, sig_value,
             tensors, columns, metrics, tags, lineage, baseline, description)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          model, next, v.digest, v.size, at, v.createdBy, v.signature?.keyId ?? null, v.signature?.publicKey ?? null,
          v.signature?.value ?? null, JSON.stringify(v.tensors), JSON.stringify(v.columns), JSON.stringify(v.metrics),
          JSON.stringify(v.tags), JSON.stringify(v.lineage), v.baseline ? JSON.stringify(v.baseline) : null, v.description,
        );
      return { record: this.version(model, next), created: true };
    }).immediate();
  }

  private requireModel(model: string) {
    if (!this.db.prepare("SELECT 1 FROM models WHERE name = ?").get(model)) {
      throw notFound(`model "${model}" is not registered`, { model });
    }
  }

  version(model: string, version: number): VersionRecord {
    const row = this.db.prepare("SELECT * FROM versions WHERE model = ? AND version = ?").get(model, version) as VersionRow | undefined;
    if (!row) {
      this.requireModel(model);
      throw notFound(`model "${model}" has no version ${version}`, { model, version });
    }
    return this.toRecord(row);
  }

  aliasTarget(model: string, alias: string): number | null {
    const row = this.db.prepare("SELECT version FROM aliases WHERE model = ? AND alias = ?").get(model, alias) as { version: number } | undefined;
    return row?.version ?? null;
  }

  /** A ref is a version number or an alias name. */
  resolve(model: string, ref: string): VersionRecord {
    if (/^[0-9]+$/.test(ref)) return this.version(model, Number(ref));
    const target = this.aliasTarget(model, ref);
    if (target === null) {
      this.requireModel(model);
      throw notFound(`model "${model}" has no alias "${ref}"`, { model, alias: ref });
    }
    return this.version(model, target);
  }

  listModels(): ModelSummary[] {
    const names = this.db.prepare("SELECT name FROM models ORDER BY name").all() as { name: string }[];
    return names.map((n) => this.model(n.name));
  }

  model(name: string): ModelSummary {
    const m = this.db.prepare("SELECT name, created_at FROM models WHERE name = ?").get(name) as
      | { name: string; created_at: string }
      | undefined;
    if (!m) throw notFound(`model "${name}" is not registered`, { model: name });
    const stats = this.db.prepare("SELECT COUNT(*) AS n, MAX(version) AS latest FROM versions WHERE model = ?").get(name) as {
      n: number;
      latest: number;
    };
    const aliases = this.db.prepare("SELECT alias, version FROM aliases WHERE model = ? ORDER BY alias").all(name) as {
      alias: string;
      version: number;
    }[];
    return {
      name,
      createdAt: m.created_at,
      latestVersion: stats.latest ?? 0,
      versions: stats.n,
      aliases: Object.fromEntries(aliases.map((a) => [a.alias, a.version])),
    };
  }

  versions(model: string): VersionRecord[] {
    this.requireModel(model);
    const rows = this.db.prepare("SELECT * FROM versions WHERE model = ? ORDER BY version").all(model) as VersionRow[];
    return rows.map((r) => this.toRecord(r));
  }

  /** Marks a version approved; returns whether this call approved it (false: it already was). */
  approve(model: string, version: number, actor: string, reason: string): { record: VersionRecord; changed: boolean } {
    return this.db.transaction(() => {
      const current = this.version(model, version);
      if (current.approved) return { record: current, changed: false };
      this.db
        .prepare("UPDATE versions SET approved_by = ?, approved_at = ?, approval_reason = ? WHERE model = ? AND version = ?")
        .run(actor, now(), reason, model, version);
      return { record: this.version(model, version), changed: true };
    }).immediate();
  }

  /**
   * Points an alias at a version (null: removes it) and appends the move to the history, in one transaction.
   * `decide` sees the current target inside the transaction and returns the target to move to, or throws.
   */
  moveAlias(
    model: string,
    alias: string,
    action: AliasMove["action"],
    actor: string,
    reason: string,
    decide: (current: number | null) => number | null,
  ): AliasMove {
    return this.db.transaction(() => {
      this.requireModel(model);
      const from = this.aliasTarget(model, alias);
      const to = decide(from);
      const at = now();
      if (to === null) {
        this.db.prepare("DELETE FROM aliases WHERE model = ? AND alias = ?").run(model, alias);
      } else {
        this.db
          .prepare(
            `INSERT INTO aliases (model, alias, version, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`,
          )
          .run(model, alias, to, at);
      }
      const { lastInsertRowid } = this.db
        .prepare("INSERT INTO alias_history (model, alias, action, from_version, to_version, actor, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .run(model, alias, action, from, to, actor, reason, at);
      return { id: Number(lastInsertRowid), model, alias, action, fromVersion: from, toVersion: to, actor, reason, at };
    }).immediate();
  }

  /** The latest move of an alias, or null when it never moved. */
  lastMove(model: string, alias: string): AliasMove | null {
    const row = this.db.prepare("SELECT * FROM alias_history WHERE model = ? AND alias = ? ORDER BY id DESC LIMIT 1").get(model, alias) as
      | HistoryRow
      | undefined;
    return row ? toMove(row) : null;
  }

  history(model: string, alias: string, limit: number): AliasMove[] {
    this.requireModel(model);
    const rows = this.db
      .prepare("SELECT * FROM alias_history WHERE model = ? AND alias = ? ORDER BY id DESC LIMIT ?")
      .all(model, alias, limit) as HistoryRow[];
    if (!rows.length) throw notFound(`model "${model}" has no alias "${alias}" and never had one`, { model, alias });
    return rows.map(toMove);
  }

  private toRecord(row: VersionRow): VersionRecord {
    const aliases = this.db.prepare("SELECT alias FROM aliases WHERE model = ? AND version = ? ORDER BY alias").all(row.model, row.version) as {
      alias: string;
    }[];
    return {
      name: row.model,
      version: row.version,
      digest: row.digest,
      size: row.size,
      createdAt: row.created_at,
      createdBy: row.created_by,
      approved: row.approved_at !== null,
      approvedBy: row.approved_by,
      approvedAt: row.approved_at,
      signature:
        row.sig_value && row.sig_key_id && row.sig_public_key
          ? { algorithm: "ed25519", keyId: row.sig_key_id, publicKey: row.sig_public_key, value: row.sig_value }
          : null,
      tensors: JSON.parse(row.tensors),
      columns: JSON.parse(row.columns),
      aliases: aliases.map((a) => a.alias),
      metrics: JSON.parse(row.metrics),
      tags: JSON.parse(row.tags),
      lineage: JSON.parse(row.lineage),
      baseline: row.baseline ? JSON.parse(row.baseline) : null,
      description: row.description,
    };
  }
}

const toMove = (r: HistoryRow): AliasMove => ({
  id: r.id,
  model: r.model,
  alias: r.alias,
  action: r.action,
  fromVersion: r.from_version,
  toVersion: r.to_version,
  actor: r.actor,
  reason: r.reason,
  at: r.at,
});

export const conflict = (message: string, details?: unknown) => new CleaveError("CONFLICT", message, details);
