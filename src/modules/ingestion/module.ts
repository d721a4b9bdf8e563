/** The ingestion module's implementation, started by the runtime in whichever process the config places it. */
import type { NatsConnection } from "@nats-io/transport-node";
import type { NatsTransport } from "../../runtime/bus/nats";
import { defineModule } from "../../runtime/contract";
import { CleaveError, invalidArgument, toCleaveError } from "../../runtime/errors";
import { FaultSpan } from "../../runtime/fault-span";
import { ping } from "../../runtime/ping";
import { ingestionContract, producerSubject, type IngestionConfig, type IngestResult } from "./contract";
import { checkBatchSize, EventValidator, parseBody } from "./events";
import { JetStreamLog } from "./jetstream-log";
import type { Appended, EventLog } from "./log";
import { SqliteLog } from "./sqlite-log";

interface ConsumerState {
  position: number;
  lastReadMs: number;
}

const TRIM_INTERVAL_MS = 60_000;

export default defineModule(ingestionContract, async (ctx) => {
  const cfg = ctx.config as IngestionConfig;
  const validator = new EventValidator(cfg);
  const nats = ctx.bus.transport.kind === "nats" ? (ctx.bus.transport as NatsTransport) : undefined;
  const nc: NatsConnection | undefined = nats?.connection;
  const log: EventLog = nats
    ? await JetStreamLog.open(nats.connection, nats.publisher, { deployment: ctx.deployment, ...cfg })
    : new SqliteLog(ctx.dataDir, cfg.durability, ctx.log);
  const consumers = new Map<string, ConsumerState>();
  /**
   * The log's writes failing now (a full disk, JetStream unreachable): since when and the last error, shown by
   * `/readyz` as "degraded". Not "down": reads still work, and only a write tells when the log takes events again.
   */
  const writesFailing = new FaultSpan();

  const liveConsumers = () => {
    const since = Date.now() - cfg.consumerTimeoutSeconds * 1000;
    return [...consumers.entries()].filter(([, c]) => c.lastReadMs >= since);
  };

  /** Refuses new events while a live consumer is too far behind, so lag (and memory) cannot grow without bound. */
  const checkBackpressure = () => {
    const head = log.head();
    for (const [name, c] of liveConsumers()) {
      const lag = head - c.position;
      if (lag > cfg.maxConsumerLag) {
        throw new CleaveError(
          "RESOURCE_EXHAUSTED",
          `consumer "${name}" is ${lag} events behind (limit: maxConsumerLag = ${cfg.maxConsumerLag}); retry later`,
          { retryAfterSeconds: cfg.retryAfterSeconds, consumer: name, lag },
        );
      }
    }
  };

  const ingest = async (input: { events?: unknown[]; body?: Uint8Array }): Promise<IngestResult> => {
    if (input.events === undefined && input.body === undefined) {
      throw invalidArgument("give the events: `events` (array) or `body` (JSON or NDJSON bytes)");
    }
    const items = input.body !== undefined ? parseBody(input.body) : input.events!.map((value) => ({ value }));
    checkBatchSize(items.length, cfg.maxBatchEvents);
    if (items.length === 0) return { accepted: 0, duplicates: 0, rejected: [], seqs: [], duplicateIndexes: [] };
    checkBackpressure();
    const { valid, rejected } = validator.validate(items, Date.now());
    if (valid.length === 0) {
      const first = rejected[0];
      throw invalidArgument(
        rejected.length === 1 ? `event rejected: ${first.reason}` : `all ${rejected.length} events rejected; first (index ${first.index}): ${first.reason}`,
        { rejected },
      );
    }
    let appended: Appended[];
    try {
      appended = await log.append(valid);
    } catch (err) {
      // The store's own words ("database or disk is full"): the caller's answer hides an internal error's text.
      writesFailing.failed(err);
      throw err;
    }
    writesFailing.succeeded();
    const seqs: (number | null)[] = new Array(items.length).fill(null);
    const duplicateIndexes: number[] = [];
    valid.forEach((e, i) => {
      seqs[e.index] = appended[i].seq;
      if (appended[i].duplicate) duplicateIndexes.push(e.index);
    });
    const duplicates = duplicateIndexes.length;
    return { accepted: valid.length - duplicates, duplicates, rejected, seqs, duplicateIndexes };
  };

  // Producers that speak NATS: a request with a JSON/NDJSON body on the producer subject, answered with JSON.
  const producerSub = nc?.subscribe(producerSubject(ctx.deployment), {
    queue: producerSubject(ctx.deployment),
    callback: (err, msg) => {
      if (err) return;
      ingest({ body: msg.data }).then(
        (result) => msg.respond(JSON.stringify(result)),
        (e) => {
          const error = toCleaveError(e);
          if (error.code === "INTERNAL") ctx.log.error({ err: e }, "ingest from NATS producer failed");
          msg.respond(JSON.stringify({ error: error.message, code: error.code, details: error.details }));
        },
      );
    },
  });

  const trimTimer =
    log instanceof SqliteLog
      ? setInterval(() => {
          const positions = liveConsumers().map(([, c]) => c.position);
          const below = positions.length ? Math.min(...positions) + 1 : log.head() + 1;
          const removed = log.trim(Date.now() - cfg.retentionHours * 3_600_000, below);
          if (removed) ctx.log.info({ removed }, "trimmed event log");
        }, TRIM_INTERVAL_MS)
      : undefined;
  trimTimer?.unref();

  return {
    handlers: {
      ping: ping("ingestion"),
      ingest,
      read: async ({ consumer, after, max, waitMs }) => {
        consumers.set(consumer, { position: after, lastReadMs: Date.now() });
        const events = await log.read(after, max ?? 1000, waitMs ?? 0);
        return { events, head: log.head() };
      },
      schema: () => ({ eventTypes: cfg.eventTypes }),
      stats: () => {
        const head = log.head();
        const out: Record<string, { position: number; lag: number; lastReadMs: number }> = {};
        for (const [name, c] of consumers) out[name] = { ...c, lag: head - c.position };
        return { log: log.kind, head, consumers: out };
      },
    },
    health: () => {
      const failing = writesFailing.current;
      return {
        status: failing ? ("degraded" as const) : ("ok" as const),
        details: { log: log.kind, head: log.head(), ...(failing && { writesFailing: failing }) },
      };
    },
    stop: async () => {
      clearInterval(trimTimer);
      await producerSub?.drain().catch(() => {});
      await log.close();
    },
  };
});
