/**
 * The bus: the only way modules meet. `call` is request/reply to an operation of a module, wherever it runs;
 * `publish`/`subscribe` carry events. Deadlines, payload validation, trace context and typed errors are applied
 * here, once, on top of whichever transport the config chose — which is why both placements behave the same.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Static, TSchema } from "@sinclair/typebox";
import type {
  CallContext,
  EventPayload,
  Identity,
  ModuleContract,
  ModuleInstance,
  OpInput,
  OpOutput,
} from "../contract";
import { CleaveError, deadlineExceeded, toCleaveError, unavailable } from "../errors";
import type { Logger } from "../log";
import type { RuntimeMetrics } from "../metrics";
import { context, type Context } from "@opentelemetry/api";
import { contextFromTraceparent, inHopSpan, inSpan, isRecording, SpanKind } from "../tracing";
import { assertSchema } from "../validation";
import { type AccessPolicy, authorizeCall, type Resource } from "../security/policy";
import type { Envelope, EventEnvelope, Reply, SubscribeOptions, Transport } from "./transport";

export interface CallOptions {
  /** Budget for this call in ms. Capped by the deadline of the call being served, if any. */
  timeoutMs?: number;
  identity?: Identity;
}

export interface PublishOptions {
  /** Idempotency key for transports that deduplicate (JetStream `Nats-Msg-Id`). */
  id?: string;
}

export interface EventMeta {
  id?: string;
  traceId: string;
  /** The schema a publisher in this process validated this very payload against (absent when it came over a wire). */
  checkedAgainst?: TSchema;
}

export interface BusOptions {
  deployment: string;
  defaultTimeoutMs: number;
  log: Logger;
  metrics?: RuntimeMetrics;
  /** The deployment's access rules when auth is on, for modules' own checks (`bus.authorize`). */
  policy?: AccessPolicy;
}

/** The runtime adds these operations to every module: `/readyz` and `/metrics?scope=deployment` call them. */
export const HEALTH_OPERATION = "_health";
export const METRICS_OPERATION = "_metrics";

type Handler = (input: unknown, ctx: CallContext) => unknown;
type OperationDef = { input: TSchema; output: TSchema };

interface ServedOperation {
  module: string;
  operation: string;
  qualified: string;
  spanName: string;
  /** Absent for the built-in operations (health, metrics), which take no input. */
  def?: OperationDef;
  /** Absent for an operation the module does not have. */
  handler?: Handler;
}

/** Event payloads this process's publishers validated, and against what: an in-process subscriber gets the object. */
const checkedPayloads = new WeakMap<object, TSchema>();

/** The call being served right now (if any) and by which module: the parent of any call made from inside it. */
const ambient = new AsyncLocalStorage<{ ctx: CallContext; module: string }>();

export class Bus {
  readonly transport: Transport;
  private readonly opts: BusOptions;
  /** Calls being served, and what waits for that to reach zero (drain). */
  private inFlight = 0;
  private idle: (() => void)[] = [];
  private readonly unserves: (() => Promise<void>)[] = [];
  private readonly unsubscribes: (() => Promise<void>)[] = [];
  private draining = false;
  /**
   * Modules this process serves, when the transport reaches other processes: calls to them stay in the process, as
   * Service Weaver calls co-located components directly. Placement decides what is remote, not the code.
   */
  private readonly local = new Map<string, (operation: string, envelope: Envelope) => Promise<Reply>>();

  constructor(transport: Transport, opts: BusOptions) {
    this.transport = transport;
    this.opts = opts;
  }

  get deployment(): string {
    return this.opts.deployment;
  }

  /**
   * For a module handler: enforce the deployment's access rules on the call it serves (the identity travels with
   * every call, in every placement). 401 with no identity and 403 without the right, when auth is on; with auth off,
   * a no-op.
   */
  authorize(ctx: Pick<CallContext, "identity">, resource: Resource): void {
    authorizeCall(this.opts.policy, ctx, resource);
  }

  setPolicy(policy: AccessPolicy | undefined): void {
    this.opts.policy = policy;
  }

  /**
   * Runs fn outside the call being served, if any: its calls take their deadline and identity from their own options
   * only. For work done once on behalf of several calls (a batch), which none of them bounds alone.
   */
  detached<T>(fn: () => T): T {
    return ambient.exit(fn);
  }

  /** Calls `module.operation` wherever it is served. Typed when given the callee's contract. */
  call<C extends ModuleContract, K extends keyof C["operations"] & string>(
    contract: C,
    operation: K,
    input: OpInput<C, K>,
    opts?: CallOptions,
  ): Promise<OpOutput<C, K>>;
  call(module: string, operation: string, input: unknown, opts?: CallOptions): Promise<unknown>;
  async call(target: ModuleContract | string, operation: string, input: unknown, opts: CallOptions = {}) {
    const module = typeof target === "string" ? target : target.name;
    const store = ambient.getStore();
    const outer = store?.ctx;
    const now = Date.now();
    let deadline = now + (opts.timeoutMs ?? this.opts.defaultTimeoutMs);
    if (outer && outer.deadline < deadline) deadline = outer.deadline;
    const timeoutMs = deadline - now;
    if (timeoutMs <= 0) throw deadlineExceeded(`no time left to call ${module}.${operation}`);
    const identity = opts.identity ?? outer?.identity;

    const started = performance.now();
    let outcome = "OK";
    try {
      return await this.send(module, operation, input, timeoutMs, identity);
    } catch (err) {
      outcome = err instanceof CleaveError ? err.code : "INTERNAL";
      throw err;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      const transport = this.local.has(module) ? "local" : this.transport.kind;
      this.opts.metrics?.busCall(store?.module ?? "external", module, operation, transport, outcome, seconds);
    }
  }

  private send(module: string, operation: string, input: unknown, timeoutMs: number, identity?: Identity) {
    // A client span that is not recorded would only be a fresh span id between the caller's span and the callee's:
    // the callee's span follows the caller's directly instead, and the trace id is the same either way.
    if (!isRecording()) return this.exchange(module, operation, input, timeoutMs, identity, context.active());
    return inSpan(`call ${module}.${operation}`, SpanKind.CLIENT, context.active(), (_span, ctx) =>
      this.exchange(module, operation, input, timeoutMs, identity, ctx),
    );
  }

  private async exchange(module: string, operation: string, input: unknown, timeoutMs: number, identity: Identity | undefined, ctx: Context) {
    const envelope: Envelope = { payload: input, timeoutMs, identity, context: ctx };
    // The transport settles by the deadline (NATS request timeout; in-process, the serving side's timer), so no
    // second timer is needed here.
    const local = this.local.get(module);
    const reply = await (local ? local(operation, envelope) : this.transport.request(module, operation, envelope));
    if (!reply.ok) throw CleaveError.fromShape(reply.error);
    return reply.result;
  }

  /** Serves a module's operations (plus the health operation) from this process. */
  async serve(contract: ModuleContract, instance: ModuleInstance): Promise<void> {
    const handlers = instance.handlers as Record<string, Handler>;
    const name = contract.name;
    const health = async () => (instance.health ? await instance.health() : { status: "ok" as const });
    const metrics = async () => ({
      instance: this.opts.metrics?.instance ?? "",
      metrics: this.opts.metrics ? await this.opts.metrics.registry.getMetricsAsJSON() : [],
    });
    // Everything about an operation that does not change per call, worked out once.
    const served = new Map<string, ServedOperation>();
    const describe = (operation: string, handler?: Handler, def?: OperationDef): ServedOperation => ({
      module: name,
      operation,
      qualified: `${name}.${operation}`,
      spanName: `serve ${name}.${operation}`,
      def,
      handler,
    });
    for (const [operation, def] of Object.entries(contract.operations)) served.set(operation, describe(operation, handlers[operation], def));
    served.set(HEALTH_OPERATION, describe(HEALTH_OPERATION, health));
    served.set(METRICS_OPERATION, describe(METRICS_OPERATION, metrics));
    const dispatch = (operation: string, envelope: Envelope) => {
      if (this.draining) {
        return Promise.resolve(failure(unavailable(`${name} is shutting down`)));
      }
      return this.handle(served.get(operation) ?? describe(operation), envelope);
    };
    const stop = await this.transport.serve(name, dispatch);
    // In-process transports already call the handler directly (or through the codec, when testing serialization).
    if (this.transport.kind !== "inprocess") this.local.set(name, dispatch);
    this.unserves.push(async () => {
      // Draining: later calls from this process go to the module's other replicas.
      this.local.delete(name);
      await stop();
    });
  }

  private async handle(op: ServedOperation, envelope: Envelope): Promise<Reply> {
    this.inFlight++;
    try {
      return await this.run(op, envelope);
    } finally {
      if (--this.inFlight === 0) for (const wake of this.idle.splice(0)) wake();
    }
  }

  private run({ module, operation, qualified, spanName, def, handler }: ServedOperation, envelope: Envelope): Promise<Reply> {
    const parent = envelope.context ?? contextFromTraceparent(envelope.traceparent);
    return inHopSpan(spanName, SpanKind.SERVER, parent, async (span) => {
      const deadline = Date.now() + envelope.timeoutMs;
      // Created only if the handler looks at ctx.signal: most never do, and it is a visible cost per call.
      let abort: AbortController | undefined;
      try {
        if (!handler) throw new CleaveError("NOT_FOUND", `${module} has no operation "${operation}"`);
        if (envelope.timeoutMs <= 0) throw deadlineExceeded(`${qualified} arrived after its deadline`);
        if (def) assertSchema(def.input, envelope.payload, `invalid input for ${qualified}`);
        const ctx: CallContext = {
          deadline,
          get signal() {
            abort ??= new AbortController();
            return abort.signal;
          },
          traceId: span.spanContext().traceId,
          identity: envelope.identity,
        };
        const result = await new Promise((resolve, reject) => {
          // Settles once: with the handler's outcome, or at the deadline (one timer; no second promise to race).
          let settled = false;
          const timer = setTimeout(() => {
            settled = true;
            const reason = deadlineExceeded(`${qualified} exceeded its deadline`);
            // Rejected before the abort: a handler that returns as soon as it sees the abort must not win.
            reject(reason);
            abort?.abort(reason);
          }, envelope.timeoutMs);
          const settle = (fn: (value: unknown) => void) => (value: unknown) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            fn(value);
          };
          const fulfil = settle(resolve);
          const fail = settle(reject);
          try {
            Promise.resolve(ambient.run({ ctx, module }, handler, envelope.payload, ctx)).then(fulfil, fail);
          } catch (err) {
            fail(err);
          }
        });
        if (def) this.checkOutput(def.output, result, qualified);
        this.opts.metrics?.servedCall(module, operation, "OK");
        return { ok: true, result } as Reply;
      } catch (err) {
        const error = toCleaveError(err);
        if (error.code === "INTERNAL") this.opts.log.error({ err, operation: qualified }, "operation failed");
        this.opts.metrics?.servedCall(module, operation, error.code);
        return failure(error);
      }
    });
  }

  private checkOutput(schema: TSchema, result: unknown, qualified: string) {
    try {
      assertSchema(schema, result, `output of ${qualified} breaks its contract`);
    } catch (err) {
      // A handler that breaks its own contract is our bug, not the caller's: log the detail, answer INTERNAL.
      this.opts.log.error({ err, operation: qualified }, "operation output failed validation");
      throw new CleaveError("INTERNAL", `${qualified} produced an invalid result`);
    }
  }

  /** Publishes one of a module's declared events, validated against its schema. */
  async publish<C extends ModuleContract, K extends keyof C["events"] & string>(
    contract: C,
    event: K,
    payload: EventPayload<C, K>,
    opts: PublishOptions = {},
  ): Promise<void> {
    const schema = contract.events[event];
    if (!schema) throw new CleaveError("INTERNAL", `${contract.name} does not declare event "${event}"`);
    const qualified = `${contract.name}.${event}`;
    assertSchema(schema, payload, `event ${qualified}`);
    if (typeof payload === "object" && payload !== null) checkedPayloads.set(payload, schema);
    await this.transport.publish(qualified, { payload, id: opts.id, context: context.active() });
  }

  /** Subscribes to another module's event; the handler runs in the publisher's trace. */
  async subscribe<C extends ModuleContract, K extends keyof C["events"] & string>(
    contract: C,
    event: K,
    handler: (payload: Static<C["events"][K]>, meta: EventMeta) => Promise<void> | void,
    opts: Partial<SubscribeOptions> & { group: string },
  ): Promise<void> {
    const qualified = `${contract.name}.${event}`;
    const spanName = `on ${qualified}`;
    const schema = contract.events[event];
    if (!schema) throw new CleaveError("INTERNAL", `${contract.name} does not declare event "${event}"`);
    const stop = await this.transport.subscribe(
      qualified,
      (env: EventEnvelope) =>
        inHopSpan(spanName, SpanKind.CONSUMER, env.context ?? contextFromTraceparent(env.traceparent), async (span) => {
          // The very object the publisher checked against this schema (in process, not serialized) needs no second check.
          const checkedAgainst = checkedPayloads.get(env.payload as object);
          if (checkedAgainst !== schema) assertSchema(schema, env.payload, `event ${qualified}`);
          await handler(env.payload as Static<C["events"][K]>, { id: env.id, traceId: span.spanContext().traceId, checkedAgainst });
        }),
      { durable: false, from: "new", ...opts },
    );
    this.unsubscribes.push(stop);
  }

  /** Stops taking calls, waits for in-flight ones up to `timeoutMs`, then closes the transport. */
  async drain(timeoutMs: number): Promise<{ abandoned: number }> {
    this.draining = true;
    // Stop receiving first, so that over NATS new calls go to the other replicas of the queue group.
    await Promise.all(this.unsubscribes.splice(0).map((stop) => stop().catch(() => {})));
    await Promise.all(this.unserves.splice(0).map((stop) => stop().catch(() => {})));
    if (this.inFlight === 0) return { abandoned: 0 };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
    const idle = new Promise<"done">((resolve) => this.idle.push(() => resolve("done")));
    const outcome = await Promise.race([idle, timedOut]);
    clearTimeout(timer);
    return { abandoned: outcome === "timeout" ? this.inFlight : 0 };
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}

const failure = (error: CleaveError): Reply => ({ ok: false, error: error.toJSON() });
