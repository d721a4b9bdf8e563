/**
 * What crosses the API boundary for errors that are not Cleave's own: a generic 500 for faults, but a full disk is
 * the deployment's state, so 503 with the reason (and no paths or SQL).
 */
import { expect, test } from "bun:test";
import Database from "better-sqlite3";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toCleaveError } from "../../src/runtime/errors";

test("SQLite's full-disk error is a 503 saying storage is full; other errors are a generic 500", () => {
  const db = new Database(join(mkdtempSync(join(tmpdir(), "cleave-errors-")), "full.sqlite"));
  // A database capped at a few pages fails as a full disk does: SQLITE_FULL, "database or disk is full".
  db.exec("CREATE TABLE t (x BLOB)");
  db.pragma("max_page_count = 8");
  let full: unknown;
  try {
    for (let i = 0; i < 100; i++) db.prepare("INSERT INTO t VALUES (?)").run(Buffer.alloc(4096));
  } catch (err) {
    full = err;
  }
  expect((full as { code?: string }).code).toBe("SQLITE_FULL");
  const mapped = toCleaveError(full);
  expect(mapped.code).toBe("UNAVAILABLE");
  expect(mapped.message).toContain("storage is full");
  expect(mapped.details).toEqual({ retryAfterSeconds: 5 });

  let other: unknown;
  try {
    db.prepare("INSERT INTO missing VALUES (1)").run();
  } catch (err) {
    other = err;
  }
  expect(toCleaveError(other).code).toBe("INTERNAL");
  expect(toCleaveError(other).message).toBe("internal error");
  db.close();
});
