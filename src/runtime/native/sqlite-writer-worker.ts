/**
 * The thread behind SqliteWriter: its own connection to the file, the writer's statements prepared once, and each
 * batch it receives (one or several statements' rows) written in one transaction (or a WAL checkpoint run); a
 * group's pieces go into one transaction that stays open across messages until its commit. Answers every request
 * in the order received (a group's pieces get no answer: its commit does, for all of them).
 */
import Database from "better-sqlite3";
import type { WriterPart, WriterReply, WriterRequest } from "./sqlite-writer";

declare const self: Worker;

let db: Database.Database | undefined;
let run: ((parts: WriterPart[], blob: Uint8Array | undefined) => void) | undefined;
let write: ((parts: WriterPart[], blob: Uint8Array | undefined) => void) | undefined;
let failure: string | undefined;
/** The open group's transaction (SqliteWriter.group), and its first failure: later pieces are skipped, then rolled back. */
let group: { failed?: string } | undefined;

/** `{"$blob": [offset, length]}` binds those bytes of the batch's blob; other objects and arrays their JSON text. */
function bindable(params: unknown[], blob: Uint8Array | undefined): unknown[] {
  for (let i = 0; i < params.length; i++) {
    const p = params[i] as { $blob?: [number, number] } | null;
    if (p === null || typeof p !== "object") continue;
    params[i] = p.$blob && blob ? Buffer.from(blob.buffer, blob.byteOffset + p.$blob[0], p.$blob[1]) : JSON.stringify(p);
  }
  return params;
}

function handle(msg: WriterRequest): WriterReply | undefined {
  switch (msg.type) {
    case "open":
      try {
        db = new Database(msg.file);
        // The main thread created the file in WAL mode (a property of the file); these two are per connection.
        db.pragma(`synchronous = ${msg.synchronous}`);
        db.pragma("busy_timeout = 5000");
        const statements = msg.statements.map((sql) => db!.prepare(sql));
        run = (parts: WriterPart[], blob: Uint8Array | undefined) => {
          // One line per row: JSON text never holds a raw newline.
          for (const { statement, lines } of parts) {
            for (const line of lines.split("\n")) statements[statement].run(bindable(JSON.parse(line) as unknown[], blob));
          }
        };
        write = db.transaction(run);
      } catch (err) {
        failure = `cannot open ${msg.file}: ${(err as Error).message}`;
      }
      return undefined;
    case "write":
      try {
        if (!write) throw new Error(failure ?? "writer is closed");
        write(msg.parts, msg.blob);
        return { type: "done", id: msg.id };
      } catch (err) {
        return { type: "failed", id: msg.id, message: (err as Error).message };
      }
    case "add":
      if (!group) {
        group = {};
        try {
          if (!db || !run) throw new Error(failure ?? "writer is closed");
          db.exec("BEGIN IMMEDIATE");
        } catch (err) {
          group.failed = (err as Error).message;
        }
      }
      if (group.failed) return undefined;
      try {
        run!(msg.parts, msg.blob);
      } catch (err) {
        group.failed = (err as Error).message;
      }
      return undefined;
    case "commit": {
      const failed = group?.failed;
      group = undefined;
      try {
        if (failed) throw new Error(failed);
        if (db?.inTransaction) db.exec("COMMIT");
        return { type: "done", id: msg.id };
      } catch (err) {
        endTransaction();
        return { type: "failed", id: msg.id, message: (err as Error).message };
      }
    }
    case "rollback":
      group = undefined;
      endTransaction();
      return undefined;
    case "checkpoint":
      try {
        if (!db) throw new Error(failure ?? "writer is closed");
        const [done] = db.pragma("wal_checkpoint(PASSIVE)") as { log: number; checkpointed: number }[];
        if (done.log >= msg.restartFrames) db.pragma("wal_checkpoint(RESTART)");
        return { type: "done", id: msg.id };
      } catch (err) {
        return { type: "failed", id: msg.id, message: (err as Error).message };
      }
    case "close":
      db?.close();
      db = undefined;
      run = undefined;
      write = undefined;
      return { type: "done", id: msg.id };
  }
}

/** Rolls back the open transaction, if SQLite has not already (some errors, a full disk among them, end it). */
function endTransaction(): void {
  try {
    if (db?.inTransaction) db.exec("ROLLBACK");
  } catch {
    // Nothing left to undo.
  }
}

self.onmessage = (event: MessageEvent<WriterRequest>) => {
  const reply = handle(event.data);
  if (reply) self.postMessage(reply);
};
