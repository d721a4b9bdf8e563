/** The ingestion module's public contract: the only part of it other modules and the gateway may import. */
import { type Static, Type as T } from "@sinclair/typebox";
import { defineContract, type HttpRequestView } from "../../runtime/contract";
import { StringMap } from "../../runtime/validation";
import { CleaveError } from "../../runtime/errors";
import { pingOperation, pingRoute } from "../../runtime/ping";

const strict = { additionalProperties: false } as const;

export const FieldSpec = T.Object(
  {
    type: T.Union([T.Literal("string"), T.Literal("number"), T.Literal("integer"), T.Literal("boolean")], {
      description: "JSON type of the field's value.",
    }),
    required: T.Optional(T.Boolean({ description: "Default true: an event without this field is rejected." })),
  },
  strict,
);

export const EventTypeSpec = T.Object(
  {
    fields: T.Record(T.String({ pattern: "^[A-Za-z_][A-Za-z0-9_]{0,63}$" }), FieldSpec, {
      additionalProperties: false,
      description: "The fields of `data` for this event type; any other field is rejected.",
    }),
  },
  strict,
);

export const IngestionConfig = T.Object(
  {
    eventTypes: T.Record(T.String({ pattern: "^[a-z][a-z0-9_.-]{0,63}$" }), EventTypeSpec, {
      additionalProperties: false,
      default: {},
      description: "Accepted event types (`type` of an event) and the schema of their `data`.",
    }),
    maxBatchEvents: T.Integer({ minimum: 1, default: 10_000, description: "Events per request; more gets 413." }),
    maxFutureSeconds: T.Integer({
      minimum: 0,
      default: 300,
      description: "An event whose timestamp is further ahead of this server's clock is rejected.",
    }),
    maxConsumerLag: T.Integer({
      minimum: 1,
      default: 1_000_000,
      description: "When a consumer is this many events behind the log head, ingest answers 429 (backpressure).",
    }),
    consumerTimeoutSeconds: T.Integer({
      minimum: 1,
      default: 60,
      description: "A consumer that has not read for this long no longer holds back ingestion or log trimming.",
    }),
    retryAfterSeconds: T.Integer({ minimum: 1, default: 1, description: "Retry-After sent with a 429." }),
    retentionHours: T.Number({ exclusiveMinimum: 0, default: 168, description: "How long the log keeps events." }),
    durability: T.Union([T.Literal("process"), T.Literal("power")], {
      default: "process",
      description:
        "SQLite log: `process` survives a crash of the process (WAL, synchronous=NORMAL); `power` also a power " +
        "loss (synchronous=FULL, slower).",
    }),
    dedupWindowSeconds: T.Integer({
      minimum: 1,
      default: 3600,
      description: "JetStream log (NATS bus): how long a repeated event id is recognised (Nats-Msg-Id window).",
    }),
  },
  { ...strict, default: {} },
);
export type IngestionConfig = Static<typeof IngestionConfig>;

/** An event as stored in the log and handed to consumers: `ts` is the event time in ms since the epoch. */
export const LoggedEvent = T.Object({
  seq: T.Integer({ minimum: 1 }),
  id: T.String(),
  type: T.String(),
  ts: T.Number(),
  data: StringMap(T.Unknown()),
});
export type LoggedEvent = Static<typeof LoggedEvent>;

export const IngestResult = T.Object({
  accepted: T.Integer({ description: "New events stored durably." }),
  duplicates: T.Integer({ description: "Events whose id was already stored: acknowledged, not stored again." }),
  rejected: T.Array(T.Object({ index: T.Integer(), id: T.Optional(T.String()), reason: T.String() })),
  seqs: T.Array(T.Union([T.Integer(), T.Null()]), {
    description: "Log position of each event of the request, by index (null: rejected); a duplicate has the original's.",
  }),
  duplicateIndexes: T.Array(T.Integer(), { description: "Indexes of the events that were already stored." }),
});
export type IngestResult = Static<typeof IngestResult>;

/**
 * A request body above this size is refused before it reaches the bus: NATS carries at most 1 MB per message, and
 * the same limit in every placement keeps the API placement-independent.
 */
export const MAX_INGEST_BODY_BYTES = 1_000_000;

export const ingestionContract = defineContract({
  name: "ingestion",
  description: "Takes events and transactions, validates, deduplicates and stores them durably before acknowledging.",
  operations: {
    ping: pingOperation,
    ingest: {
      input: T.Object(
        {
          events: T.Optional(T.Array(T.Unknown(), { description: "Events as objects." })),
          body: T.Optional(T.Uint8Array({ description: "A JSON event, a JSON array or NDJSON, as bytes." })),
        },
        strict,
      ),
      output: IngestResult,
      summary: "Validates, deduplicates and durably stores events; bad ones are reported by index",
    },
    read: {
      input: T.Object(
        {
          consumer: T.String({ pattern: "^[A-Za-z0-9_.-]{1,64}$", description: "Who reads: its lag is tracked." }),
          after: T.Integer({ minimum: 0, description: "Return events with seq greater than this." }),
          max: T.Optional(T.Integer({ minimum: 1, maximum: 10_000, description: "At most this many events (default 1000)." })),
          waitMs: T.Optional(T.Integer({ minimum: 0, maximum: 5000, description: "Wait this long for new events." })),
        },
        strict,
      ),
      output: T.Object({ events: T.Array(LoggedEvent), head: T.Integer() }),
      summary: "Events of the log after a position, in order (consumers and replays)",
    },
    schema: {
      input: T.Object({}, strict),
      output: T.Object({ eventTypes: T.Record(T.String(), EventTypeSpec) }),
      summary: "The configured event types and their fields (consumers check their definitions against it)",
    },
    stats: {
      input: T.Object({}, strict),
      output: T.Object({
        log: T.Union([T.Literal("sqlite"), T.Literal("jetstream")]),
        head: T.Integer(),
        consumers: T.Record(T.String(), T.Object({ position: T.Integer(), lag: T.Integer(), lastReadMs: T.Number() })),
      }),
      summary: "Log head and each consumer's position and lag",
    },
  },
  events: {},
  routes: [
    pingRoute("ingestion"),
    {
      method: "POST",
      path: "/v1/events",
      operation: "ingest",
      body: "raw",
      summary: "One event (JSON object), a batch (JSON array) or NDJSON",
      toInput: (req: HttpRequestView) => {
        const body = req.body as Uint8Array;
        if (body.length > MAX_INGEST_BODY_BYTES) {
          throw new CleaveError(
            "PAYLOAD_TOO_LARGE",
            `request body of ${body.length} bytes exceeds the ingestion limit of ${MAX_INGEST_BODY_BYTES}; split the batch`,
          );
        }
        return { body };
      },
    },
    { method: "GET", path: "/v1/events/stats", operation: "stats", toInput: () => ({}) },
  ],
  config: IngestionConfig,
});

/** Subject on which producers that speak NATS send a JSON/NDJSON body as a request; the reply is the JSON result. */
export const producerSubject = (deployment: string) => `cleave.${deployment}.ingest.submit`;

/**
 * The most events one `ingest` call may carry (modules.ingestion.maxBatchEvents of the serving process), when `err`
 * is ingestion refusing a larger batch (PAYLOAD_TOO_LARGE with `details.max`): callers that batch split on it.
 */
export function batchLimitOf(err: unknown): number | undefined {
  if (!(err instanceof CleaveError) || err.code !== "PAYLOAD_TOO_LARGE") return undefined;
  const max = (err.details as { max?: unknown } | undefined)?.max;
  return Number.isInteger(max) && (max as number) >= 1 ? (max as number) : undefined;
}
