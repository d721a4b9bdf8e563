/**
 * The event log as a JetStream stream (NATS bus): an event is acknowledged once JetStream has stored it, and its id
 * goes as `Nats-Msg-Id`, so a repeat within the stream's duplicate window is answered with the original's sequence
 * and not stored twice. The stream sequence is the log position, so every ingestion replica serves the same reads.
 * Messages are plain JSON, readable by any NATS client.
 */
import { DeliverPolicy, jetstream, jetstreamManager, type Consumer, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { LoggedEvent } from "./contract";
import type { ValidEvent } from "./events";
import type { Appended, EventLog } from "./log";

export interface JetStreamLogOptions {
  deployment: string;
  retentionHours: number;
  dedupWindowSeconds: number;
}

export const logStreamName = (deployment: string) => `CLEAVE_${deployment.replace(/[^A-Za-z0-9_-]/g, "_")}_INGEST`;
export const logSubject = (deployment: string) => `cleave.${deployment}.ingest.log`;

export class JetStreamLog implements EventLog {
  readonly kind = "jetstream" as const;
  private readonly js: JetStreamClient;
  private headSeq = 0;
  /** One positioned ordered consumer, reused while reads continue where the last one stopped. */
  private consumer?: Consumer;
  private nextSeq = 0;
  private readChain: Promise<unknown> = Promise.resolve();
  private appendWaiters: (() => void)[] = [];

  private constructor(
    nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly subject: string,
  ) {
    this.js = jetstream(nc);
  }

  static async open(nc: NatsConnection, opts: JetStreamLogOptions): Promise<JetStreamLog> {
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
    const log = new JetStreamLog(nc, jsm, stream, subject);
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

  async append(events: ValidEvent[]): Promise<Appended[]> {
    // All publishes in flight at once: JetStream acknowledges each after storing it, in pipeline.
    const acks = await Promise.all(
      events.map((e) =>
        this.js.publish(this.subject, JSON.stringify({ id: e.id, type: e.type, ts: e.ts, data: e.data }), { msgID: e.id }),
      ),
    );
    for (const a of acks) if (a.seq > this.headSeq) this.headSeq = a.seq;
    for (const w of this.appendWaiters.splice(0)) w();
    return acks.map((a) => ({ seq: a.seq, duplicate: a.duplicate }));
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
    const want = Math.min(max, this.headSeq - after);
    if (!this.consumer || this.nextSeq !== after + 1) {
      this.consumer = await this.js.consumers.get(this.stream, {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: after + 1,
      });
    }
    const out: LoggedEvent[] = [];
    const messages = await this.consumer.fetch({ max_messages: want, expires: 1000 });
    for await (const m of messages) {
      const e = m.json<Omit<LoggedEvent, "seq">>();
      out.push({ seq: m.seq, id: e.id, type: e.type, ts: e.ts, data: e.data });
      this.nextSeq = m.seq + 1;
    }
    return out;
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
  }
}
