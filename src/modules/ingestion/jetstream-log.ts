/**
 * The event log as a JetStream stream (NATS bus): an event is acknowledged once JetStream has stored it, and its id
 * goes as `Nats-Msg-Id`, so a repeat within the stream's duplicate window is answered with the original's sequence
 * and not stored twice. The stream sequence is the log position, so every ingestion replica serves the same reads.
 * Messages are plain JSON, readable by any NATS client.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type Consumer, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { createInbox, type NatsConnection } from "@nats-io/transport-node";
import { type JetStreamPublisher, wireHeaders } from "../../runtime/bus/jetstream-publisher";
import type { LoggedEvent } from "./contract";
import type { ValidEvent } from "./events";
import { READ_BUDGET_BYTES, type Appended, type EventLog } from "./log";

export interface JetStreamLogOptions {
  deployment: string;
  retentionHours: number;
  dedupWindowSeconds: number;
}

const INACTIVE_CONSUMER_NS = 60 * 1_000_000_000;
/** Events a read may pass over on its consumer instead of positioning a new one. */
const SKIP_AHEAD = 20_000;

export const logStreamName = (deployment: string) => `CLEAVE_${deployment.replace(/[^A-Za-z0-9_-]/g, "_")}_INGEST`;
export const logSubject = (deployment: string) => `cleave.${deployment}.ingest.log`;

export class JetStreamLog implements EventLog {
  readonly kind = "jetstream" as const;
  private readonly js: JetStreamClient;
  private headSeq = 0;
  /**
   * One positioned consumer, reused while reads continue where the last one stopped or a little further (the
   * feature module skips events it has applied; SKIP_AHEAD). A read elsewhere gets a new one and the old one is
   * deleted: nats.js's ordered consumers lived on for five idle minutes, and hundreds of them on the stream made
   * every append cost the server more (measured: 561 consumers after 40 s of scoring).
   */
  private consumer?: Consumer;
  private consumerName?: string;
  private readonly consumerPrefix = `read_${createInbox().slice(-12).replace(/[^A-Za-z0-9]/g, "")}`;
  private consumers = 0;
  private nextSeq = 0;
  private avgBytes = 256;
  private readChain: Promise<unknown> = Promise.resolve();
  private appendWaiters: (() => void)[] = [];

  private constructor(
    nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly subject: string,
    private readonly publisher: JetStreamPublisher,
  ) {
    this.js = jetstream(nc);
  }

  static async open(nc: NatsConnection, publisher: JetStreamPublisher, opts: JetStreamLogOptions): Promise<JetStreamLog> {
    const jsm = await jetstreamManager(nc);
    const stream = logStreamName(opts.deployment);
    const subject = logSubject(opts.deployment);
    const config = {
      name: stream,
      subjects: [subject],
      max_age: Math.round(opts.retentionHours * 3600) * 1_000_000_000,
      duplicate_window: opts.dedupWindowSeconds * 1_000_000_000,
    };
    try {
      await jsm.streams.info(stream);
      await jsm.streams.update(stream, config);
    } catch {
      await jsm.streams.add(config);
    }
    const log = new JetStreamLog(nc, jsm, stream, subject, publisher);
    await log.refreshHead();
    return log;
  }

  head(): number {
    return this.headSeq;
  }

  private async refreshHead() {
    const info = await this.jsm.streams.info(this.stream);
    if (info.state.last_seq > this.headSeq) this.headSeq = info.state.last_seq;
  }

  /** Publishes every event at once and resolves when JetStream has acknowledged all of them as stored. */
  async append(events: ValidEvent[]): Promise<Appended[]> {
    const appended = await Promise.all(
      events.map((e) => {
        // Validation refused ids with a line break, which a header cannot hold.
        const h = wireHeaders([["Nats-Msg-Id", e.id]]);
        const body = JSON.stringify({ id: e.id, type: e.type, ts: e.ts, data: e.data });
        return this.publisher.publish(this.subject, body, h, `event ${e.id}`);
      }),
    );
    for (const a of appended) if (a.seq > this.headSeq) this.headSeq = a.seq;
    for (const w of this.appendWaiters.splice(0)) w();
    return appended;
  }

  read(after: number, max: number, waitMs: number): Promise<LoggedEvent[]> {
    // Reads share one positioned consumer, so they run one at a time.
    const run = this.readChain.then(() => this.readNow(after, max, waitMs));
    this.readChain = run.catch(() => {});
    return run;
  }

  private async readNow(after: number, max: number, waitMs: number): Promise<LoggedEvent[]> {
    if (after >= this.headSeq) {
      // Another replica may have appended: ask the stream, waking early if this process appends meanwhile.
      if (waitMs > 0) await this.waitForAppend(Math.min(waitMs, 100));
      await this.refreshHead();
      if (after >= this.headSeq) return [];
    }
    // Ask for about as many messages as fit the byte budget, judging by the sizes seen so far.
    const want = Math.max(1, Math.min(max, this.headSeq - after, Math.floor(READ_BUDGET_BYTES / this.avgBytes)));
    // A reader a little ahead of the consumer (it skipped events it has): pass over them here rather than position
    // a new consumer, which costs the server more the longer the stream.
    const gap = after + 1 - this.nextSeq;
    const skip = this.consumer && gap > 0 && gap <= SKIP_AHEAD ? gap : 0;
    const consumer = this.consumer && (gap === 0 || skip > 0) ? this.consumer : await this.position(after + 1);
    const out: LoggedEvent[] = [];
    let bytes = 0;
    try {
      const messages = await consumer.fetch({ max_messages: want + skip, expires: 1000 });
      for await (const m of messages) {
        this.nextSeq = m.seq + 1;
        if (m.seq <= after) continue;
        bytes += m.data.length;
        this.avgBytes = 0.9 * this.avgBytes + 0.1 * m.data.length;
        // Over budget (larger events than estimated): answer what fits; the next read starts after it.
        if (bytes > READ_BUDGET_BYTES && out.length) continue;
        const e = m.json<Omit<LoggedEvent, "seq">>();
        out.push({ seq: m.seq, id: e.id, type: e.type, ts: e.ts, data: e.data });
      }
    } catch (err) {
      // The server drops a consumer that sat idle past its inactive threshold (ConsumerNotFoundError): the next
      // read positions a new one instead of failing on the old one for good.
      this.consumer = undefined;
      throw err;
    }
    return out;
  }

  private async position(startSeq: number): Promise<Consumer> {
    const old = this.consumerName;
    this.consumer = undefined;
    if (old) void this.jsm.consumers.delete(this.stream, old).catch(() => {});
    const name = `${this.consumerPrefix}_${++this.consumers}`;
    await this.jsm.consumers.add(this.stream, {
      name,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: startSeq,
      ack_policy: AckPolicy.None,
      mem_storage: true,
      num_replicas: 1,
      // A safety net for a process that dies without deleting it.
      inactive_threshold: INACTIVE_CONSUMER_NS,
    });
    this.consumerName = name;
    this.consumer = await this.js.consumers.get(this.stream, name);
    this.nextSeq = startSeq;
    return this.consumer;
  }

  private waitForAppend(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.appendWaiters = this.appendWaiters.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.appendWaiters.push(done);
    });
  }

  async close(): Promise<void> {
    for (const w of this.appendWaiters.splice(0)) w();
    await this.readChain;
    if (this.consumerName) await this.jsm.consumers.delete(this.stream, this.consumerName).catch(() => {});
  }
}
