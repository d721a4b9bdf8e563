/**
 * The SQLite writer thread's write groups: pieces handed over one by one are committed as one transaction, all or
 * nothing, against a real file read back on another connection.
 */
import { afterAll, expect, test } from "bun:test";
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeRow, SqliteWriter } from "../../src/runtime/native/sqlite-writer";

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const INSERT = 0;

function open() {
  const dir = mkdtempSync(join(tmpdir(), "cleave-writer-"));
  dirs.push(dir);
  const file = join(dir, "w.sqlite");
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)");
  const writer = new SqliteWriter(file, "NORMAL", ["INSERT INTO t (k, v) VALUES (?, ?)"]);
  const count = () => (db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n;
  return { db, writer, count };
}

const rows = (from: number, to: number) => ({
  statement: INSERT,
  lines: Array.from({ length: to - from }, (_, i) => encodeRow([from + i, `v${from + i}`])).join("\n"),
});

test("a group's pieces are invisible until its commit, then all there; its blobs bind as bytes", async () => {
  const { db, writer, count } = open();
  const group = writer.group();
  group.add([rows(0, 100)]);
  group.add([{ statement: INSERT, lines: encodeRow([100, { $blob: [1, 3] }]) }], new Uint8Array([9, 1, 2, 3, 9]));
  // The pieces are written on the thread inside the open transaction: another connection sees none of them.
  await Bun.sleep(50);
  expect(count()).toBe(0);
  await group.commit();
  expect(count()).toBe(101);
  expect([...(db.prepare("SELECT v FROM t WHERE k = 100").pluck().get() as Uint8Array)]).toEqual([1, 2, 3]);
  // The writer takes single writes again once the group has ended.
  await writer.write(INSERT, rows(200, 201).lines);
  expect(count()).toBe(102);
  await writer.close();
  db.close();
});

test("a piece that fails fails the whole group at its commit, naming the error, and nothing of it stays", async () => {
  const { db, writer, count } = open();
  const group = writer.group();
  group.add([rows(0, 50)]);
  group.add([rows(49, 60)]); // k = 49 again: a constraint failure in the second piece
  group.add([rows(60, 70)]);
  await expect(group.commit()).rejects.toThrow("UNIQUE constraint failed");
  expect(count()).toBe(0);
  // The next group starts clean.
  const next = writer.group();
  next.add([rows(0, 10)]);
  await next.commit();
  expect(count()).toBe(10);
  await writer.close();
  db.close();
});

test("a rolled-back group leaves nothing; other requests are refused while a group is open", async () => {
  const { db, writer, count } = open();
  const group = writer.group();
  group.add([rows(0, 10)]);
  expect(() => writer.group()).toThrow("already open");
  await expect(writer.write(INSERT, rows(10, 11).lines)).rejects.toThrow("a write group is open");
  group.rollback();
  expect(() => group.add([rows(20, 21)])).toThrow("has ended");
  await writer.write(INSERT, rows(30, 31).lines);
  expect(count()).toBe(1);
  await writer.close();
  db.close();
});
