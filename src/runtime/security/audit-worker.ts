/**
 * Audit writer thread: owns the audit file (audit.ts) so that hashing and committing records never run
 * on the gateway's event loop, which only queues them (audit-writer.ts). Retention runs here too. Listed in
 * scripts/build.ts as an extra entry point of the compiled binary.
 *
 * Protocol: {type:"open", file, options} → {type:"ready"} | {type:"error", message};
 * {type:"write", lines, count} → {type:"written", count, dropped}; {type:"close"} → {type:"closed"};
 * write failures (which the log retries) → {type:"error", message, records}.
 */
import { AuditLog, type WriteErrorLog } from "./audit";

declare const self: Worker;

export type AuditWorkerRequest =
  | { type: "open"; file: string; options: { flushIntervalMs: number; retentionDays: number } }
  /** One record per line: `at` (ms) TAB the record's JSON from serializeRecord (JSON text has no raw newline). */
  | { type: "write"; lines: string; count: number }
  | { type: "close" };
export type AuditWorkerReply =
  | { type: "ready" }
  | { type: "written"; count: number; dropped: number }
  | { type: "closed" }
  | { type: "error"; message: string; records?: number };

let audit: AuditLog | undefined;
const reply = (msg: AuditWorkerReply) => self.postMessage(msg);

self.onmessage = (event: MessageEvent<AuditWorkerRequest>) => {
  const msg = event.data;
  try {
    if (msg.type === "open") {
      const log: WriteErrorLog = { error: ({ err, records }) => reply({ type: "error", message: (err as Error)?.message ?? String(err), records }) };
      audit = new AuditLog(msg.file, { ...msg.options, log });
      reply({ type: "ready" });
    } else if (msg.type === "write") {
      for (const line of msg.lines.split("\n")) {
        const tab = line.indexOf("\t");
        audit!.appendSerialized(Number(line.slice(0, tab)), line.slice(tab + 1));
      }
      audit!.flush();
      reply({ type: "written", count: msg.count, dropped: audit!.dropped });
    } else {
      audit?.close();
      reply({ type: "closed" });
    }
  } catch (err) {
    reply({ type: "error", message: (err as Error).message });
  }
};
