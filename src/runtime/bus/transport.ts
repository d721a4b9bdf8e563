/**
 * What a transport must do: move a call envelope to whichever process serves a module and bring the reply back,
 * and move events to their subscribers. Everything else (deadlines, validation, tracing, error typing) lives once,
 * in the Bus, so the two transports cannot drift apart in semantics.
 */
import type { Context } from "@opentelemetry/api";
import type { Identity } from "../contract";
import type { ErrorShape } from "../errors";
import { currentTraceparent } from "../tracing";

export interface Envelope {
  payload: unknown;
  /** The caller's remaining budget in ms when it sent the call: relative, so clocks need not agree. */
  timeoutMs: number;
  /** The caller's span as it arrived from the wire; a caller in this process passes `context` instead. */
  traceparent?: string;
  identity?: Identity;
  /** The caller's trace context object: used as is in process; a transport that serializes the envelope sends it
   * as `traceparent` (wireTraceparent), so in-process calls never format one. */
  context?: Context;
}

export type Reply = { ok: true; result: unknown } | { ok: false; error: ErrorShape };

export type Dispatch = (operation: string, envelope: Envelope) => Promise<Reply>;

export interface EventEnvelope {
  payload: unknown;
  /** Idempotency key: a transport with storage (JetStream) drops a repeat of the same id. */
  id?: string;
  /** The publisher's span as it arrived from the wire; a publisher in this process passes `context` instead. */
  traceparent?: string;
  /** The publisher's trace context object (never serialized; see Envelope.context). */
  context?: Context;
}

export interface SubscribeOptions {
  /** Competing consumers: one subscriber per group gets each event. Default: the subscribing module's name. */
  group: string;
  /** Survive restarts (JetStream durable consumer); ignored by the in-process transport, which has no storage. */
  durable: boolean;
  /** Where a new durable subscription starts: only new events, or everything the stream still holds. */
  from: "new" | "all";
}

export type EventHandler = (event: EventEnvelope) => Promise<void>;

export interface Transport {
  readonly kind: "inprocess" | "nats";
  /** Must settle within envelope.timeoutMs; a module nobody serves must fail fast with UNAVAILABLE. */
  request(module: string, operation: string, envelope: Envelope): Promise<Reply>;
  serve(module: string, dispatch: Dispatch): Promise<() => Promise<void>>;
  publish(event: string, envelope: EventEnvelope): Promise<void>;
  subscribe(event: string, handler: EventHandler, opts: SubscribeOptions): Promise<() => Promise<void>>;
  /** Whether the transport can reach the rest of the deployment right now. */
  connected(): boolean;
  close(): Promise<void>;
}

/** The `traceparent` an envelope carries across a wire. */
export const wireTraceparent = (envelope: Envelope | EventEnvelope) => envelope.traceparent ?? currentTraceparent(envelope.context);
