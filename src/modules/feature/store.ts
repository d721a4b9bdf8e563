/**
 * The online store: entity states in SQLite, the hot ones cached in memory (LRU, bounded). Changed states and the
 * consumer's log position are committed in one transaction (a checkpoint), so after a crash the module resumes from
 * the position that matches its state and every event is counted exactly once. Checkpoint transactions run on a
 * SqliteWriter thread: writing every busy entity's state each second (and SQLite's WAL checkpoints after them)
 * stalled scoring for tens of milliseconds; states are encoded here and their bytes handed over without a copy.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { openDatabase, type Db } from "../../runtime/native/sqlite";
import { encodeRow, SqliteWriter } from "../../runtime/native/sqlite-writer";
import type { FeaturePlan } from "./definitions";
import { Bloom } from "./bloom";
import { emptyState, type EntityState } from "./engine";

const MIGRATIONS = [
  `CREATE TABLE entities (
     kind TEXT NOT NULL,
     id TEXT NOT NULL,
     last_ts REAL NOT NULL,  -- newest event time in the state: an entity silent past its retention is deleted
     state BLOB NOT NULL,
     PRIMARY KEY (kind, id)
   ) WITHOUT ROWID;
   CREATE TABLE meta (key TEXT PRIMARY KEY, value REAL NOT NULL);`,
];

export interface Checkpoint {
  position: number;
  watermark: number;
  applied: number;
  lateDropped: number;
}

interface Cached {
  id: string;
  state: EntityState;
  /** Changed since the last checkpoint. */
  dirty: boolean;
  /** Clock value of the last use: approximate LRU without reordering the map on every access. */
  used: number;
}

/** Entities examined per sweep: reading them is on the event loop, so a full pass takes many sweeps. */
const SWEEP_BATCH = 250;
/**
 * Entity states encoded per turn of the event loop (and written per transaction): at most this many, and no more
 * events than SLICE_EVENTS in all, so that a slice of busy merchants costs well under a millisecond too.
 */
const CHECKPOINT_SLICE = 16;
const SLICE_EVENTS = 1024;
const UPSERT = 0;
const REMOVE = 1;
const SET_META = 2;

/**
 * State on disk: [u32 n][f64 ts × n][f64 seq × n][JSON of the columns]. Times and positions as raw doubles keep a
 * checkpoint cheap for entities with many events; the columns hold mixed values, so JSON.
 */
export function encodeState(s: EntityState): Buffer {
  const n = s.ts.length;
  const cols = Buffer.from(JSON.stringify(s.cols));
  const buf = Buffer.allocUnsafe(8 + 16 * n + cols.length);
  buf.writeUInt32LE(n, 0);
  const nums = new Float64Array(buf.buffer, buf.byteOffset + 8, 2 * n);
  for (let i = 0; i < n; i++) {
    nums[i] = s.ts[i];
    nums[n + i] = s.seq[i];
  }
  cols.copy(buf, 8 + 16 * n);
  return buf;
}

export function decodeState(buf: Uint8Array): EntityState {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = view.getUint32(0, true);
  const ts: number[] = new Array(n);
  const seq: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    ts[i] = view.getFloat64(8 + 8 * i, true);
    seq[i] = view.getFloat64(8 + 8 * (n + i), true);
  }
  const cols = JSON.parse(new TextDecoder().decode(buf.subarray(8 + 16 * n))) as EntityState["cols"];
  return { ts, seq, cols };
}

export class OnlineStore {
  private readonly db: Db;
  private readonly file: string;
  /** One map per entity kind (plan order), keyed by entity id. */
  private readonly caches: Map<string, Cached>[];
  private dirty: { entity: number; c: Cached }[] = [];
  private clock = 0;
  private readonly load;
  private readonly remove;
  private readonly writer: SqliteWriter;
  private sweepCursor: [string, string] = ["", ""];
  private storedCount = { at: 0, n: 0 };
  /** Keys ever stored since start (plus those on disk at start): a miss here skips the SQLite lookup. */
  private readonly stored: Bloom;

  constructor(dir: string, private readonly plan: FeaturePlan, private readonly maxCached: number) {
    this.file = join(dir, "features.sqlite");
    this.db = openDatabase(this.file, { migrations: MIGRATIONS });
    this.caches = plan.entities.map(() => new Map());
    this.load = this.db.prepare("SELECT state FROM entities WHERE kind = ? AND id = ?").pluck();
    this.remove = this.db.prepare("DELETE FROM entities WHERE kind = ? AND id = ?");
    this.writer = new SqliteWriter(this.file, "NORMAL", [
      "INSERT INTO entities (kind, id, last_ts, state) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (kind, id) DO UPDATE SET last_ts = excluded.last_ts, state = excluded.state",
      "DELETE FROM entities WHERE kind = ? AND id = ?",
      "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
    ]);
    const count = this.db.prepare("SELECT count(*) FROM entities").pluck().get() as number;
    this.stored = new Bloom(Math.max(1_000_000, 2 * count));
    for (const r of this.db.prepare("SELECT kind, id FROM entities").raw().iterate() as Iterable<[string, string]>) {
      this.stored.add(`${r[0]}\u0001${r[1]}`);
    }
  }

  loadCheckpoint(): Checkpoint {
    const rows = this.db.prepare("SELECT key, value FROM meta").all() as { key: string; value: number }[];
    const m = Object.fromEntries(rows.map((r) => [r.key, r.value]));
    return { position: m.position ?? 0, watermark: m.watermark ?? -Infinity, applied: m.applied ?? 0, lateDropped: m.lateDropped ?? 0 };
  }

  private get cachedCount(): number {
    let n = 0;
    for (const m of this.caches) n += m.size;
    return n;
  }

  /** The state of an entity, or undefined when it has none (retrieval must not create entities). */
  peek(entity: number, id: string): EntityState | undefined {
    const hit = this.caches[entity].get(id);
    if (hit) {
      hit.used = ++this.clock;
      return hit.state;
    }
    const kind = this.plan.entities[entity].name;
    if (!this.stored.mightContain(`${kind}\u0001${id}`)) return undefined;
    const blob = this.load.get(kind, id) as Uint8Array | undefined;
    if (blob === undefined) return undefined;
    const state = decodeState(blob);
    this.caches[entity].set(id, { id, state, dirty: false, used: ++this.clock });
    return state;
  }

  /** The state to apply an event to, created empty for a new entity. */
  stateOf = (entity: number, id: string): EntityState => {
    const found = this.peek(entity, id);
    if (found) return found;
    const state = emptyState(this.plan.entities[entity].columns.length);
    this.caches[entity].set(id, { id, state, dirty: false, used: ++this.clock });
    return state;
  };

  touched = (entity: number, id: string): void => {
    const c = this.caches[entity].get(id)!;
    if (!c.dirty) {
      c.dirty = true;
      this.dirty.push({ entity, c });
    }
  };

  get pendingChanges(): number {
    return this.dirty.length;
  }

  /**
   * Commits changed states, then the position they correspond to, then trims the cache. States are written a slice
   * at a time with the event loop free in between, so that hot entities with long histories never stall scoring for
   * a whole checkpoint. A crash between slices leaves some states newer than the stored position: replaying from
   * that position applies those events again, and insertEvent ignores an event (seq) a state already has.
   */
  async checkpoint(cp: Checkpoint): Promise<void> {
    const batch = this.dirty;
    this.dirty = [];
    const writes: Promise<void>[] = [];
    for (let i = 0; i < batch.length; ) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      let end = i;
      for (let events = 0; end < batch.length && end - i < CHECKPOINT_SLICE && events < SLICE_EVENTS; end++) {
        events += batch[end].c.state.ts.length;
      }
      writes.push(this.write(batch.slice(i, end)));
      i = end;
    }
    // The position only after every state it covers is written: otherwise a crash could skip their events.
    const failed = (await Promise.allSettled(writes)).find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const meta: [string, number][] = [
      ["position", cp.position],
      ["watermark", Number.isFinite(cp.watermark) ? cp.watermark : -1e300],
      ["applied", cp.applied],
      ["lateDropped", cp.lateDropped],
    ];
    await this.writer.write(SET_META, meta.map(encodeRow).join("\n"));
    this.evictClean();
  }

  /** Hands a slice of changed states to the writer: one transaction, their bytes in one transferred buffer. */
  private write(slice: { entity: number; c: Cached }[]): Promise<void> {
    const parts: Buffer[] = [];
    const upserts: string[] = [];
    const removes: string[] = [];
    let offset = 0;
    for (const { entity, c } of slice) {
      const kind = this.plan.entities[entity].name;
      const n = c.state.ts.length;
      if (n === 0) removes.push(encodeRow([kind, c.id]));
      else {
        const bytes = encodeState(c.state);
        parts.push(bytes);
        upserts.push(encodeRow([kind, c.id, c.state.ts[n - 1], { $blob: [offset, bytes.length] }]));
        offset += bytes.length;
        this.stored.add(`${kind}\u0001${c.id}`);
      }
      // Encoded as they are now, events since included: clean until their next change.
      c.dirty = false;
    }
    // A buffer of its own (not from Buffer's shared pool): transferring it hands its whole ArrayBuffer over.
    const blob = new Uint8Array(offset);
    offset = 0;
    for (const p of parts) {
      blob.set(p, offset);
      offset += p.length;
    }
    const done = [upserts.length ? this.writer.write(UPSERT, upserts.join("\n"), blob) : undefined,
      removes.length ? this.writer.write(REMOVE, removes.join("\n")) : undefined];
    return Promise.all(done).then(
      () => undefined,
      (err) => {
        // Not written: still to be written by the next checkpoint (unless changed since, and so listed again).
        for (const d of slice) {
          if (!d.c.dirty) {
            d.c.dirty = true;
            this.dirty.push(d);
          }
        }
        throw err;
      },
    );
  }

  /**
   * Deletes entities with no event left inside their retention, so disk stays bounded by active entities. Walks the
   * table in key order a slice at a time (no index to maintain on every write); a full pass takes many calls, and
   * `passDone` says this one reached the end of the table.
   */
  sweep(watermark: number): { removed: number; passDone: boolean } {
    const rows = this.db
      .prepare("SELECT kind, id, last_ts FROM entities WHERE (kind, id) > (?, ?) ORDER BY kind, id LIMIT ?")
      .all(this.sweepCursor[0], this.sweepCursor[1], SWEEP_BATCH) as { kind: string; id: string; last_ts: number }[];
    this.sweepCursor = rows.length < SWEEP_BATCH ? ["", ""] : [rows[rows.length - 1].kind, rows[rows.length - 1].id];
    const byName = new Map(this.plan.entities.map((e, i) => [e.name, i]));
    let removed = 0;
    this.db.transaction(() => {
      for (const r of rows) {
        const i = byName.get(r.kind);
        const e = i === undefined ? undefined : this.plan.entities[i];
        // An entity kind no longer defined has no use either.
        if (e && r.last_ts >= watermark - e.retentionMs - this.plan.allowedLatenessMs) continue;
        const cached = i === undefined ? undefined : this.caches[i].get(r.id);
        if (cached?.dirty) continue;
        if (cached) this.caches[i!].delete(r.id);
        removed += this.remove.run(r.kind, r.id).changes;
      }
    })();
    return { removed, passDone: rows.length < SWEEP_BATCH };
  }

  /** States unused for longest leave memory first (approximately: by last-use clock); dirty ones stay. */
  private evictClean() {
    const excess = this.cachedCount - this.maxCached;
    if (excess <= 0) return;
    // Evict those used before the clock value below which about `excess` entries lie (estimated from a sample).
    const all = this.cachedCount;
    const stride = Math.ceil(all / 2000);
    const sample: number[] = [];
    let k = 0;
    for (const m of this.caches) for (const c of m.values()) if (k++ % stride === 0) sample.push(c.used);
    sample.sort((a, b) => a - b);
    const threshold = sample[Math.min(sample.length - 1, Math.floor((excess / all) * sample.length))];
    let toEvict = excess;
    for (const m of this.caches) {
      for (const [id, c] of m) {
        if (toEvict <= 0) return;
        if (!c.dirty && c.used <= threshold) {
          m.delete(id);
          toEvict--;
        }
      }
    }
  }

  /** Sizes for monitoring; the entity count (a table scan) is refreshed at most once a second. */
  stats(): { cached: number; stored: number; bytes: number } {
    if (Date.now() - this.storedCount.at > 1000) {
      this.storedCount = { at: Date.now(), n: this.db.prepare("SELECT count(*) FROM entities").pluck().get() as number };
    }
    const stored = this.storedCount.n;
    let bytes = 0;
    for (const f of [this.file, `${this.file}-wal`]) {
      try {
        bytes += statSync(f).size;
      } catch {
        // no WAL file yet
      }
    }
    return { cached: this.cachedCount, stored, bytes };
  }

  async close(): Promise<void> {
    await this.writer.close();
    this.db.close();
  }
}
