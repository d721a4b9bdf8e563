/**
 * W3C trace context through @opentelemetry/api. The SDK provider is installed once per process so span and trace
 * ids exist (and propagate) even when nothing exports them: unsampled spans are non-recording and cost little.
 * The monitoring module swaps in a sampler and an OTLP exporter when the config asks for one.
 */
import { context, propagation, trace, type Context, type Span, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  ParentBasedSampler,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";

let installed = false;

export interface TracingOptions {
  /** Record spans (for an exporter). Off: ids still flow, nothing is recorded. */
  record: boolean;
  processors?: SpanProcessor[];
}

export function installTracing(opts: TracingOptions = { record: false }): void {
  if (installed) return;
  installed = true;
  const root = opts.record ? new AlwaysOnSampler() : new AlwaysOffSampler();
  const provider = new BasicTracerProvider({
    sampler: new ParentBasedSampler({ root }),
    spanProcessors: opts.processors ?? [],
    idGenerator: new PooledIdGenerator(),
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
}

let cachedTracer: ReturnType<typeof trace.getTracer> | undefined;
// A proxy until a provider is installed, then the provider's tracer: safe to keep.
const tracer = () => (cachedTracer ??= trace.getTracer("cleave"));

/**
 * Trace and span ids from a pooled buffer of random bytes, hex-encoded by table: the SDK's default generator
 * builds each id digit by digit, which showed in an in-process call's profile (every call makes two spans).
 */
class PooledIdGenerator {
  private readonly pool = Buffer.alloc(4096);
  private offset = this.pool.length;

  private hex(bytes: number): string {
    if (this.offset + bytes > this.pool.length) {
      crypto.getRandomValues(this.pool);
      this.offset = 0;
    }
    const start = this.offset;
    this.offset += bytes;
    // An all-zero id is invalid in W3C trace context.
    for (let i = start; i < start + bytes; i++) {
      if (this.pool[i] !== 0) return this.pool.toString("hex", start, start + bytes);
    }
    return this.hex(bytes);
  }

  generateTraceId(): string {
    return this.hex(16);
  }

  generateSpanId(): string {
    return this.hex(8);
  }
}

interface Carrier {
  traceparent?: string;
  tracestate?: string;
}

/** The `traceparent` of the active span, for the wire. */
export function currentTraceparent(ctx: Context = context.active()): string | undefined {
  const carrier: Carrier = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent;
}

export function currentTraceId(): string {
  return trace.getActiveSpan()?.spanContext().traceId ?? "";
}

export function contextFromTraceparent(traceparent: string | undefined): Context {
  if (!traceparent) return context.active();
  return propagation.extract(context.active(), { traceparent });
}

/**
 * Runs `fn` inside a new span (child of `parent`), ending it when fn settles. Errors mark the span and rethrow.
 */
export async function inSpan<T>(
  name: string,
  kind: SpanKind,
  parent: Context,
  fn: (span: Span, ctx: Context) => Promise<T>,
): Promise<T> {
  const span = tracer().startSpan(name, { kind }, parent);
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
