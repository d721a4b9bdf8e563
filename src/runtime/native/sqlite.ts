/**
 * SQLite for module-owned storage (better-sqlite3): WAL so readers never block the writer, and versioned schema
 * migrations applied in one transaction at open, recorded in `PRAGMA user_version`.
 */
import Database from "better-sqlite3";

export type Db = Database.Database;

export interface OpenOptions {
  /** Ordered DDL steps; step i brings the schema from version i to i+1. Never edit a released step: append. */
  migrations: string[];
  /** `FULL` fsyncs every commit; `NORMAL` (default) in WAL mode loses at most the last commits on power loss. */
  synchronous?: "FULL" | "NORMAL";
}

export function openDatabase(file: string, opts: OpenOptions): Db {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${opts.synchronous ?? "NORMAL"}`);
  db.pragma("busy_timeout = 5000");
  db.pragma("foreign_keys = ON");
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > opts.migrations.length) {
    db.close();
    throw new Error(`${file} has schema version ${current}, newer than this build knows (${opts.migrations.length})`);
  }
  db.transaction(() => {
    for (let v = current; v < opts.migrations.length; v++) db.exec(opts.migrations[v]);
    db.pragma(`user_version = ${opts.migrations.length}`);
  })();
  return db;
}
