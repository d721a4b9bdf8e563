/**
 * The embedded event log's WAL checkpoints run on their own thread, never inside a commit: a commit on the event loop
 * that crossed SQLite's automatic-checkpoint threshold copied the WAL and fsynced in place, stalling scoring for
 * 2–10 ms several times a second. Real SQLite files.
 */
import { afterAll, expect, test } from "bun:test";
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
