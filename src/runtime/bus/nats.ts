/**
 * The NATS transport. Operations are core request/reply on `cleave.<deployment>.<module>.<operation>`, served by a
 * queue group per module so N replicas share the load; calls made in the same turn go as one message
 * (nats-batch.ts). Events are in nats-events.ts.
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
import { decode, encode } from "../codec";
import { CleaveError, deadlineExceeded, unavailable } from "../errors";
import type { Logger } from "../log";
import { JetStreamPublisher } from "./jetstream-publisher";
import { NatsEvents } from "./nats-events";
import { TurnBatcher } from "../turn-batcher";
import { type BatchItem, batchItemSize, batchItemsLimit, decodeBatch, encodeBatch, isBatch } from "./nats-batch";
import { decodeRequest, encodeRequest } from "./nats-frame";
import { connectNats } from "./nats-socket";
import { Spill } from "./nats-spill";
import { type Dispatch, type Envelope, type EventEnvelope, type EventHandler, type Reply, type SubscribeOptions, type Transport } from "./transport";

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

/** The server's empty 503 answer to a call (or a batch of calls) that no process subscribes to. */
const notServed = (module: string | undefined) => unavailable(`module "${module}" is not served by any process`, { module });

/** A reply's bytes: a message of its own (maybe spilled, as its headers say) or one item of a batch. */
interface Received {
  data: Uint8Array;
  headers?: MsgHdrs;
}

/** A call waiting for its reply on the connection's inbox. */
interface Waiter {
  subject: string;
  module: string;
  /** The batch message it went in, if any (see nats-batch.ts). */
  batch?: string;
  resolve: (msg: Received) => void;
  reject: (err: CleaveError) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class NatsTransport implements Transport {
  readonly kind = "nats" as const;
  private readonly events: NatsEvents;
  /** Acknowledged JetStream publishing, shared by the events and a module's own stream (ingestion's log). */
  readonly publisher: JetStreamPublisher;
  private readonly spill: Spill;
  /**
   * Replies to this process's calls arrive on one wildcard inbox subscription, matched to their call by the last
   * token (what nc.request does, without its per-call request object, deferred, timer wrapper and an Error built
   * on every successful reply: an eighth of a calling process's CPU).
   */
  private readonly inbox = createInbox();
  private readonly waiting = new Map<string, Waiter>();
  private nextToken = 0;
  /** Calls of one turn to one subject, sent as one message; the tokens of each batch sent, until a reply comes. */
  private readonly calls = new TurnBatcher<BatchItem>(
    () => batchItemsLimit(this.spill.limit),
    batchItemSize,
    (subject, items) => this.sendCalls(subject, items),
  );
  private readonly batchTokens = new Map<string, string[]>();
  private nextBatch = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly deployment: string,
    opts: NatsOptions,
    private readonly log: Logger,
  ) {
    this.publisher = new JetStreamPublisher(nc);
    this.events = new NatsEvents(nc, deployment, opts.events, () => this.spill.limit, this.publisher, log);
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

  async request(module: string, operation: string, envelope: Envelope): Promise<Reply> {
    let body = encodeRequest(envelope);
    let h: MsgHdrs | undefined;
    if (!this.spill.fits(body.byteLength)) body = await this.spill.put(body, (h = headers()));
    const subject = this.subject(module, operation);
    const token = (this.nextToken++).toString(36);
    const msg = await new Promise<Received>((resolve, reject) => {
      const timer = setTimeout(() => {
        const w = this.waiting.get(token);
        this.waiting.delete(token);
        if (w?.batch) this.batchTokens.delete(w.batch);
        reject(deadlineExceeded(`${module}.${operation} did not answer within ${envelope.timeoutMs} ms`));
      }, envelope.timeoutMs);
      this.waiting.set(token, { subject, module, resolve, reject, timer });
      if (!h) return this.calls.add(subject, { token, body });
      try {
        this.nc.publish(subject, body, { reply: `${this.inbox}.${token}`, headers: h });
      } catch (err) {
        this.unreachable(token, err);
      }
    });
    return decode(await this.spill.take(msg.data, msg.headers)) as Reply;
  }

  private unreachable(token: string, err: unknown) {
    const module = this.waiting.get(token)?.module;
    this.settle(token, undefined, unavailable(`bus cannot reach ${module}: ${(err as Error).message}`, { module }));
  }

  private sendCalls(subject: string, items: BatchItem[]) {
    try {
      if (items.length === 1) return this.nc.publish(subject, items[0].body, { reply: `${this.inbox}.${items[0].token}` });
      // Batch suffixes start with "B": single calls' tokens are base 36, lower case.
      const batch = `B${(this.nextBatch++).toString(36)}`;
      for (const item of items) this.waiting.get(item.token)!.batch = batch;
      this.batchTokens.set(batch, items.map((i) => i.token));
      this.nc.publish(subject, encodeBatch(items), { reply: `${this.inbox}.${batch}` });
    } catch (err) {
      for (const item of items) this.unreachable(item.token, err);
    }
  }

  private replied(msg: Msg) {
    const token = msg.subject.slice(this.inbox.length + 1);
    if (token.startsWith("B")) return void this.repliedBatch(token, msg);
    const w = this.waiting.get(token);
    if (!w) return; // answered after its deadline
    // The server answers a call nobody serves with an empty 503 status message (the client asks it to).
    const noResponders = msg.data.length === 0 && msg.headers?.code === 503;
    this.settle(token, msg, noResponders ? notServed(w.module) : undefined);
  }

  private async repliedBatch(batch: string, msg: Msg) {
    const tokens = this.batchTokens.get(batch);
    this.batchTokens.delete(batch);
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      for (const token of tokens ?? []) {
        this.settle(token, undefined, notServed(this.waiting.get(token)?.module));
      }
      return;
    }
    try {
      for (const item of decodeBatch(await this.spill.take(msg.data, msg.headers))) this.settle(item.token, { data: item.body }, undefined);
    } catch (err) {
      this.log.warn({ err, subject: msg.subject }, "unreadable bus reply batch");
    }
  }

  private settle(token: string, msg: Received | undefined, err: CleaveError | undefined) {
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

  private async dispatchFrame(frame: () => Promise<Uint8Array>, operation: string, dispatch: Dispatch, subject: string): Promise<Reply> {
    try {
      return await dispatch(operation, decodeRequest(await frame()));
    } catch (err) {
      this.log.warn({ err, subject }, "unreadable bus message");
      const e = err instanceof CleaveError ? err : new CleaveError("INVALID_ARGUMENT", "unreadable bus message");
      return { ok: false, error: e.toJSON() };
    }
  }

  private async answer(msg: Msg, operation: string, dispatch: Dispatch) {
    if (!isBatch(msg.data)) return this.respond(msg, this.encodeReply(await this.dispatchFrame(() => this.spill.take(msg.data, msg.headers), operation, dispatch, msg.subject)));
    let items: BatchItem[];
    try {
      items = decodeBatch(msg.data);
    } catch (err) {
      // Without its tokens no call in it can be answered: the callers time out.
      return this.log.warn({ err, subject: msg.subject }, "unreadable bus batch");
    }
    // One reply message for the whole batch: a NATS user with `allow_responses` may send one response per request.
    // The calls in a batch are the same operation, sent in the same turn, so they tend to finish together anyway.
    const replies = await Promise.all(
      items.map(async ({ token, body }) => ({ token, body: this.encodeReply(await this.dispatchFrame(async () => body, operation, dispatch, msg.subject)) })),
    );
    return this.respond(msg, encodeBatch(replies));
  }

  private encodeReply(reply: Reply): Uint8Array {
    try {
      return encode(reply);
    } catch (err) {
      this.log.error({ err }, "bus reply could not be encoded");
      return encode({ ok: false, error: new CleaveError("INTERNAL", "reply could not be encoded").toJSON() });
    }
  }

  private async respond(msg: Msg, body: Uint8Array) {
    try {
      let h: MsgHdrs | undefined;
      if (!this.spill.fits(body.byteLength)) body = await this.spill.put(body, (h = headers()));
      msg.respond(body, h && { headers: h });
    } catch (err) {
      this.log.warn({ err, subject: msg.subject }, "could not send reply (caller gone or connection closed)");
    }
  }

  publish(event: string, envelope: EventEnvelope): Promise<void> {
    return this.events.publish(event, envelope);
  }

  subscribe(event: string, handler: EventHandler, opts: SubscribeOptions): Promise<() => Promise<void>> {
    return this.events.subscribe(event, handler, opts);
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
        this.publisher.refused(error.subject ?? "", error.message);
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
    this.publisher.close();
  }
}
