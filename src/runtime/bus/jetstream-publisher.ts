/**
 * Acknowledged JetStream publishing for everything one connection stores: the bus's events and ingestion's log.
 * Acknowledgements come back on one inbox subscription, matched by reply suffix: what js.publish does with a request
 * object, a mux subscription entry and a header parse per message, which was a fifth of a publishing process's CPU.
 * Deadlines are checked by one sweep while anything waits, not a timer per message.
 */
import { createInbox, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { type CleaveError, unavailable } from "../errors";

const textEncoder = new TextEncoder();

/**
 * Headers written straight to their wire form (pairs without a value are left out). nats-core's publish only calls
 * `encode()` on the headers it is given; its own MsgHdrs canonicalizes and searches keys on every `set`, a tenth of
 * a publishing process's CPU when every decision is an event. The caller makes sure no value holds a line break.
 */
export function wireHeaders(pairs: [string, string | undefined][]): MsgHdrs | undefined {
  let text = "";
  for (const [key, value] of pairs) if (value) text += `\r\n${key}: ${value}`;
  if (!text) return undefined;
  const bytes = textEncoder.encode(`NATS/1.0${text}\r\n\r\n`);
  return { encode: () => bytes } as unknown as MsgHdrs;
}

/** JetStream's answer: where the message is stored, and whether it was a repeated id (then: where the first is). */
export interface PubAck {
  seq: number;
  duplicate: boolean;
}

interface Pending {
  what: string;
  subject: string;
  deadline: number;
  resolve: (ack: PubAck) => void;
  reject: (err: CleaveError) => void;
}

const SWEEP_MS = 250;

export class JetStreamPublisher {
  private readonly inbox = createInbox();
  /** In publish order, so in deadline order: a sweep stops at the first one still in time. */
  private readonly pending = new Map<string, Pending>();
  private next = 0;
  private sweeper?: ReturnType<typeof setInterval>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 5_000,
  ) {
    nc.subscribe(`${this.inbox}.*`, { callback: (err, msg) => void (err || this.acked(msg)) });
  }

  /**
   * Publishes to a subject a stream captures and resolves once JetStream has stored it. `what` names the message in
   * errors. A subject no stream captures fails with details `{ noStream: true }`.
   */
  publish(subject: string, body: Uint8Array | string, headers: MsgHdrs | undefined, what: string): Promise<PubAck> {
    const token = (this.next++).toString(36);
    return new Promise<PubAck>((resolve, reject) => {
      this.pending.set(token, { what, subject, deadline: Date.now() + this.timeoutMs, resolve, reject });
      this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS);
      try {
        this.nc.publish(subject, body, { reply: `${this.inbox}.${token}`, headers });
      } catch (err) {
        this.settle(token, unavailable(`${what} not published: ${(err as Error).message}`));
      }
    });
  }

  /** The server refused a publish to `subject` (permissions): its publishers fail now, with the server's reason. */
  refused(subject: string, reason: string): void {
    for (const [token, p] of this.pending) if (p.subject === subject) this.settle(token, unavailable(`${p.what} not published: ${reason}`));
  }

  /** Publishers still waiting fail now rather than at their deadline. */
  close(): void {
    for (const [token, p] of this.pending) this.settle(token, unavailable(`bus closed before JetStream acknowledged ${p.what}`));
  }

  private acked(msg: Msg) {
    const token = msg.subject.slice(this.inbox.length + 1);
    const p = this.pending.get(token);
    if (!p) return;
    // No stream captures the subject (deleted under us): the server answers with an empty 503 status message.
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      return this.settle(token, unavailable(`no JetStream stream stores ${p.what}`, { noStream: true }));
    }
    let ack: { seq?: number; duplicate?: boolean; error?: { description?: string } };
    try {
      ack = msg.json();
    } catch {
      return this.settle(token, unavailable(`JetStream refused ${p.what}: unreadable acknowledgement`));
    }
    if (ack.error || ack.seq === undefined) {
      return this.settle(token, unavailable(`JetStream refused ${p.what}: ${ack.error?.description ?? "no sequence in its acknowledgement"}`));
    }
    this.settle(token, undefined, { seq: ack.seq, duplicate: ack.duplicate === true });
  }

  private settle(token: string, err: CleaveError | undefined, ack?: PubAck) {
    const p = this.pending.get(token);
    if (!p) return;
    this.pending.delete(token);
    if (err) p.reject(err);
    else p.resolve(ack!);
    if (this.pending.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private sweep() {
    const now = Date.now();
    for (const [token, p] of this.pending) {
      if (p.deadline > now) break;
      this.settle(token, unavailable(`JetStream did not acknowledge ${p.what} within ${this.timeoutMs} ms`));
    }
  }
}
