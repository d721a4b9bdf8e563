/**
 * W3C trace context through @opentelemetry/api. Every request gets a trace id that follows it across the gateway
 * and every module hop, in any placement. When `tracing.otlpUrl` is set the spans are recorded and exported over
 * OTLP/HTTP; when not, nothing is recorded and a span is only its context (ids), made without the SDK's
 * sampling and bookkeeping — the common case pays almost nothing.
 */
import { context, INVALID_SPANID, INVALID_TRACEID, propagation, trace, type Context, type Span, type SpanContext, SpanKind, SpanStatusCode, TraceFlags } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";

export interface TracingOptions {
  /** OTLP/HTTP endpoint (e.g. http://collector:4318/v1/traces). Unset: spans carry ids and are not recorded. */
  otlpUrl?: string;
  /** Share of new traces recorded and exported (a trace started elsewhere follows its caller's decision). */
  sampleRatio?: number;
  /** Resource attribute `service.name` of the exported spans. */
  serviceName?: string;
}

let installed = false;
let recording = false;
let provider: TracerProvider | undefined;

/** Once per process; the first call decides (several test deployments may share one process). */
export function installTracing(opts: TracingOptions = {}): void {
  if (installed) return;
  installed = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  if (!opts.otlpUrl) return;
  recording = true;
  const ratio = opts.sampleRatio ?? 1;
  provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": opts.serviceName ?? "cleave" }),
    sampler: new ParentBasedSampler({ root: ratio >= 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(ratio) }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: opts.otlpUrl }), scheduledDelayMillis: 1000 })],
    idGenerator: ids,
  });
  trace.setGlobalTracerProvider(provider);
}

/** Sends what is still buffered (at shutdown). */
export async function flushTracing(): Promise<void> {
  await provider?.forceFlush().catch(() => {});
}

/**
 * Trace and span ids cut from a pooled string of random hex digits: building ids digit by digit, and then even one
 * Buffer→hex conversion per id, showed in an in-process call's profile (every call makes a span).
 */
class PooledIdGenerator {
  private pool = "";
  private offset = 0;

  private hex(digits: number): string {
    if (this.offset + digits > this.pool.length) {
      this.pool = crypto.getRandomValues(Buffer.alloc(4096)).toString("hex");
      this.offset = 0;
    }
    const id = this.pool.slice(this.offset, (this.offset += digits));
    // An all-zero id is invalid in W3C trace context.
    return id === INVALID_SPANID || id === INVALID_TRACEID ? this.hex(digits) : id;
  }

  generateTraceId(): string {
    return this.hex(32);
  }

  generateSpanId(): string {
    return this.hex(16);
  }
}

const ids = new PooledIdGenerator();

/** The `traceparent` of the active span, for the wire (formatted directly: the propagator API showed in profiles). */
export function currentTraceparent(ctx: Context = context.active()): string | undefined {
  const sc = trace.getSpanContext(ctx);
  // Our spans always have valid ids and extracted ones were checked by the propagator: no regex per call here.
  if (!sc || sc.traceId === INVALID_TRACEID) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & TraceFlags.SAMPLED).toString(16)}`;
}

/** Whether spans are recorded (and exported); when not, a span only carries ids. */
export const isRecording = () => recording;

export function currentTraceId(): string {
  return trace.getActiveSpan()?.spanContext().traceId ?? "";
}

export function contextFromTraceparent(traceparent: string | undefined): Context {
  if (!traceparent) return context.active();
  return propagation.extract(context.active(), { traceparent });
}

/** A span that is only its context: the parent's trace id (or a new one) and a new span id. */
function contextOnlySpan(parent: Context): Span {
  const p = trace.getSpanContext(parent);
  return trace.wrapSpanContext({
    traceId: p?.traceId ?? ids.generateTraceId(),
    spanId: ids.generateSpanId(),
    traceFlags: p?.traceFlags ?? TraceFlags.NONE,
  });
}

let tracer: ReturnType<typeof trace.getTracer> | undefined;

/**
 * Runs `fn` inside a new span (child of `parent`), ending it when fn settles. Errors mark the span and rethrow.
 * A span that is not recorded has nothing to end or mark, so fn's own promise is handed back as is.
 */
export function inSpan<T>(name: string, kind: SpanKind, parent: Context, fn: (span: Span, ctx: Context) => Promise<T>): Promise<T> {
  if (!recording) {
    const span = contextOnlySpan(parent);
    const ctx = trace.setSpan(parent, span);
    return context.with(ctx, fn, undefined, span, ctx);
  }
  return inRecordedSpan(name, kind, parent, fn);
}

/**
 * `inSpan` for one hop of a request inside the deployment (an operation served, an event handled). Unrecorded, a
 * new span id there would be seen by nobody, so `fn` runs in its parent's span as is — for an in-process call
 * without even entering a context, since the parent is the active one. With no parent span (a call from outside
 * any request) it starts a trace, as inSpan does.
 */
export function inHopSpan<T>(name: string, kind: SpanKind, parent: Context, fn: (span: Span, ctx: Context) => Promise<T>): Promise<T> {
  if (!recording) {
    const span = trace.getSpan(parent);
    if (span) return parent === context.active() ? fn(span, parent) : context.with(parent, fn, undefined, span, parent);
  }
  return inSpan(name, kind, parent, fn);
}

/**
 * Work done once for several requests (a batch): a span in the first request's trace, linked to the others' spans
 * (OpenTelemetry's way for batches), so each request's trace leads to it. Unrecorded, fn runs in the first's context.
 */
export function inBatchSpan<T>(name: string, parents: readonly Context[], fn: () => Promise<T>): Promise<T> {
  if (!recording) return context.with(parents[0], fn);
  const links = parents.slice(1).flatMap((c) => {
    const sc = trace.getSpanContext(c);
    return sc ? [{ context: sc }] : [];
  });
  return inRecordedSpan(name, SpanKind.INTERNAL, parents[0], fn, links);
}

async function inRecordedSpan<T>(
  name: string,
  kind: SpanKind,
  parent: Context,
  fn: (span: Span, ctx: Context) => Promise<T>,
  links?: { context: SpanContext }[],
): Promise<T> {
  const span = (tracer ??= trace.getTracer("cleave")).startSpan(name, { kind, links }, parent);
  const ctx = trace.setSpan(parent, span);
  try {
    return await context.with(ctx, fn, undefined, span, ctx);
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
    throw err;
  } finally {
    span.end();
  }
}

export { SpanKind };
