/** The inference module's public contract: the only part of it other modules and the gateway may import. */
import { type Static, Type as T } from "@sinclair/typebox";
import { defineContract, type RouteDef } from "../../runtime/contract";
import { StringMap } from "../../runtime/validation";
import { pingOperation, pingRoute } from "../../runtime/ping";
import { inferInputFromHttp, inferResponse, predictInputFromHttp } from "./http";

const strict = { additionalProperties: false } as const;
const Params = StringMap(T.Unknown());

export const SessionSchema = T.Object(
  {
    intraOpThreads: T.Optional(T.Integer({ minimum: 0, maximum: 256, description: "Threads inside one operator (0: onnxruntime's default, all cores). Default 1." })),
    interOpThreads: T.Optional(T.Integer({ minimum: 0, maximum: 256, description: "Threads across operators in parallel mode (0: onnxruntime's default). Default 1." })),
    graphOptimizationLevel: T.Optional(T.Union([T.Literal("disabled"), T.Literal("basic"), T.Literal("extended"), T.Literal("all")], { description: "onnxruntime graph optimizations. Default all." })),
    executionMode: T.Optional(T.Union([T.Literal("sequential"), T.Literal("parallel")], { description: "Run independent operators in parallel. Default sequential." })),
  },
  strict,
);

export const BatchingSchema = T.Object(
  {
    maxBatchSize: T.Optional(T.Integer({ minimum: 1, maximum: 65536, description: "Most rows in one run; 1 turns batching off. Default 64." })),
    maxQueueDelayMs: T.Optional(T.Number({ minimum: 0, maximum: 10_000, description: "How long a request may wait for others to fill a batch when the model is idle. Default 0 (batch only what queued while the model was busy)." })),
    maxQueue: T.Optional(T.Integer({ minimum: 1, maximum: 1_000_000, description: "Requests waiting per model version before new ones get 429. Default 256." })),
  },
  strict,
);

export const WorkersSchema = T.Union([T.Literal("auto"), T.Integer({ minimum: 0, maximum: 64 })], {
  description: "Worker threads running this model (0: on the event loop). auto: 0 when a warm-up run of a full batch takes under 1 ms, else cores − 1 clamped to 1..2. Default auto.",
});

/** Options that apply to one model version, whether it comes from the config or from a `load` call. */
const ModelOptions = {
  batching: T.Optional(BatchingSchema),
  workers: T.Optional(WorkersSchema),
  session: T.Optional(SessionSchema),
  columns: T.Optional(T.Array(T.String({ minLength: 1 }), { minItems: 1, description: "Column order for V1 named-column instances (`{\"amount\": 1, …}` → the model's single input row)." })),
};

const ModelName = T.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$" });
const Version = T.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$" });

export const ModelConfigSchema = T.Object(
  {
    name: ModelName,
    version: T.Optional(T.Union([Version, T.Integer({ minimum: 0 })], { description: "Default \"1\"." })),
    path: T.String({ minLength: 1, description: "The .onnx file (relative paths are relative to the working directory)." }),
    ...ModelOptions,
  },
  strict,
);

export const FollowSchema = T.Object(
  {
    model: T.String({ pattern: "^[A-Za-z][A-Za-z0-9._-]{0,127}$", description: "Registered model name; also the name it is served under." }),
    alias: T.String({ pattern: "^[A-Za-z][A-Za-z0-9_-]{0,63}$", default: "champion", description: "Alias to follow (e.g. champion)." }),
    ...ModelOptions,
  },
  strict,
);

export const RegistryFollowSchema = T.Object(
  {
    follow: T.Array(FollowSchema, {
      default: [],
      description: "Registry aliases to serve: each alias's version is loaded, and reloaded whenever the alias moves. The first follow of a model sets its default version.",
    }),
    retrySeconds: T.Number({ minimum: 0.1, maximum: 3600, default: 5, description: "Longest wait between attempts while the registry is unreachable or a followed alias has nothing loaded." }),
    resyncSeconds: T.Number({ minimum: 1, maximum: 86_400, default: 60, description: "How often each alias is re-read from the registry even without events (catches events missed while disconnected)." }),
    downloadTimeoutMs: T.Integer({ minimum: 100, maximum: 3_600_000, default: 30_000, description: "Deadline of each registry call (one artifact chunk each)." }),
    signatures: T.Optional(
      T.Object(
        {
          required: T.Boolean({ description: "Refuse versions without a valid signature by a trusted key." }),
          trustedKeys: T.Array(T.String({ pattern: "^[A-Za-z0-9+/]{43}=$" }), { description: "base64 raw ed25519 public keys." }),
        },
        { ...strict, description: "Inference's own signature policy; default: the registry's (`registry.policy`)." },
      ),
    ),
  },
  { ...strict, default: {} },
);
export type RegistryFollowConfig = Static<typeof RegistryFollowSchema>;

export const InferenceConfigSchema = T.Object(
  {
    registry: RegistryFollowSchema,
    modelDir: T.Optional(T.String({ minLength: 1, description: "Directory of models: <name>/<version>/model.onnx or <name>.onnx (version 1)." })),
    models: T.Array(ModelConfigSchema, { default: [], description: "Models to load at start." }),
    defaults: T.Object(ModelOptions, { ...strict, default: {}, description: "Options for every model that does not set its own." }),
  },
  { ...strict, default: {} },
);
export type InferenceConfig = Static<typeof InferenceConfigSchema>;
export type ModelOptions = Static<typeof InferenceConfigSchema>["defaults"];

const TensorMeta = T.Object({ name: T.String(), datatype: T.String(), shape: T.Array(T.Integer()), parameters: T.Optional(Params) });
const RequestTensor = T.Object({
  name: T.String(),
  datatype: T.String(),
  shape: T.Array(T.Integer({ minimum: 0 })),
  /** JSON array (flat or nested), a typed array of the datatype (bus callers), or raw bytes (binary extension). */
  data: T.Optional(T.Unknown()),
  parameters: T.Optional(Params),
});
const ResponseTensor = T.Object({
  name: T.String(),
  datatype: T.String(),
  shape: T.Array(T.Integer()),
  data: T.Unknown(),
  parameters: T.Optional(Params),
});
const ModelRef = T.Object({ name: T.String(), version: T.Optional(T.String()) });

export const InferInput = T.Object({
  name: T.String(),
  version: T.Optional(T.String()),
  id: T.Optional(T.String()),
  parameters: T.Optional(Params),
  inputs: T.Array(RequestTensor),
  outputs: T.Optional(T.Array(T.Object({ name: T.String(), parameters: T.Optional(Params) }))),
});
export const InferOutput = T.Object({
  model_name: T.String(),
  model_version: T.String(),
  id: T.Optional(T.String()),
  outputs: T.Array(ResponseTensor),
});
export type InferRequest = Static<typeof InferInput>;
export type InferResult = Static<typeof InferOutput>;

const ModelStats = T.Object({
  name: T.String(),
  version: T.String(),
  requests: T.Integer(),
  errors: T.Integer(),
  rejected: T.Integer(),
  batches: T.Integer(),
  rows: T.Integer(),
  latencyMs: T.Object({ sum: T.Number(), max: T.Number(), buckets: T.Array(T.Tuple([T.Number(), T.Integer()])) }),
  queueMs: T.Object({ sum: T.Number(), max: T.Number() }),
  batchSize: T.Object({ sum: T.Integer(), max: T.Integer() }),
});

const v2 = (method: RouteDef["method"], path: string, operation: string, extra: Partial<RouteDef> = {}): RouteDef[] => [
  { method, path: `/v2/models/:name${path}`, operation, ...extra },
  { method, path: `/v2/models/:name/versions/:version${path}`, operation, ...extra },
];
const readyStatus = (out: { ready: boolean }, res: { status: number }) => {
  res.status = out.ready ? 200 : 503;
  return out;
};

export const inferenceContract = defineContract({
  name: "inference",
  description: "Serves ONNX models behind the Open Inference Protocol v2 with adaptive batching.",
  operations: {
    ping: pingOperation,
    server: { input: T.Object({}), output: T.Object({ name: T.String(), version: T.String(), extensions: T.Array(T.String()) }), summary: "OIP server metadata" },
    live: { input: T.Object({}), output: T.Object({ live: T.Boolean() }), summary: "The module answers" },
    ready: { input: T.Object({}), output: T.Object({ ready: T.Boolean(), models: T.Optional(T.Array(T.String())) }), summary: "Every configured model is loaded" },
    metadata: {
      input: ModelRef,
      output: T.Object({ name: T.String(), versions: T.Array(T.String()), platform: T.String(), inputs: T.Array(TensorMeta), outputs: T.Array(TensorMeta), parameters: T.Optional(Params) }),
      summary: "OIP model metadata",
    },
    modelReady: { input: ModelRef, output: T.Object({ name: T.String(), version: T.Optional(T.String()), ready: T.Boolean() }), summary: "The model (version) takes traffic" },
    infer: { input: InferInput, output: InferOutput, summary: "OIP v2 inference" },
    predict: {
      input: T.Object({ name: T.String(), version: T.Optional(T.String()), instances: T.Optional(T.Array(T.Unknown())), inputs: T.Optional(T.Unknown()) }),
      output: T.Object({ predictions: T.Array(T.Unknown()) }),
      summary: "V1 prediction: instances → predictions",
    },
    load: {
      input: T.Object({ name: ModelName, version: Version, bytes: T.Uint8Array({ minByteLength: 1 }), ...ModelOptions }),
      output: T.Object({ name: T.String(), version: T.String(), workers: T.Integer(), batching: T.Boolean(), warmupMs: T.Optional(T.Number()) }),
      summary: "Load (or replace) a model version from ONNX bytes; it takes traffic once warmed up",
    },
    unload: {
      input: ModelRef,
      output: T.Object({ unloaded: T.Array(T.String()) }),
      summary: "Stop routing to a model version (or all versions); in-flight requests finish",
    },
    index: {
      input: T.Object({}),
      output: T.Object({ models: T.Array(T.Object({ name: T.String(), version: T.String(), state: T.String(), workers: T.Integer(), batching: T.Boolean() })), failed: T.Array(T.Object({ name: T.String(), version: T.String(), reason: T.String() })) }),
      summary: "Loaded model versions, and those refused at load with the reason",
    },
    stats: {
      input: T.Object({ name: T.Optional(T.String()), version: T.Optional(T.String()) }),
      output: T.Object({ models: T.Array(ModelStats) }),
      summary: "Per model version counters for monitoring (all versions, or one model's, or one version's)",
    },
  },
  events: {},
  routes: [
    pingRoute("inference"),
    { method: "GET", path: "/v2", operation: "server" },
    { method: "GET", path: "/v2/health/live", operation: "live" },
    { method: "GET", path: "/v2/health/ready", operation: "ready", toResponse: readyStatus },
    { method: "GET", path: "/v2/repository/index", operation: "index" },
    // Triton's repository index is a POST with an optional body: accept that form too.
    { method: "POST", path: "/v2/repository/index", operation: "index", toInput: () => ({}) },
    ...v2("GET", "", "metadata"),
    ...v2("GET", "/ready", "modelReady", { toResponse: readyStatus }),
    ...v2("GET", "/stats", "stats"),
    ...v2("POST", "/infer", "infer", { body: "raw", toInput: inferInputFromHttp, toResponse: inferResponse }),
    // Elysia reads `/v1/models/iris:predict` as the parameter "iris:predict": the verb is split off in toInput.
    { method: "POST", path: "/v1/models/:model", operation: "predict", body: "raw", toInput: predictInputFromHttp },
  ],
  config: InferenceConfigSchema,
});
