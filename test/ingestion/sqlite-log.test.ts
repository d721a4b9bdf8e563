/**
 * The embedded event log's WAL checkpoints run on their own thread, never inside a commit: a commit on the event loop
 * that crossed SQLite's automatic-checkpoint threshold copied the WAL and fsynced in place, stalling scoring for
 * 2–10 ms several times a second. Real SQLite files.
 */
import { afterAll, expect, test } from "bun:test";
import Database from "better-sqlite3";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../src/runtime/log";
import { SqliteLog } from "../../src/modules/ingestion/sqlite-log";

const dir = mkdtempSync(join(tmpdir(), "cleave-sqlite-log-"));
const log = createLogger({ level: "silent", name: "test" });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const events = (n: number, from: number) =>
  Array.from({ length: n }, (_, i) => ({ index: i, id: `e${from + i}`, type: "tx", ts: 1_700_000_000_000 + from + i, data: { pad: "x".repeat(1000), i: from + i } }));

test("a commit leaves the WAL to the checkpoint thread, which copies it into the file while the log is idle", async () => {
  const file = join(dir, "log.sqlite");
  const sqlite = new SqliteLog(dir, "process", log);
  const before = statSync(file).size;
  // ~5 MB in one commit: past SQLite's default automatic checkpoint (1000 pages), which would copy it at once.
  const appended = await sqlite.append(events(5000, 0));
  expect(appended.map((a) => a.seq)).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
  expect(statSync(`${file}-wal`).size).toBeGreaterThan(4_000_000);
  expect(statSync(file).size).toBe(before);

  // No commit from here on: only the checkpoint thread can move the events into the file.
  const deadline = Date.now() + 5_000;
  while (statSync(file).size < 4_000_000 && Date.now() < deadline) await Bun.sleep(50);
  expect(statSync(file).size).toBeGreaterThan(4_000_000);

  await sqlite.close();
  const reopened = new SqliteLog(dir, "process", log);
  try {
    expect(reopened.head()).toBe(5000);
    const read = await reopened.read(4990, 100, 0);
    expect(read.map((e) => e.id)).toEqual(Array.from({ length: 10 }, (_, i) => `e${4990 + i}`));
    expect(read[9].data).toEqual({ pad: "x".repeat(1000), i: 4999 });
  } finally {
    await reopened.close();
  }
});

test("trimming keeps the newest event, so a reopened log goes on from its seq", async () => {
  const own = mkdtempSync(join(dir, "trim-"));
  const first = new SqliteLog(own, "process", log);
  await first.append(events(10, 0));
  // Everything is past the retention and read by every consumer: all but the newest go.
  expect(first.trim(Date.now() + 60_000, first.head() + 1)).toBe(9);
  await first.close();
  const reopened = new SqliteLog(own, "process", log);
  try {
    expect(reopened.head()).toBe(10);
    expect((await reopened.append(events(2, 100))).map((a) => a.seq)).toEqual([11, 12]);
    expect((await reopened.read(0, 10, 0)).map((e) => [e.seq, e.id])).toEqual([[10, "e9"], [11, "e100"], [12, "e101"]]);
    // A repeated id keeps its first seq and takes none.
    expect(await reopened.append(events(1, 100))).toEqual([{ seq: 11, duplicate: true }]);
    expect((await reopened.append(events(1, 200)))[0].seq).toBe(13);
  } finally {
    await reopened.close();
  }
});

test("a log from before seqs were given by the log (AUTOINCREMENT) keeps its events and never reuses a seq", async () => {
  // The first schema, as released: its sequence lives in sqlite_sequence.
  const v1 = `CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
    ts INTEGER NOT NULL, data TEXT NOT NULL, received INTEGER NOT NULL);`;
  for (const emptied of [false, true]) {
    const own = mkdtempSync(join(dir, "v1-"));
    const db = new Database(join(own, "log.sqlite"));
    db.pragma("journal_mode = WAL");
    db.exec(v1);
    db.pragma("user_version = 1");
    const insert = db.prepare("INSERT INTO events (id, type, ts, data, received) VALUES (?, 'tx', 1, '{\"i\":1}', 1)");
    for (let i = 0; i < 5; i++) insert.run(`old${i}`);
    if (emptied) db.exec("DELETE FROM events");
    db.close();

    const migrated = new SqliteLog(own, "process", log);
    try {
      expect(migrated.head()).toBe(5);
      const kept = await migrated.read(0, 10, 0);
      expect(kept.map((e) => e.id)).toEqual(emptied ? [] : ["old0", "old1", "old2", "old3", "old4"]);
      expect((await migrated.append(events(2, 0))).map((a) => a.seq)).toEqual([6, 7]);
    } finally {
      await migrated.close();
    }
  }
});
