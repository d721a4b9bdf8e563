/**
 * The NATS transport. Operations are core request/reply on `cleave.<deployment>.<module>.<operation>`, served by a
 * queue group per module so N replicas share the load. Events go to `cleave.<deployment>.evt.<module>.<event>`,
 * captured by one JetStream stream per deployment; durable subscribers are JetStream durable consumers and resume
 * where they left off, the others are core subscriptions.
 */
import {
  type Authenticator,
  createInbox,
  credsAuthenticator,
  headers,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  nkeyAuthenticator,
} from "@nats-io/transport-node";
import { readFileSync } from "node:fs";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import { decode, encode } from "../codec";
import { CleaveError, deadlineExceeded, unavailable } from "../errors";
import type { Logger } from "../log";
import { decodeRequest, encodeRequest } from "./nats-frame";
import { connectNats } from "./nats-socket";
import { Spill } from "./nats-spill";
import { type Dispatch, type Envelope, type EventEnvelope, type EventHandler, type Reply, type SubscribeOptions, type Transport, wireTraceparent } from "./transport";

export interface NatsOptions {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
  /** Paths already resolved against the config file's directory. */
  nkeySeedFile?: string;
  credsFile?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  name: string;
  /** At start: give up (exit) or keep retrying while the server is unreachable. */
  onUnreachable: "exit" | "retry";
  connectTimeoutMs: number;
  /** JetStream stream limits for the deployment's events. */
  events: { maxAgeSeconds: number; maxBytes: number };
}

// Calls carry their metadata in a frame prefix (nats-frame.ts); events, which JetStream stores, in headers.
const H_TRACE = "traceparent";
const H_EVENT_ID = "Cleave-Event-Id";

/** NKey seed or creds file, read at each (re)connect so a rotated file is picked up without a restart. */
function authenticatorOf(opts: NatsOptions): Authenticator | undefined {
  if (opts.credsFile) {
    const file = opts.credsFile;
    return credsAuthenticator(() => readFileSync(file));
  }
  if (opts.nkeySeedFile) {
    const file = opts.nkeySeedFile;
    return nkeyAuthenticator(() => new TextEncoder().encode(readFileSync(file, "utf8").trim()));
  }
  return undefined;
}

/** A call waiting for its reply on the connection's inbox. */
interface Waiter {
  subject: string;
  module: string;
  resolve: (msg: Msg) => void;
  reject: (err: CleaveError) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class NatsTransport implements Transport {
  readonly kind = "nats" as const;
  private readonly js: JetStreamClient;
  private readonly spill: Spill;
  private streamReady?: Promise<void>;
  /**
   * Replies to this process's calls arrive on one wildcard inbox subscription, matched to their call by the last
   * token (what nc.request does, without its per-call request object, deferred, timer wrapper and an Error built
   * on every successful reply: an eighth of a calling process's CPU).
   */
  private readonly inbox = createInbox();
  private readonly waiting = new Map<string, Waiter>();
  private nextToken = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly deployment: string,
    private readonly opts: NatsOptions,
    private readonly log: Logger,
  ) {
    this.js = jetstream(nc);
    this.spill = new Spill(nc, `cleave_${deployment}_spill`);
    nc.subscribe(`${this.inbox}.*`, { callback: (err, msg) => void (err || this.replied(msg)) });
    void this.watchStatus();
  }

  static async connect(deployment: string, opts: NatsOptions, log: Logger): Promise<NatsTransport> {
    for (let attempt = 1; ; attempt++) {
      try {
        const nc = await connectNats({
          servers: opts.servers,
          user: opts.user,
          pass: opts.pass,
          token: opts.token,
          authenticator: authenticatorOf(opts),
          tls: opts.tls,
          name: opts.name,
          timeout: opts.connectTimeoutMs,
          // Once connected, reconnect forever: a restarted nats-server must not need restarted clients.
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          pingInterval: 5_000,
          // Async stack traces allocate an Error per request: a fifth of the CPU of a small call.
          noAsyncTraces: true,
        });
        log.info({ servers: opts.servers, server: nc.getServer() }, "connected to NATS");
        return new NatsTransport(nc, deployment, opts, log);
      } catch (err) {
        const reason = (err as Error).message;
        if (opts.onUnreachable === "exit") {
          throw new CleaveError(
            "UNAVAILABLE",
            `cannot reach NATS at ${opts.servers.join(", ")} (bus.nats.servers): ${reason}. ` +
              `Start nats-server, fix the address, or set bus.nats.onUnreachable: retry to wait for it.`,
          );
        }
        const delay = Math.min(5_000, 250 * 2 ** Math.min(attempt, 5));
        log.warn({ servers: opts.servers, attempt, retryInMs: delay, reason }, "NATS unreachable; retrying");
        await Bun.sleep(delay);
      }
    }
  }

  /**
   * The live connection, for a module that keeps its own JetStream stream (ingestion's event log) and so needs more
   * than `publish`/`subscribe` offer. Connection settings stay in the runtime's config.
   */
  get connection(): NatsConnection {
    return this.nc;
  }

  private subject(module: string, operation: string) {
    return `cleave.${this.deployment}.${module}.${operation}`;
  }

  private eventSubject(event: string) {
    return `cleave.${this.deployment}.evt.${event}`;
  }

  private get streamName() {
    return `CLEAVE_${this.deployment.replace(/[^A-Za-z0-9_-]/g, "_")}_EVENTS`;
  }

  async request(module: string, operation: string, envelope: Envelope): Promise<Reply> {
    let body = encodeRequest(envelope);
    let h: MsgHdrs | undefined;
    if (!this.spill.fits(body.byteLength)) body = await this.spill.put(body, (h = headers()));
    const subject = this.subject(module, operation);
    const token = (this.nextToken++).toString(36);
    const msg = await new Promise<Msg>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(token);
        reject(deadlineExceeded(`${module}.${operation} did not answer within ${envelope.timeoutMs} ms`));
      }, envelope.timeoutMs);
      this.waiting.set(token, { subject, module, resolve, reject, timer });
      try {
        this.nc.publish(subject, body, { reply: `${this.inbox}.${token}`, headers: h });
      } catch (err) {
        this.settle(token, undefined, unavailable(`bus cannot reach ${module}: ${(err as Error).message}`, { module }));
      }
    });
    return decode(await this.spill.take(msg.data, msg.headers)) as Reply;
  }

  private replied(msg: Msg) {
    const token = msg.subject.slice(this.inbox.length + 1);
    const w = this.waiting.get(token);
    if (!w) return; // answered after its deadline
    // The server answers a call nobody serves with an empty 503 status message (the client asks it to).
    const noResponders = msg.data.length === 0 && msg.headers?.code === 503;
    this.settle(token, msg, noResponders ? unavailable(`module "${w.module}" is not served by any process`, { module: w.module }) : undefined);
  }

  private settle(token: string, msg: Msg | undefined, err: CleaveError | undefined) {
    const w = this.waiting.get(token);
    if (!w) return;
    this.waiting.delete(token);
    clearTimeout(w.timer);
    if (err) w.reject(err);
    else w.resolve(msg!);
  }

  async serve(module: string, dispatch: Dispatch): Promise<() => Promise<void>> {
    const prefix = `cleave.${this.deployment}.${module}.`;
    const sub = this.nc.subscribe(`${prefix}*`, {
      queue: `cleave.${this.deployment}.${module}`,
      callback: (err, msg) => {
        if (err) return this.log.error({ err, module }, "NATS subscription error");
        void this.answer(msg, msg.subject.slice(prefix.length), dispatch);
      },
    });
    await this.nc.flush();
    return async () => {
      await sub.drain();
    };
  }

  private async answer(msg: Msg, operation: string, dispatch: Dispatch) {
    let reply: Reply;
    try {
      const envelope = decodeRequest(await this.spill.take(msg.data, msg.headers));
      reply = await dispatch(operation, envelope);
    } catch (err) {
      this.log.warn({ err, subject: msg.subject }, "unreadable bus message");
      const e = err instanceof CleaveError ? err : new CleaveError("INVALID_ARGUMENT", "unreadable bus message");
      reply = { ok: false, error: e.toJSON() };
    }
    try {
      let body = encode(reply);
      let h: MsgHdrs | undefined;
      if (!this.spill.fits(body.byteLength)) body = await this.spill.put(body, (h = headers()));
      msg.respond(body, h && { headers: h });
    } catch (err) {
      this.log.warn({ err, subject: msg.subject }, "could not send reply (caller gone or connection closed)");
    }
  }

  private ensureStream(): Promise<void> {
    this.streamReady ??= (async () => {
      const jsm = await jetstreamManager(this.nc);
      const config = {
        name: this.streamName,
        subjects: [`cleave.${this.deployment}.evt.>`],
        max_age: this.opts.events.maxAgeSeconds * 1_000_000_000,
        max_bytes: this.opts.events.maxBytes,
        duplicate_window: 120 * 1_000_000_000,
      };
      try {
        await jsm.streams.info(this.streamName);
        await jsm.streams.update(this.streamName, config);
      } catch {
        await jsm.streams.add(config);
      }
    })().catch((err) => {
      this.streamReady = undefined;
      throw unavailable(`JetStream is not available on this NATS server: ${(err as Error).message}`);
    });
    return this.streamReady;
  }

  async publish(event: string, envelope: EventEnvelope): Promise<void> {
    await this.ensureStream();
    const h = headers();
    const traceparent = wireTraceparent(envelope);
    if (traceparent) h.set(H_TRACE, traceparent);
    if (envelope.id) h.set(H_EVENT_ID, envelope.id);
    const body = encode(envelope.payload);
    if (!this.spill.fits(body.byteLength)) {
      // Several durable groups may read an event at any later time, so it cannot go through the transient spill.
      throw new CleaveError("PAYLOAD_TOO_LARGE", `event ${event} is ${body.byteLength} bytes, over NATS max_payload`);
    }
    // Acknowledged by JetStream before we return: the event is stored, and a repeated id is dropped.
    await this.js.publish(this.eventSubject(event), body, { msgID: envelope.id, headers: h });
  }

  async subscribe(event: string, handler: EventHandler, opts: SubscribeOptions): Promise<() => Promise<void>> {
    const subject = this.eventSubject(event);
    if (!opts.durable) {
      const sub = this.nc.subscribe(subject, {
        queue: `${this.deployment}.${opts.group}`,
        callback: (err, msg) => {
          if (err) return;
          handler(readEvent(msg.data, msg.headers)).catch((e) =>
            this.log.error({ err: e, event }, "event handler failed"),
          );
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

  connected(): boolean {
    return !this.nc.isClosed() && !this.reconnecting;
  }

  private reconnecting = false;

  private async watchStatus() {
    for await (const s of this.nc.status()) {
      const error = (s as { error?: Error & { operation?: string; subject?: string } }).error;
      if (s.type === "error" && error?.name === "PermissionViolationError" && error.operation === "publish") {
        // A call this process may not make: its callers fail now, with the server's reason, not at their deadline.
        for (const [token, w] of this.waiting) {
          if (w.subject === error.subject) this.settle(token, undefined, unavailable(`bus cannot reach ${w.module}: ${error.message}`, { module: w.module }));
        }
      } else if (s.type === "disconnect") {
        this.reconnecting = true;
        this.log.warn({ server: s.server }, "NATS disconnected; reconnecting");
      } else if (s.type === "reconnect") {
        this.reconnecting = false;
        this.log.info({ server: s.server }, "NATS reconnected");
      }
    }
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch(() => this.nc.close());
    for (const [token, w] of this.waiting) this.settle(token, undefined, unavailable(`bus closed before ${w.module} answered`, { module: w.module }));
  }
}

function readEvent(data: Uint8Array, h: MsgHdrs | undefined): EventEnvelope {
  return { payload: decode(data), id: h?.get(H_EVENT_ID) || undefined, traceparent: h?.get(H_TRACE) || undefined };
}
