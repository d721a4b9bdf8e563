/**
 * The NATS transport's events: `cleave.<deployment>.evt.<module>.<event>`, captured by one JetStream stream per
 * deployment. Durable subscribers are JetStream durable consumers and resume where they left off; the others are
 * core subscriptions. Publishing waits for JetStream's acknowledgement (./jetstream-publisher.ts): the event is
 * stored, and a repeated id is dropped (the id travels as `Nats-Msg-Id`, JetStream's deduplication key).
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import { decode, encode } from "../codec";
import { CleaveError, unavailable } from "../errors";
import type { JetStreamPublisher } from "./jetstream-publisher";
import type { Logger } from "../log";
import { type EventEnvelope, type EventHandler, type SubscribeOptions, wireTraceparent } from "./transport";

const H_TRACE = "traceparent";
const H_MSG_ID = "Nats-Msg-Id";

const textEncoder = new TextEncoder();
const NEWLINE = /[\r\n]/;

/**
 * An event's headers, written straight to their wire form. nats-core's publish only calls `encode()` on the
 * headers it is given; its own MsgHdrs canonicalizes and searches keys on every `set`, a tenth of a publishing
 * process's CPU when every decision is an event.
 */
function eventHeaders(traceparent: string | undefined, id: string | undefined): MsgHdrs | undefined {
  if (!traceparent && !id) return undefined;
  if (id !== undefined && NEWLINE.test(id)) throw new CleaveError("INVALID_ARGUMENT", "an event id cannot contain a line break");
  let text = "NATS/1.0";
  if (traceparent) text += `\r\n${H_TRACE}: ${traceparent}`;
  if (id) text += `\r\n${H_MSG_ID}: ${id}`;
  const bytes = textEncoder.encode(`${text}\r\n\r\n`);
  return { encode: () => bytes } as unknown as MsgHdrs;
}

function readEvent(data: Uint8Array, h: MsgHdrs | undefined): EventEnvelope {
  return { payload: decode(data), id: h?.get(H_MSG_ID) || undefined, traceparent: h?.get(H_TRACE) || undefined };
}

export class NatsEvents {
  private readonly js: JetStreamClient;
  private streamReady?: Promise<void>;
  private ready = false;
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
    const h = eventHeaders(wireTraceparent(envelope), envelope.id);
    try {
      await this.publisher.publish(this.subject(event), body, h, `event ${event}`);
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
          handler(readEvent(msg.data, msg.headers)).catch((e) => this.log.error({ err: e, event }, "event handler failed"));
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
        try {
          await handler(readEvent(m.data, m.headers));
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
