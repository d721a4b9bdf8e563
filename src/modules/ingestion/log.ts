/** What the ingestion module needs of its durable log, whichever store backs it (SQLite or JetStream). */
import type { LoggedEvent } from "./contract";
import type { ValidEvent } from "./events";

/** A read answer stays below this many bytes of events, so it fits one NATS message (1 MB) with room to spare. */
export const READ_BUDGET_BYTES = 700_000;

/** Where an event landed: its log position, and whether its id was already there. */
export interface Appended {
  seq: number;
  duplicate: boolean;
}

export interface EventLog {
  readonly kind: "sqlite" | "jetstream";
  /** Durably stores the events (in order) and resolves only once they are safe. */
  append(events: ValidEvent[]): Promise<Appended[]>;
  /** Events with seq > after, in order, at most `max`; waits up to `waitMs` when there are none yet. */
  read(after: number, max: number, waitMs: number): Promise<LoggedEvent[]>;
  /** Highest seq known to be stored. */
  head(): number;
  close(): Promise<void>;
}
