/**
 * Transactional outbox for the registry's events. An event row is written in the same SQLite transaction as the
 * change it announces, and published after commit; a row leaves the table only once the bus accepted it. So a
 * crash or a NATS outage after a commit delays an event (it goes out on the next flush or start) but never loses
 * it. Each event carries a stable id (`<database id>:<row id>`), so JetStream drops a repeat sent by a replica or
 * after a crash between publish and delete.
 */
import { randomUUID } from "node:crypto";
import type { Bus } from "../../runtime/bus/bus";
import type { Logger } from "../../runtime/log";
import type { Db } from "../../runtime/native/sqlite";
import { registryContract } from "./contract";

export type RegistryEvent = keyof typeof registryContract.events;

const RETRY_MS = 2_000;

export class Outbox {
  private readonly dbId: string;
  private running?: Promise<void>;
  private again = false;
  private retry?: ReturnType<typeof setTimeout>;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {
    db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('db_id', ?)").run(randomUUID());
    this.dbId = (db.prepare("SELECT value FROM meta WHERE key = 'db_id'").get() as { value: string }).value;
  }

  /** Call inside the transaction of the change the event announces. */
  enqueue(event: RegistryEvent, payload: object) {
    this.db.prepare("INSERT INTO outbox (event, payload) VALUES (?, ?)").run(event, JSON.stringify(payload));
  }

  /** Publishes every pending event in order; concurrent calls share one pass (and ask for another). */
  flush(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.publishPending();
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  private async publishPending() {
    const rows = this.db.prepare("SELECT id, event, payload FROM outbox ORDER BY id").all() as { id: number; event: RegistryEvent; payload: string }[];
    for (const row of rows) {
      if (this.stopped) return;
      try {
        await this.bus.publish(registryContract, row.event, JSON.parse(row.payload), { id: `${this.dbId}:${row.id}` });
      } catch (err) {
        this.log.warn({ err, event: row.event, pending: rows.length }, "registry event not published yet; retrying");
        clearTimeout(this.retry);
        this.retry = setTimeout(() => void this.flush(), RETRY_MS);
        return;
      }
      this.db.prepare("DELETE FROM outbox WHERE id = ?").run(row.id);
    }
  }

  pending(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM outbox").get() as { n: number }).n;
  }

  async stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.running;
  }
}
