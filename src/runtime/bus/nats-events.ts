/**
 * The NATS transport's events: `cleave.<deployment>.evt.<module>.<event>`, captured by one JetStream stream per
 * deployment. Durable subscribers are JetStream durable consumers and resume where they left off; the others are
 * core subscriptions. Publishing waits for JetStream's acknowledgement (./jetstream-publisher.ts): the event is
 * stored, and a repeated id is dropped (the id travels as `Nats-Msg-Id`, JetStream's deduplication key).
 *
 * Events without an id published to one subject in one turn are stored as one message (a ./nats-batch.ts frame, each
 * item's token its traceparent, header `Cleave-Events: <count>`): the publisher's write and acknowledgement, the
 * server's store and delivery and each durable reader's ack are paid once per batch. Every decision is an event, so
 * this was a fifth of the split deployment's CPU per score. An event with an id always travels alone, so that
 * JetStream still recognises a repeat of it; it is stored at once, so it may land ahead of id-less events published
 * earlier in the same turn (order holds among the events with an id, and among those without).
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import { decode, encode } from "../codec";
import { CleaveError, unavailable } from "../errors";
import { type JetStreamPublisher, wireHeaders } from "./jetstream-publisher";
import type { Logger } from "../log";
import { TurnBatcher } from "../turn-batcher";
import { type BatchItem, batchItemSize, batchItemsLimit, decodeBatch, encodeBatch } from "./nats-batch";
import { type EventEnvelope, type EventHandler, type SubscribeOptions, wireTraceparent } from "./transport";

const H_TRACE = "traceparent";
const H_MSG_ID = "Nats-Msg-Id";
const H_BATCH = "Cleave-Events";

const NEWLINE = /[\r\n]/;

/** One stored message's events: a batch's items in publish order, or the message itself. */
function readEvents(data: Uint8Array, h: MsgHdrs | undefined): EventEnvelope[] {
  if (!h?.get(H_BATCH)) return [{ payload: decode(data), id: h?.get(H_MSG_ID) || undefined, traceparent: h?.get(H_TRACE) || undefined }];
  return decodeBatch(data).map((item) => ({ payload: decode(item.body), traceparent: item.token || undefined }));
}

/** An event waiting for the end of the turn; its token is its traceparent. */
interface Queued extends BatchItem {
  event: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class NatsEvents {
  private readonly js: JetStreamClient;
  private streamReady?: Promise<void>;
  private ready = false;
  private readonly batches = new TurnBatcher<Queued>(
    () => batchItemsLimit(this.maxBody()),
    batchItemSize,
    (subject, items) => this.send(subject, items),
  );

  constructor(
    private readonly nc: NatsConnection,
    private readonly deployment: string,
    private readonly limits: { maxAgeSeconds: number; maxBytes: number },
    /** The largest event body one message can carry. */
    private readonly maxBody: () => number,
    private readonly publisher: JetStreamPublisher,
    private readonly log: Logger,
  ) {
    this.js = jetstream(nc);
  }

  private subject(event: string) {
    return `cleave.${this.deployment}.evt.${event}`;
  }

  private get streamName() {
    return `CLEAVE_${this.deployment.replace(/[^A-Za-z0-9_-]/g, "_")}_EVENTS`;
  }

  private ensureStream(): Promise<void> {
    this.streamReady ??= (async () => {
      const jsm = await jetstreamManager(this.nc);
      const config = {
        name: this.streamName,
        subjects: [`cleave.${this.deployment}.evt.>`],
        max_age: this.limits.maxAgeSeconds * 1_000_000_000,
        max_bytes: this.limits.maxBytes,
        duplicate_window: 120 * 1_000_000_000,
      };
      try {
        await jsm.streams.info(this.streamName);
        await jsm.streams.update(this.streamName, config);
      } catch {
        await jsm.streams.add(config);
      }
      this.ready = true;
    })().catch((err) => {
      this.streamReady = undefined;
      throw unavailable(`JetStream is not available on this NATS server: ${(err as Error).message}`);
    });
    return this.streamReady;
  }

  async publish(event: string, envelope: EventEnvelope): Promise<void> {
    if (!this.ready) await this.ensureStream();
    const body = encode(envelope.payload);
    if (body.byteLength > this.maxBody()) {
      // Several durable groups may read an event at any later time, so it cannot go through the transient spill.
      throw new CleaveError("PAYLOAD_TOO_LARGE", `event ${event} is ${body.byteLength} bytes, over NATS max_payload`);
    }
    const traceparent = wireTraceparent(envelope);
    if (envelope.id === undefined) {
      return new Promise((resolve, reject) => this.batches.add(this.subject(event), { token: traceparent ?? "", body, event, resolve, reject }));
    }
    if (NEWLINE.test(envelope.id)) throw new CleaveError("INVALID_ARGUMENT", "an event id cannot contain a line break");
    await this.store(this.subject(event), body, wireHeaders([[H_TRACE, traceparent], [H_MSG_ID, envelope.id]]), `event ${event}`);
  }

  /** A turn's events to one subject: one message, or the event's own when it is alone. */
  private send(subject: string, items: Queued[]) {
    const [first] = items;
    const stored =
      items.length === 1
        ? this.store(subject, first.body, wireHeaders([[H_TRACE, first.token]]), `event ${first.event}`)
        : this.store(subject, encodeBatch(items), wireHeaders([[H_BATCH, String(items.length)]]), `${items.length} events ${first.event}`);
    stored.then(
      () => items.forEach((i) => i.resolve()),
      (err) => items.forEach((i) => i.reject(err)),
    );
  }

  private async store(subject: string, body: Uint8Array, h: MsgHdrs | undefined, what: string): Promise<void> {
    try {
      await this.publisher.publish(subject, body, h, what);
    } catch (err) {
      // The stream was deleted under us: the next publish makes it again.
      if (err instanceof CleaveError && (err.details as { noStream?: boolean } | undefined)?.noStream) {
        this.streamReady = undefined;
        this.ready = false;
      }
      throw err;
    }
  }

  async subscribe(event: string, handler: EventHandler, opts: SubscribeOptions): Promise<() => Promise<void>> {
    const subject = this.subject(event);
    if (!opts.durable) {
      const sub = this.nc.subscribe(subject, {
        queue: `${this.deployment}.${opts.group}`,
        callback: (err, msg) => {
          if (err) return;
          let events: EventEnvelope[];
          try {
            events = readEvents(msg.data, msg.headers);
          } catch (e) {
            return this.log.error({ err: e, event }, "unreadable event message dropped");
          }
          for (const e of events) handler(e).catch((failure) => this.log.error({ err: failure, event }, "event handler failed"));
        },
      });
      return async () => void (await sub.drain());
    }
    await this.ensureStream();
    const jsm = await jetstreamManager(this.nc);
    const durable = `${opts.group}__${event}`.replace(/[^A-Za-z0-9_-]/g, "_");
    try {
      await jsm.consumers.info(this.streamName, durable);
    } catch {
      await jsm.consumers.add(this.streamName, {
        durable_name: durable,
        filter_subject: subject,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: opts.from === "all" ? DeliverPolicy.All : DeliverPolicy.New,
        ack_wait: 30 * 1_000_000_000,
      });
    }
    const consumer = await this.js.consumers.get(this.streamName, durable);
    const messages = await consumer.consume();
    void (async () => {
      for await (const m of messages) {
        let events: EventEnvelope[];
        try {
          events = readEvents(m.data, m.headers);
        } catch (err) {
          // Redelivering cannot make it readable.
          this.log.error({ err, event }, "unreadable event message dropped");
          m.term();
          continue;
        }
        try {
          // A batch is acknowledged as one: when a handler fails, the whole message (its earlier events too) comes again.
          for (const e of events) await handler(e);
          m.ack();
        } catch (err) {
          this.log.error({ err, event, redelivery: m.info.deliveryCount }, "durable event handler failed; redelivering");
          m.nak(Math.min(30_000, 500 * m.info.deliveryCount));
        }
      }
    })();
    return async () => void (await messages.close());
  }
}
