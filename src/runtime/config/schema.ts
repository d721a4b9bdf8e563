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
    nkeySeedFile: T.Optional(
      T.String({ description: "File holding this process's NKey seed (`SU…`) for NATS nkey authentication." }),
    ),
    credsFile: T.Optional(
      T.String({ description: "NATS credentials file (user JWT + NKey seed, as written by `nsc`) for decentralized auth." }),
    ),
    tls: T.Optional(
      T.Object(
        {
          caFile: T.Optional(T.String({ description: "CA certificate (PEM) the NATS server's certificate must chain to." })),
          certFile: T.Optional(T.String({ description: "Client certificate (PEM), when the server verifies clients." })),
          keyFile: T.Optional(T.String({ description: "Private key (PEM) of `certFile`." })),
        },
        { ...strict, description: "Connect to NATS over TLS (any of these keys turns TLS on)." },
      ),
    ),
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

const Bucket = T.Object(
  {
    rate: T.Number({ exclusiveMinimum: 0, description: "Sustained requests per second (the bucket's refill rate)." }),
    burst: T.Integer({ minimum: 1, description: "Bucket size: requests allowed at once before the rate applies." }),
  },
  strict,
);

const AccessRule = T.Object(
  {
    operations: T.Array(T.String({ minLength: 1 }), {
      minItems: 1,
      description:
        "`module.operation` names this rule covers; `*` wildcards (`registry.*`, `*`). Runtime routes are " +
        "`runtime.readyz`, `runtime.metrics`, `runtime.openapi`.",
    }),
    models: T.Optional(
      T.Array(T.String({ minLength: 1 }), {
        description: "Only requests naming one of these models (the `:name`/`:model` path parameter); omit for any.",
      }),
    ),
    roles: T.Array(T.String({ minLength: 1 }), { description: "Roles allowed by this rule (any one suffices)." }),
  },
  strict,
);

export const AuthSchema = T.Object(
  {
    mode: T.Union([T.Literal("off"), T.Literal("on")], {
      default: "off",
      description:
        "`on`: every route except `/healthz` (and `auth.publicRoutes`) needs an API key or a JWT, and rules decide " +
        "who may call what. `off`: anyone who reaches the port may call anything (logged as a warning at start).",
    }),
    publicRoutes: T.Array(T.Union([T.Literal("/readyz"), T.Literal("/metrics"), T.Literal("/openapi")]), {
      uniqueItems: true,
      default: ["/readyz"],
      description: "Runtime routes answered without credentials when auth is on (for probes and scrapers).",
    }),
    adminRoles: T.Array(T.String({ minLength: 1 }), {
      default: ["admin"],
      description: "Roles allowed everything, whatever the rules say (the first-start key has the first of them).",
    }),
    rules: T.Array(AccessRule, {
      default: [],
      description:
        "Who may call what: the first rule matching a request's operation (and model) decides; no match is a 403.",
    }),
    apiKeys: T.Object(
      {
        enabled: T.Boolean({ default: true, description: "Accept API keys (`Authorization: Bearer clv_…` or `X-API-Key`)." }),
        bootstrap: T.Boolean({
          default: true,
          description: "On a start with auth on and no key at all, create an admin key and print it once on stderr.",
        }),
        bootstrapKey: T.Optional(
          T.String({
            pattern: "^(clv_[A-Za-z0-9]+_[A-Za-z0-9_-]{32,})?$",
            description:
              "Use this key (e.g. `${CLEAVE_ADMIN_KEY}`; form `clv_<id>_<32+ random chars>`) for that first admin key " +
              "instead of a random one, so a script that starts Cleave knows it. Only its hash is stored. Empty: random.",
          }),
        ),
      },
      { ...strict, default: {} },
    ),
    jwt: T.Optional(
      T.Object(
        {
          algorithms: T.Array(T.Union([T.Literal("HS256"), T.Literal("RS256"), T.Literal("EdDSA")]), {
            minItems: 1,
            default: ["HS256", "RS256", "EdDSA"],
            description: "Signature algorithms accepted (`none` never is).",
          }),
          secret: T.Optional(T.String({ minLength: 32, description: "HS256 shared secret. Use `${ENV_VAR}`." })),
          publicKeyFiles: T.Array(T.String(), {
            default: [],
            description: "PEM public keys (SPKI) for RS256/EdDSA, relative to the config file.",
          }),
          jwksFile: T.Optional(T.String({ description: "A JWKS file (`{keys: […]}`) of public keys, selected by `kid`." })),
          issuer: T.Optional(T.String({ description: "Required `iss` claim." })),
          audience: T.Optional(T.String({ description: "Required `aud` claim." })),
          rolesClaim: T.String({ default: "roles", description: "Claim holding the roles (array or space-separated string; dots for nesting)." }),
          clockToleranceSeconds: T.Integer({ minimum: 0, default: 30, description: "Leeway for `exp`/`nbf`." }),
        },
        { ...strict, description: "Accept JWTs as `Authorization: Bearer …`; `exp` is required." },
      ),
    ),
  },
  { ...strict, default: {} },
);

export const RateLimitSchema = T.Object(
  {
    perIdentity: T.Optional(T.Object(Bucket.properties, { ...strict, description: "Default bucket of each caller (identity, or client address when auth is off)." })),
    perModel: T.Optional(T.Object(Bucket.properties, { ...strict, description: "Default bucket of each model named in a request path, shared by all callers." })),
    identities: T.Record(T.String(), Bucket, { default: {}, description: "Buckets of named identities, over `perIdentity`." }),
    models: T.Record(T.String(), Bucket, { default: {}, description: "Buckets of named models, over `perModel`." }),
  },
  { ...strict, default: {} },
);

export const AuditSchema = T.Object(
  {
    enabled: T.Boolean({
      default: true,
      description: "Keep a hash-chained audit log (dataDir/audit/) of writes, denials and predictions served by the gateway.",
    }),
    reads: T.Boolean({ default: false, description: "Also audit successful GET requests." }),
    retentionDays: T.Number({ exclusiveMinimum: 0, default: 365, description: "Records older than this are deleted (the chain keeps an anchor)." }),
    flushIntervalMs: T.Integer({ minimum: 1, default: 20, description: "Records are committed in groups this often." }),
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
        backgroundNice: T.Integer({
          minimum: 0,
          maximum: 19,
          default: 10,
          description:
            "Linux: the nice value given to this process's background threads (SQLite writers, the JavaScript " +
            "engine's compiler threads; not the event loop, the garbage collector or model workers), so that they " +
            "yield the CPU to request handling. 0: leave them as started.",
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
        maxJsonDepth: T.Integer({ minimum: 1, default: 64, description: "Deepest nesting of arrays/objects in a JSON body; deeper gets 400." }),
        maxStringLength: T.Integer({
          minimum: 1,
          default: 1 << 20,
          description: "Longest string (in characters, escaped) in a JSON body; longer gets 413.",
        }),
        maxBatchSize: T.Integer({
          minimum: 1,
          default: 4096,
          description: "Largest batch in an inference body (first dimension of an input's shape, or `instances` length); larger gets 413.",
        }),
        maxTensorElements: T.Integer({
          minimum: 1,
          default: 16_777_216,
          description: "Most elements of one input tensor (product of its shape); more gets 413.",
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
    tracing: T.Object(
      {
        otlpUrl: T.Optional(
          T.String({
            pattern: "^https?://",
            description:
              "Export spans over OTLP/HTTP to this URL (e.g. http://collector:4318/v1/traces). Unset: trace ids still flow, nothing is recorded.",
          }),
        ),
        sampleRatio: T.Number({
          minimum: 0,
          maximum: 1,
          default: 1,
          description: "Share of new traces recorded when exporting (traces started by a caller follow its decision).",
        }),
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
    auth: AuthSchema,
    rateLimits: RateLimitSchema,
    audit: AuditSchema,
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
export type AuthConfig = Static<typeof AuthSchema>;
export type RateLimitConfig = Static<typeof RateLimitSchema>;
export type AuditConfig = Static<typeof AuditSchema>;
export type BucketConfig = Static<typeof Bucket>;
