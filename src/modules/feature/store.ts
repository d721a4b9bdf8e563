/**
 * The online store: entity states in SQLite, the hot ones cached in memory (LRU, bounded). Changed states and the
 * consumer's log position are committed in one transaction (a checkpoint), so after a crash the module resumes from
 * the position that matches its state and every event is counted exactly once. Checkpoint transactions run on a
 * SqliteWriter thread: writing every busy entity's state each second (and SQLite's WAL checkpoints after them)
 * stalled scoring for tens of milliseconds; states are encoded here and their bytes handed over without a copy.
 * A changed state is written as the events appended since its last write (a tail), and whole now and then: rewriting
 * every busy entity's whole history at each checkpoint made checkpoints grow with history, without bound.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { openDatabase, type Db } from "../../runtime/native/sqlite";
import { encodeRow, SqliteWriter, type WriterPart } from "../../runtime/native/sqlite-writer";
import type { FeaturePlan } from "./definitions";
import { Bloom } from "./bloom";
import { emptyState, type EntityState } from "./engine";
import { appendTail, decodeState, encodeState, firstAfter, suffixOf } from "./state-codec";
import { APPEND_TAIL, DROP_TAILS, FORGET, MIGRATIONS, REMOVE, SET_META, TOUCH, UPSERT, WRITER_STATEMENTS } from "./store-schema";

/** What of a state is on disk: its newest event, and how its row and tails are made up. */
interface Saved {
  ts: number;
  seq: number;
  baseEvents: number;
  tails: number;
  tailEvents: number;
}

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
  /** The state's events as last counted in the store's `heldEvents`. */
  held: number;
  saved?: Saved;
}

/** Entities examined per sweep: reading them is on the event loop, so a full pass takes many sweeps. */
const SWEEP_BATCH = 250;
/**
 * Entity states encoded per turn of the event loop (and written per transaction): at most this many, and no more
 * events than SLICE_EVENTS in all, so that a slice of busy merchants costs well under a millisecond too.
 */
const CHECKPOINT_SLICE = 16;
const SLICE_EVENTS = 1024;
/** A state is written whole when it has this many tails, or more events in them than in its row (and at least 64). */
const MAX_TAILS = 16;
const MIN_TAIL_EVENTS = 64;

/**
 * How a changed state will be written: whole, or as its events from index `from` on; `events` is how many that
 * encodes, what a checkpoint slice is bounded by (counting whole histories instead cut the slices of an entity with
 * a long history down to one state each, so a checkpoint's transactions grew with history).
 */
interface PendingWrite {
  whole: boolean;
  from: number;
  events: number;
}

function pendingWrite(c: Cached): PendingWrite {
  const s = c.state;
  const n = s.ts.length;
  const saved = c.saved;
  if (!saved || s.spliced) return { whole: true, from: 0, events: n };
  const from = firstAfter(s, saved.ts, saved.seq);
  const fresh = n - from;
  const whole = saved.tails >= MAX_TAILS || saved.tailEvents + fresh > Math.max(MIN_TAIL_EVENTS, saved.baseEvents);
  return whole ? { whole, from, events: n } : { whole, from, events: fresh };
}

export class OnlineStore {
  private readonly db: Db;
  private readonly file: string;
  /** One map per entity kind (plan order), keyed by entity id. */
  private readonly caches: Map<string, Cached>[];
  private dirty: { entity: number; c: Cached }[] = [];
  private clock = 0;
  private readonly load;
  private readonly loadTails;
  private readonly remove;
  private readonly removeTails;
  private readonly forget;
  private readonly writer: SqliteWriter;
  private sweepCursor: [string, string] = ["", ""];
  private storedCount = { at: 0, n: 0 };
  /** Events in the cached states, per entity kind, and the largest state changed since `memory()` last ran. */
  private readonly heldEvents: number[];
  private readonly largestChanged: number[];
  /** Keys ever stored since start (plus those on disk at start): a miss here skips the SQLite lookup. */
  private readonly stored: Bloom;

  constructor(dir: string, private readonly plan: FeaturePlan, private readonly maxCached: number) {
    this.file = join(dir, "features.sqlite");
    this.db = openDatabase(this.file, { migrations: MIGRATIONS });
    this.caches = plan.entities.map(() => new Map());
    this.heldEvents = plan.entities.map(() => 0);
    this.largestChanged = plan.entities.map(() => 0);
    this.load = this.db.prepare("SELECT state FROM entities WHERE kind = ? AND id = ?").pluck();
    this.loadTails = this.db.prepare("SELECT chunk FROM entity_tails WHERE kind = ? AND id = ? ORDER BY n").pluck();
    this.remove = this.db.prepare("DELETE FROM entities WHERE kind = ? AND id = ?");
    this.forget = this.db.prepare("DELETE FROM entity_seen WHERE kind = ? AND id = ?");
    this.removeTails = this.db.prepare("DELETE FROM entity_tails WHERE kind = ? AND id = ?");
    this.writer = new SqliteWriter(this.file, "NORMAL", WRITER_STATEMENTS);
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
    const baseEvents = state.ts.length;
    const tails = this.loadTails.all(kind, id) as Uint8Array[];
    for (const t of tails) appendTail(state, decodeState(t));
    const n = state.ts.length;
    const saved = n ? { ts: state.ts[n - 1], seq: state.seq[n - 1], baseEvents, tails: tails.length, tailEvents: n - baseEvents } : undefined;
    this.caches[entity].set(id, { id, state, dirty: false, used: ++this.clock, saved, held: n });
    this.heldEvents[entity] += n;
    return state;
  }

  /** The state to apply an event to, created empty for a new entity. */
  stateOf = (entity: number, id: string): EntityState => {
    const found = this.peek(entity, id);
    if (found) return found;
    const state = emptyState(this.plan.entities[entity].columns.length);
    this.caches[entity].set(id, { id, state, dirty: false, used: ++this.clock, held: 0 });
    return state;
  };

  touched = (entity: number, id: string): void => {
    const c = this.caches[entity].get(id)!;
    const n = c.state.ts.length;
    this.heldEvents[entity] += n - c.held;
    c.held = n;
    if (n > this.largestChanged[entity]) this.largestChanged[entity] = n;
    if (!c.dirty) {
      c.dirty = true;
      this.dirty.push({ entity, c });
    }
  };

  get pendingChanges(): number {
    return this.dirty.length;
  }

  /**
   * Commits changed states and the position they correspond to in one transaction, then trims the cache. States are
   * encoded and handed to the writer thread a slice at a time with the event loop free in between, so that hot
   * entities with long histories never stall scoring for a whole checkpoint; the thread writes each slice at once
   * into the open transaction. A crash before the commit leaves the previous checkpoint whole.
   */
  async checkpoint(cp: Checkpoint): Promise<void> {
    const batch = this.dirty;
    this.dirty = [];
    const group = this.writer.group();
    try {
      for (let i = 0; i < batch.length; ) {
        if (i > 0) await new Promise((resolve) => setImmediate(resolve));
        // Each state's write is planned once: the plan bounds the slice and is what `encode` then carries out.
        const plans: PendingWrite[] = [];
        for (let events = 0; i + plans.length < batch.length && plans.length < CHECKPOINT_SLICE && events < SLICE_EVENTS; ) {
          const plan = pendingWrite(batch[i + plans.length].c);
          plans.push(plan);
          events += plan.events;
        }
        const slice = this.encode(batch.slice(i, i + plans.length), plans);
        if (slice) group.add(slice.parts, slice.blob);
        i += plans.length;
      }
      const meta: [string, number][] = [
        ["position", cp.position],
        ["watermark", Number.isFinite(cp.watermark) ? cp.watermark : -1e300],
        ["applied", cp.applied],
        ["lateDropped", cp.lateDropped],
      ];
      group.add([{ statement: SET_META, lines: meta.map(encodeRow).join("\n") }]);
    } catch (err) {
      group.rollback();
      this.unwritten(batch);
      throw err;
    }
    try {
      await group.commit();
    } catch (err) {
      this.unwritten(batch);
      throw err;
    }
    this.evictClean();
  }

  /** A checkpoint that did not commit: its states are written again by the next one, whole. */
  private unwritten(batch: { entity: number; c: Cached }[]): void {
    for (const d of batch) {
      d.c.saved = undefined;
      if (!d.c.dirty) {
        d.c.dirty = true;
        this.dirty.push(d);
      }
    }
  }

  /**
   * A slice of changed states as the writer's rows, their bytes in one buffer to transfer: each as the events
   * appended since its last write, or whole (new, spliced, or with enough tails), as `plans[k]` says for `slice[k]`.
   * Undefined when none of them has anything to store.
   */
  private encode(slice: { entity: number; c: Cached }[], plans: PendingWrite[]): { parts: WriterPart[]; blob?: Uint8Array<ArrayBuffer> } | undefined {
    const rows: string[][] = [[], [], [], [], [], [], []];
    // Whole states and tails share one buffer, transferred to the writer thread with the rows that point into it.
    const bytes: Buffer[] = [];
    let size = 0;
    const put = (encoded: Buffer) => {
      bytes.push(encoded);
      size += encoded.length;
      return { $blob: [size - encoded.length, encoded.length] };
    };
    for (const [k, { entity, c }] of slice.entries()) {
      const kind = this.plan.entities[entity].name;
      const s = c.state;
      const n = s.ts.length;
      // Encoded as they are now, events since included: clean until their next change.
      c.dirty = false;
      if (n === 0) {
        rows[REMOVE].push(encodeRow([kind, c.id]));
        rows[DROP_TAILS].push(encodeRow([kind, c.id]));
        rows[FORGET].push(encodeRow([kind, c.id]));
        c.saved = undefined;
        continue;
      }
      const last = { ts: s.ts[n - 1], seq: s.seq[n - 1] };
      const saved = c.saved;
      const { from, whole } = plans[k];
      const fresh = n - from;
      // Only expiry since the last write: what is on disk is the same state with older events, dropped at load.
      if (saved && !s.spliced && fresh === 0) continue;
      // (A state never saved is always written whole; `!saved` spells that out for the type checker.)
      if (whole || !saved) {
        rows[UPSERT].push(encodeRow([kind, c.id, put(encodeState(s))]));
        rows[DROP_TAILS].push(encodeRow([kind, c.id]));
        rows[TOUCH].push(encodeRow([kind, c.id, last.ts]));
        c.saved = { ...last, baseEvents: n, tails: 0, tailEvents: 0 };
        s.spliced = false;
        this.stored.add(`${kind}\u0001${c.id}`);
      } else {
        rows[APPEND_TAIL].push(encodeRow([kind, c.id, saved.tails + 1, put(encodeState(suffixOf(s, from)))]));
        rows[TOUCH].push(encodeRow([kind, c.id, last.ts]));
        c.saved = { ...last, baseEvents: saved.baseEvents, tails: saved.tails + 1, tailEvents: saved.tailEvents + fresh };
      }
    }
    // A buffer of its own (not from Buffer's shared pool): transferring it hands its whole ArrayBuffer over.
    const blob = new Uint8Array(size);
    let offset = 0;
    for (const b of bytes) {
      blob.set(b, offset);
      offset += b.length;
    }
    // Whole states before their old tails go, tails after the rows they extend.
    const order = [UPSERT, DROP_TAILS, REMOVE, FORGET, APPEND_TAIL, TOUCH];
    const parts = order.filter((st) => rows[st].length > 0).map((st) => ({ statement: st, lines: rows[st].join("\n") }));
    if (parts.length === 0) return undefined; // only expiries since the last write: nothing to store
    return { parts, blob: size > 0 ? blob : undefined };
  }

  /**
   * Deletes entities with no event left inside their retention, so disk stays bounded by active entities. Walks the
   * table in key order a slice at a time (no index to maintain on every write); a full pass takes many calls, and
   * `passDone` says this one reached the end of the table.
   */
  sweep(watermark: number): { removed: number; passDone: boolean } {
    const rows = this.db
      .prepare("SELECT kind, id, last_ts FROM entity_seen WHERE (kind, id) > (?, ?) ORDER BY kind, id LIMIT ?")
      .all(this.sweepCursor[0], this.sweepCursor[1], SWEEP_BATCH) as { kind: string; id: string; last_ts: number }[];
    this.sweepCursor = rows.length < SWEEP_BATCH ? ["", ""] : [rows[rows.length - 1].kind, rows[rows.length - 1].id];
    const byName = new Map(this.plan.entities.map((e, i) => [e.name, i]));
    let removed = 0;
    this.db.transaction(() => {
      for (const r of rows) {
        const i = byName.get(r.kind);
        const e = i === undefined ? undefined : this.plan.entities[i];
        const cached = i === undefined ? undefined : this.caches[i].get(r.id);
        if (cached?.dirty) continue;
        // A cached state is newer than its stored row while a checkpoint is writing it (no longer dirty, not yet
        // committed): its own newest event decides then. An entity kind no longer defined has no use either.
        const n = cached ? cached.state.ts.length : 0;
        const lastTs = n > 0 ? Math.max(r.last_ts, cached!.state.ts[n - 1]) : r.last_ts;
        if (e && lastTs >= watermark - e.retentionMs - this.plan.allowedLatenessMs) continue;
        if (cached) {
          this.caches[i!].delete(r.id);
          this.heldEvents[i!] -= cached.held;
        }
        removed += this.remove.run(r.kind, r.id).changes;
        this.removeTails.run(r.kind, r.id);
        this.forget.run(r.kind, r.id);
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
    for (const [entity, m] of this.caches.entries()) {
      for (const [id, c] of m) {
        if (toEvict <= 0) return;
        if (!c.dirty && c.used <= threshold) {
          m.delete(id);
          this.heldEvents[entity] -= c.held;
          toEvict--;
        }
      }
    }
  }

  /**
   * What the cached states hold, per entity kind, for the module's gauges: kept as events are applied, since a
   * pass over a full cache at each scrape stalled the event loop (1–1.5 ms per 12k states). `largest` is the
   * largest state changed since the previous call: hot entities change all the time.
   */
  memory(): { kind: string; entities: number; events: number; largest: number }[] {
    return this.plan.entities.map((e, i) => {
      const largest = this.largestChanged[i];
      this.largestChanged[i] = 0;
      return { kind: e.name, entities: this.caches[i].size, events: this.heldEvents[i], largest };
    });
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
