/**
 * The config file's schema: every key Cleave reads, its type, default and meaning. This file is the reference;
 * docs/configuration.md is generated from these descriptions (`bun scripts/config-doc.ts`). Module sections
 * (`modules.<name>`) are described by each module's contract.
 */
import { type Static, Type as T } from "@sinclair/typebox";

const strict = { additionalProperties: false } as const;

export const NatsSchema = T.Object(
  {
    servers: T.Array(T.String({ minLength: 1 }), {
      minItems: 1,
      default: ["nats://127.0.0.1:4222"],
      description: "NATS server URLs to connect to (any one is enough; the client learns the cluster).",
    }),
    user: T.Optional(T.String({ description: "User name for NATS user/password authentication." })),
    pass: T.Optional(T.String({ description: "Password for `user`. Use `${ENV_VAR}` rather than writing it here." })),
    token: T.Optional(T.String({ description: "Token for NATS token authentication." })),
    onUnreachable: T.Union([T.Literal("exit"), T.Literal("retry")], {
      default: "exit",
      description: "At start, when no server answers: `exit` with an error, or `retry` (logged) until one does.",
    }),
    connectTimeoutMs: T.Integer({ minimum: 100, default: 2000, description: "Time allowed for one connect attempt." }),
    events: T.Object(
      {
        maxAgeSeconds: T.Integer({ minimum: 1, default: 7 * 86400, description: "How long JetStream keeps events." }),
        maxBytes: T.Integer({ minimum: -1, default: 1 << 30, description: "Size cap of the event stream (-1: none)." }),
      },
      { ...strict, default: {} },
    ),
  },
  { ...strict, default: {} },
);

export const ConfigSchema = T.Object(
  {
    extends: T.Optional(
      T.String({
        description:
          "Another config file (relative to this one) whose keys this file starts from: maps merge key by key, other values replace.",
      }),
    ),
    deployment: T.String({
      pattern: "^[a-z][a-z0-9-]{0,31}$",
      default: "cleave",
      description: "Name of this deployment; part of every NATS subject, so two deployments can share a server.",
    }),
    dataDir: T.String({
      minLength: 1,
      default: "./data",
      description: "Where modules keep their files (SQLite, blobs), one subdirectory per module.",
    }),
    modules: T.Record(T.String(), T.Union([T.Object({}, { additionalProperties: true }), T.Null()]), {
      description:
        "The modules of the deployment, each with its own settings (an empty map or null for defaults). " +
        "Built in: ingestion, feature, inference, decision, registry, monitoring; plugins add more.",
    }),
    process: T.Object(
      {
        name: T.Optional(T.String({ description: "Name of this process in logs (default: its modules' names)." })),
        modules: T.Union([T.Literal("all"), T.Array(T.String(), { uniqueItems: true })], {
          default: "all",
          description: "Which of the deployment's modules run in this process (`--modules` overrides).",
        }),
      },
      { ...strict, default: {} },
    ),
    http: T.Object(
      {
        enabled: T.Boolean({ default: true, description: "Serve the REST gateway from this process." }),
        host: T.String({ default: "127.0.0.1", description: "Address the gateway listens on." }),
        port: T.Integer({ minimum: 0, maximum: 65535, default: 8080, description: "Port (0: any free port)." }),
        maxBodyBytes: T.Integer({
          minimum: 1024,
          default: 64 * 1024 * 1024,
          description: "Largest request body accepted; larger ones get 413.",
        }),
        readyTimeoutMs: T.Integer({
          minimum: 10,
          default: 1000,
          description: "How long `/readyz` waits for each module's health answer.",
        }),
      },
      { ...strict, default: {} },
    ),
    bus: T.Object(
      {
        transport: T.Union([T.Literal("inprocess"), T.Literal("nats")], {
          default: "inprocess",
          description: "`inprocess`: modules not in this process are unreachable. `nats`: reach them over NATS.",
        }),
        serialize: T.Boolean({
          default: false,
          description: "In-process only: force every call through the wire encoding (a test mode).",
        }),
        defaultTimeoutMs: T.Integer({ minimum: 1, default: 5000, description: "Deadline of a call that sets none." }),
        nats: NatsSchema,
      },
      { ...strict, default: {} },
    ),
    log: T.Object(
      {
        level: T.Union(
          ["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((l) => T.Literal(l)),
          { default: "info", description: "Minimum level written to stdout (JSON lines)." },
        ),
      },
      { ...strict, default: {} },
    ),
    shutdown: T.Object(
      {
        drainTimeoutMs: T.Integer({
          minimum: 0,
          default: 10_000,
          description: "On SIGTERM/SIGINT: how long in-flight calls may take to finish before the process exits.",
        }),
      },
      { ...strict, default: {} },
    ),
    plugins: T.Array(
      T.Object(
        {
          path: T.String({ description: "File exporting a module definition, relative to the config file." }),
        },
        strict,
      ),
      { default: [], description: "User modules loaded at start; list them under `modules` to run them." },
    ),
    up: T.Object(
      {
        nats: T.Object(
          {
            start: T.Boolean({ default: false, description: "`cleave up` starts a local nats-server first." }),
            port: T.Integer({ minimum: 1, maximum: 65535, default: 4222, description: "Its client port." }),
            storeDir: T.String({ default: "./data/nats", description: "Its JetStream storage directory." }),
          },
          { ...strict, default: {} },
        ),
        processes: T.Array(
          T.Object(
            {
              name: T.String({ pattern: "^[a-z][a-z0-9-]*$", description: "Process name in logs." }),
              modules: T.Array(T.String(), { description: "Modules this process runs (may be empty)." }),
              replicas: T.Integer({ minimum: 1, default: 1, description: "How many copies to start." }),
              httpPort: T.Union([T.Integer({ minimum: 0, maximum: 65535 }), T.Null()], {
                default: null,
                description: "Serve the gateway from this process on this port (null: no gateway).",
              }),
            },
            strict,
          ),
          { default: [], description: "The processes `cleave up` starts, each a `cleave serve --modules …`." },
        ),
      },
      { ...strict, default: {} },
    ),
  },
  strict,
);

export type Config = Static<typeof ConfigSchema>;
export type NatsConfig = Static<typeof NatsSchema>;
