/**
 * The in-process transport: a call is a function call into the module's dispatcher in this process. With
 * `serialize` on, every envelope and reply goes through the wire codec both ways (Service Weaver's RPC test mode),
 * so a payload that would not survive NATS fails here too.
 */
import { roundTrip } from "../codec";
import { CleaveError, unavailable } from "../errors";
import type { Logger } from "../log";
import { type Dispatch, type Envelope, type EventEnvelope, type EventHandler, type Reply, type SubscribeOptions, type Transport, wireTraceparent } from "./transport";

interface Subscriber {
  handler: EventHandler;
  group: string;
}

export class InProcessTransport implements Transport {
  readonly kind = "inprocess" as const;
  private readonly servers = new Map<string, Dispatch[]>();
  /** Event → its subscribing groups → their members (kept grouped: publish runs per event, subscribe rarely). */
  private readonly subscribers = new Map<string, Map<string, Subscriber[]>>();
  private readonly roundRobin = new Map<string, number>();

  constructor(
    private readonly opts: { serialize: boolean; log: Logger },
  ) {}

  // Not async: a plain call hands back the dispatcher's own promise, without wrapping it in another.
  request(module: string, operation: string, envelope: Envelope): Promise<Reply> {
    const dispatch = this.pick(this.servers.get(module), module);
    if (!dispatch) return Promise.reject(unavailable(`module "${module}" is not served by any process`, { module }));
    if (!this.opts.serialize) return dispatch(operation, envelope);
    return this.serialized(dispatch, operation, envelope);
  }

  private async serialized(dispatch: Dispatch, operation: string, envelope: Envelope): Promise<Reply> {
    let sent: Envelope;
    try {
      sent = roundTrip({ ...envelope, traceparent: wireTraceparent(envelope), context: undefined });
    } catch (err) {
      throw err instanceof CleaveError ? err : new CleaveError("INVALID_ARGUMENT", String(err));
    }
    return roundTrip(await dispatch(operation, sent));
  }

  async serve(module: string, dispatch: Dispatch): Promise<() => Promise<void>> {
    const list = this.servers.get(module) ?? [];
    list.push(dispatch);
    this.servers.set(module, list);
    return async () => {
      const remaining = (this.servers.get(module) ?? []).filter((d) => d !== dispatch);
      if (remaining.length) this.servers.set(module, remaining);
      else this.servers.delete(module);
    };
  }

  async publish(event: string, envelope: EventEnvelope): Promise<void> {
    const groups = this.subscribers.get(event);
    if (!groups?.size) return;
    const sent = this.opts.serialize ? roundTrip({ ...envelope, traceparent: wireTraceparent(envelope), context: undefined }) : envelope;
    // One subscriber per group, as a NATS queue group would deliver.
    for (const [group, members] of groups) {
      const target = members.length === 1 ? members[0] : this.pick(members, `${event}#${group}`)!;
      // Delivered after publish returns, as over the network: a slow subscriber never blocks the publisher.
      queueMicrotask(() => {
        target.handler(sent).catch((err) => this.opts.log.error({ err, event, group }, "event handler failed"));
      });
    }
  }

  async subscribe(event: string, handler: EventHandler, opts: SubscribeOptions): Promise<() => Promise<void>> {
    const sub: Subscriber = { handler, group: opts.group };
    const groups = this.subscribers.get(event) ?? new Map<string, Subscriber[]>();
    this.subscribers.set(event, groups);
    groups.set(opts.group, [...(groups.get(opts.group) ?? []), sub]);
    return async () => {
      const rest = (groups.get(opts.group) ?? []).filter((s) => s !== sub);
      if (rest.length) groups.set(opts.group, rest);
      else groups.delete(opts.group);
    };
  }

  connected(): boolean {
    return true;
  }

  async close(): Promise<void> {
    this.servers.clear();
    this.subscribers.clear();
  }

  private pick<T>(list: T[] | undefined, key: string): T | undefined {
    if (!list?.length) return undefined;
    if (list.length === 1) return list[0];
    const n = (this.roundRobin.get(key) ?? 0) % list.length;
    this.roundRobin.set(key, n + 1);
    return list[n];
  }
}
