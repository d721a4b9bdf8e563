/** The online store's tables (./store.ts), and the statements its writer thread runs, numbered as it calls them. */

export const MIGRATIONS = [
  `CREATE TABLE entities (
     kind TEXT NOT NULL,
     id TEXT NOT NULL,
     last_ts REAL NOT NULL,  -- newest event time in the state: an entity silent past its retention is deleted
     state BLOB NOT NULL,
     PRIMARY KEY (kind, id)
   ) WITHOUT ROWID;
   CREATE TABLE meta (key TEXT PRIMARY KEY, value REAL NOT NULL);`,
  // Events appended to an entity's state since its row in `entities` was written, in chunks numbered from 1.
  `CREATE TABLE entity_tails (
     kind TEXT NOT NULL,
     id TEXT NOT NULL,
     n INTEGER NOT NULL,
     chunk BLOB NOT NULL,
     PRIMARY KEY (kind, id, n)
   ) WITHOUT ROWID;`,
  // An entity's newest event time moves to a small row of its own: SQLite rewrites a record whole (overflow pages
  // and all) when any column changes, so updating it beside the state rewrote the whole state at every checkpoint
  // that only appended a tail (growing with history). Tails move to a rowid table: a new tail is appended at the
  // table's end instead of splitting a page of inline blobs at its key (~85 µs a tail once the table outgrew memory).
  `CREATE TABLE entity_seen (
     kind TEXT NOT NULL,
     id TEXT NOT NULL,
     last_ts REAL NOT NULL,  -- newest event time in the state: an entity silent past its retention is deleted
     PRIMARY KEY (kind, id)
   ) WITHOUT ROWID;
   INSERT INTO entity_seen (kind, id, last_ts) SELECT kind, id, last_ts FROM entities;
   ALTER TABLE entities DROP COLUMN last_ts;
   CREATE TABLE entity_tails_v3 (kind TEXT NOT NULL, id TEXT NOT NULL, n INTEGER NOT NULL, chunk BLOB NOT NULL, UNIQUE (kind, id, n));
   INSERT INTO entity_tails_v3 (kind, id, n, chunk) SELECT kind, id, n, chunk FROM entity_tails;
   DROP TABLE entity_tails;
   ALTER TABLE entity_tails_v3 RENAME TO entity_tails;`,
];

/** The writer thread's statements: `SqliteWriter.write(UPSERT, rows)` runs WRITER_STATEMENTS[UPSERT] per row. */
export const UPSERT = 0;
export const REMOVE = 1;
export const SET_META = 2;
export const APPEND_TAIL = 3;
export const DROP_TAILS = 4;
export const TOUCH = 5;
export const FORGET = 6;

export const WRITER_STATEMENTS: string[] = [];
WRITER_STATEMENTS[UPSERT] = "INSERT INTO entities (kind, id, state) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET state = excluded.state";
WRITER_STATEMENTS[REMOVE] = "DELETE FROM entities WHERE kind = ? AND id = ?";
WRITER_STATEMENTS[SET_META] = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)";
WRITER_STATEMENTS[APPEND_TAIL] = "INSERT OR REPLACE INTO entity_tails (kind, id, n, chunk) VALUES (?, ?, ?, ?)";
WRITER_STATEMENTS[DROP_TAILS] = "DELETE FROM entity_tails WHERE kind = ? AND id = ?";
WRITER_STATEMENTS[TOUCH] =
  "INSERT INTO entity_seen (kind, id, last_ts) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET last_ts = excluded.last_ts";
WRITER_STATEMENTS[FORGET] = "DELETE FROM entity_seen WHERE kind = ? AND id = ?";
