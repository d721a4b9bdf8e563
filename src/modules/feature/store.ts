/**
 * The online store: entity states in SQLite, the hot ones cached in memory (LRU, bounded). Changed states and the
 * consumer's log position are committed in one transaction (a checkpoint), so after a crash the module resumes from
 * the position that matches its state and every event is counted exactly once.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { openDatabase, type Db } from "../../runtime/native/sqlite";
import type { FeaturePlan } from "./definitions";
import { emptyState, type EntityState } from "./engine";

const MIGRATIONS = [
  `CREATE TABLE entities (
     kind TEXT NOT NULL,
     id TEXT NOT NULL,
     last_ts REAL NOT NULL,  -- newest event time in the state: an entity silent past its retention is deleted
     state TEXT NOT NULL,
     PRIMARY KEY (kind, id)
   ) WITHOUT ROWID;
   CREATE INDEX entities_expiry ON entities(kind, last_ts);
   CREATE TABLE meta (key TEXT PRIMARY KEY, value REAL NOT NULL);`,
];

export interface Checkpoint {
  position: number;
  watermark: number;
  applied: number;
  lateDropped: number;
}

interface Cached {
  entity: number;
  id: string;
  state: EntityState;
}

const cacheKey = (entity: number, id: string) => `${entity}\u0001${id}`;

export class OnlineStore {
  private readonly db: Db;
  private readonly file: string;
  private readonly cache = new Map<string, Cached>();
  private readonly dirty = new Set<string>();
  private readonly load;
  private readonly upsert;
  private readonly remove;
  private readonly setMeta;

  constructor(dir: string, private readonly plan: FeaturePlan, private readonly maxCached: number) {
    this.file = join(dir, "features.sqlite");
    this.db = openDatabase(this.file, { migrations: MIGRATIONS });
    this.load = this.db.prepare("SELECT state FROM entities WHERE kind = ? AND id = ?").pluck();
    this.upsert = this.db.prepare(
      "INSERT INTO entities (kind, id, last_ts, state) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (kind, id) DO UPDATE SET last_ts = excluded.last_ts, state = excluded.state",
    );
    this.remove = this.db.prepare("DELETE FROM entities WHERE kind = ? AND id = ?");
    this.setMeta = this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
  }

  loadCheckpoint(): Checkpoint {
    const rows = this.db.prepare("SELECT key, value FROM meta").all() as { key: string; value: number }[];
    const m = Object.fromEntries(rows.map((r) => [r.key, r.value]));
    return { position: m.position ?? 0, watermark: m.watermark ?? -Infinity, applied: m.applied ?? 0, lateDropped: m.lateDropped ?? 0 };
  }

  /** The state of an entity, or undefined when it has none (retrieval must not create entities). */
  peek(entity: number, id: string): EntityState | undefined {
    const key = cacheKey(entity, id);
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit.state;
    }
    const text = this.load.get(this.plan.entities[entity].name, id) as string | undefined;
    if (text === undefined) return undefined;
    const state = JSON.parse(text) as EntityState;
    this.cache.set(key, { entity, id, state });
    this.evictClean();
    return state;
  }

  /** The state to apply an event to, created empty for a new entity. */
  stateOf = (entity: number, id: string): EntityState => {
    const found = this.peek(entity, id);
    if (found) return found;
    const state = emptyState(this.plan.entities[entity].columns.length);
    this.cache.set(cacheKey(entity, id), { entity, id, state });
    return state;
  };

  touched = (entity: number, id: string): void => {
    this.dirty.add(cacheKey(entity, id));
  };

  get pendingChanges(): number {
    return this.dirty.size;
  }

  /** Commits changed states together with the position they correspond to. */
  checkpoint(cp: Checkpoint): void {
    this.db.transaction(() => {
      for (const key of this.dirty) {
        const c = this.cache.get(key);
        if (!c) continue;
        const kind = this.plan.entities[c.entity].name;
        const n = c.state.ts.length;
        if (n === 0) this.remove.run(kind, c.id);
        else this.upsert.run(kind, c.id, c.state.ts[n - 1], JSON.stringify(c.state));
      }
      this.setMeta.run("position", cp.position);
      this.setMeta.run("watermark", Number.isFinite(cp.watermark) ? cp.watermark : -1e300);
      this.setMeta.run("applied", cp.applied);
      this.setMeta.run("lateDropped", cp.lateDropped);
    })();
    this.dirty.clear();
    this.evictClean();
  }

  /** Deletes entities with no event left inside their retention (disk stays bounded by active entities). */
  sweep(watermark: number): number {
    let removed = 0;
    const del = this.db.prepare("DELETE FROM entities WHERE kind = ? AND last_ts < ?");
    this.plan.entities.forEach((e, i) => {
      const cutoff = watermark - e.retentionMs - this.plan.allowedLatenessMs;
      removed += del.run(e.name, cutoff).changes;
      for (const [key, c] of this.cache) {
        const n = c.state.ts.length;
        if (c.entity === i && !this.dirty.has(key) && (n === 0 || c.state.ts[n - 1] < cutoff)) this.cache.delete(key);
      }
    });
    return removed;
  }

  /** Least recently used clean states leave memory first; dirty ones stay until the next checkpoint. */
  private evictClean() {
    if (this.cache.size <= this.maxCached) return;
    for (const key of this.cache.keys()) {
      if (this.cache.size <= this.maxCached) break;
      if (!this.dirty.has(key)) this.cache.delete(key);
    }
  }

  stats(): { cached: number; stored: number; bytes: number } {
    const stored = this.db.prepare("SELECT count(*) FROM entities").pluck().get() as number;
    let bytes = 0;
    for (const f of [this.file, `${this.file}-wal`]) {
      try {
        bytes += statSync(f).size;
      } catch {
        // no WAL file yet
      }
    }
    return { cached: this.cache.size, stored, bytes };
  }

  close(): void {
    this.db.close();
  }
}
