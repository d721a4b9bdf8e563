/**
 * One loaded model version: its graph description, where it runs (event loop or workers), its batching queue and
 * its counters. Requests are validated here, against the model's own metadata, before anything reaches
 * onnxruntime: a wrong name, datatype, shape or element count is a 400 naming the input, never a bad buffer.
 */
import { availableParallelism } from "node:os";
import type { CallContext } from "../../runtime/contract";
import { CleaveError } from "../../runtime/errors";
import type { Logger } from "../../runtime/log";
import { type BatchingSettings, Scheduler } from "./batcher";
import type { InferRequest, InferResult, ModelOptions } from "./contract";
import { type Executor, InlineExecutor, WorkerPool } from "./executor";
import { type GraphInfo, inspectModel, type IoSpec, metadataShape } from "./onnx-graph";
import type { Feeds, SessionSettings } from "./session";
import { ModelStats } from "./stats";
import { DATATYPES, elementCount, fromBinary, fromJson, type TensorValues } from "./tensor";

type Options = NonNullable<ModelOptions>;
const bad = (message: string) => new CleaveError("INVALID_ARGUMENT", message);

/** Full-batch warm-up runs slower than this move a model with `workers: auto` off the event loop. */
const INLINE_LIMIT_MS = 1;
const WARMUP_RUNS = 5;

export function sessionSettings(o: Options["session"]): SessionSettings {
  return {
    intraOpThreads: o?.intraOpThreads ?? 1,
    interOpThreads: o?.interOpThreads ?? 1,
    graphOptimizationLevel: o?.graphOptimizationLevel ?? "all",
    executionMode: o?.executionMode ?? "sequential",
  };
}

export function batchingSettings(o: Options["batching"]): BatchingSettings {
  return { maxBatchSize: o?.maxBatchSize ?? 64, maxQueueDelayMs: o?.maxQueueDelayMs ?? 0, maxQueue: o?.maxQueue ?? 256 };
}

/**
 * Zeros of each input's declared shape (dim 0 as `rows`, other dynamic dims as 1): exercises every kernel once
 * before real traffic, and times the largest run the event loop would have to sit through.
 */
function warmupFeeds(inputs: IoSpec[], rows: number): Feeds {
  const feeds: Feeds = {};
  for (const spec of inputs) {
    const shape = spec.dims ? spec.dims.map((d, i) => d ?? (i === 0 ? rows : 1)) : [1];
    const n = elementCount(shape);
    const data: TensorValues = spec.datatype === "BYTES" ? new Array<string>(n).fill("") : new DATATYPES[spec.datatype].array!(n);
    feeds[spec.name] = { datatype: spec.datatype, shape, data };
  }
  return feeds;
}

/**
 * The fastest of a few timed runs after a first untimed one: a single sample can be preempted on a busy machine,
 * and a small model misjudged as slow would serve through worker threads (a thread hop per batch) for good. A run
 * far past the inline limit ends the timing early, so a genuinely slow model is not run over and over here.
 */
async function timedWarmup(executor: Executor, info: GraphInfo, rows: number): Promise<number | undefined> {
  const feeds = warmupFeeds(info.inputs, rows);
  const fetches = info.outputs.map((o) => o.name);
  try {
    await executor.run(feeds, fetches);
    let fastest = Infinity;
    for (let i = 0; i < WARMUP_RUNS && (i === 0 || fastest <= 10 * INLINE_LIMIT_MS); i++) {
      const start = performance.now();
      await executor.run(feeds, fetches);
      fastest = Math.min(fastest, performance.now() - start);
    }
    return fastest;
  } catch {
    // Zeros are not valid input for every model (a shape tensor, an index): such a model simply starts cold.
    return undefined;
  }
}

export class ModelVersion {
  readonly stats: ModelStats;
  private readonly scheduler: Scheduler;
  private readonly inputsByName: Map<string, IoSpec>;
  private readonly outputsByName: Map<string, IoSpec>;

  private constructor(
    readonly name: string,
    readonly version: string,
    readonly info: GraphInfo,
    private readonly executor: Executor,
    batchable: boolean,
    settings: BatchingSettings,
    readonly columns: string[] | undefined,
    readonly warmupMs: number | undefined,
    log: Logger,
  ) {
    this.stats = new ModelStats(name, version);
    this.inputsByName = new Map(info.inputs.map((i) => [i.name, i]));
    this.outputsByName = new Map(info.outputs.map((o) => [o.name, o]));
    this.scheduler = new Scheduler(executor, settings, batchable, info.outputs.map((o) => o.name), this.stats, (reason) =>
      log.warn({ model: name, version, reason }, "batching turned off: the model does not keep rows independent"),
    );
  }

  /** Inspects, creates the session(s) and warms up; the version takes traffic only after this resolves. */
  static async load(name: string, version: string, bytes: Uint8Array, options: Options, log: Logger): Promise<ModelVersion> {
    const info = inspectModel(bytes);
    const session = sessionSettings(options.session);
    const batching = batchingSettings(options.batching);
    const batchable =
      batching.maxBatchSize > 1 &&
      info.inputs.length > 0 &&
      [...info.inputs, ...info.outputs].every((s) => s.dims !== null && s.dims.length > 0 && s.dims[0] === null);
    const workers = options.workers ?? "auto";
    let executor: Executor = workers === 0 || workers === "auto"
      ? await InlineExecutor.create(info.bytes, session)
      : await WorkerPool.create(info.bytes, session, workers);
    let warmupMs: number | undefined;
    try {
      // One row first: a model slow even then goes straight to workers, without ever running (and allocating) a
      // full batch on the event loop. Otherwise a full batch is what a busy model runs: time that.
      const rows = batchable ? batching.maxBatchSize : 1;
      warmupMs = await timedWarmup(executor, info, 1);
      if (rows > 1 && warmupMs !== undefined && warmupMs <= INLINE_LIMIT_MS) warmupMs = await timedWarmup(executor, info, rows);
      if (workers === "auto" && warmupMs !== undefined && warmupMs > INLINE_LIMIT_MS) {
        // One core stays with the event loop (HTTP, JSON, batching); more than two workers rarely pays for the
        // extra session memory, since each run already uses its batch.
        const pool = await WorkerPool.create(info.bytes, session, Math.max(1, Math.min(2, availableParallelism() - 1)));
        await executor.close();
        executor = pool;
        warmupMs = (await timedWarmup(executor, info, 1)) ?? warmupMs;
      }
    } catch (err) {
      await executor.close();
      throw err;
    }
    log.info({ model: name, version, workers: executor.workers, batching: batchable, warmupMs }, "model version loaded");
    return new ModelVersion(name, version, info, executor, batchable, batching, options.columns, warmupMs, log);
  }

  get workers(): number {
    return this.executor.workers;
  }

  get batching(): boolean {
    return this.scheduler.batching;
  }

  metadata() {
    const tensor = (s: IoSpec) => ({
      name: s.name,
      datatype: s.datatype,
      shape: metadataShape(s),
      ...(s.classLabels && { parameters: { class_labels: s.classLabels } }),
    });
    return { inputs: this.info.inputs.map(tensor), outputs: this.info.outputs.map(tensor) };
  }

  async infer(request: InferRequest, ctx: CallContext): Promise<InferResult> {
    const start = performance.now();
    let ok = false;
    try {
      const feeds = this.feedsOf(request);
      const selected = this.selectOutputs(request);
      const outputs = await this.scheduler.submit(feeds, ctx.deadline);
      ok = true;
      return {
        model_name: this.name,
        model_version: this.version,
        ...(request.id !== undefined && { id: request.id }),
        outputs: selected.map(({ name, binary }) => {
          const t = outputs[name];
          return { name, datatype: t.datatype, shape: t.shape, data: t.data, ...(binary && { parameters: { binary_data: true } }) };
        }),
      };
    } catch (err) {
      if (err instanceof CleaveError && (err.code === "RESOURCE_EXHAUSTED" || err.code === "UNAVAILABLE")) this.stats.rejected++;
      throw err;
    } finally {
      this.stats.request(performance.now() - start, ok);
    }
  }

  private feedsOf(request: InferRequest): Feeds {
    const feeds: Feeds = {};
    for (const input of request.inputs) {
      const what = `input "${input.name}"`;
      const spec = this.inputsByName.get(input.name);
      if (!spec) {
        throw bad(`${what} is not an input of model "${this.name}"; it takes: ${[...this.inputsByName.keys()].join(", ")}`);
      }
      if (feeds[input.name]) throw bad(`${what} is given twice`);
      if (input.datatype !== spec.datatype) {
        throw bad(`${what} has datatype ${JSON.stringify(input.datatype)} but the model takes ${spec.datatype}`);
      }
      checkShape(what, input.shape, spec);
      feeds[input.name] = { datatype: spec.datatype, shape: input.shape, data: this.valuesOf(what, spec, input.shape, input.data) };
    }
    for (const name of this.inputsByName.keys()) {
      if (!feeds[name]) throw bad(`input "${name}" is missing; model "${this.name}" takes: ${[...this.inputsByName.keys()].join(", ")}`);
    }
    return feeds;
  }

  private valuesOf(what: string, spec: IoSpec, shape: number[], data: unknown): TensorValues {
    if (data === undefined) throw bad(`${what} has no "data" (nor binary_data_size)`);
    if (!ArrayBuffer.isView(data)) return fromJson(what, spec.datatype, shape, data);
    const own = DATATYPES[spec.datatype].array;
    if (data instanceof Uint8Array) return fromBinary(what, spec.datatype, shape, data);
    if (own && data instanceof own && spec.datatype !== "FP16") {
      const expected = elementCount(shape);
      if (data.length !== expected) throw bad(`${what}: shape [${shape.join(",")}] holds ${expected} elements but data has ${data.length}`);
      return data as TensorValues;
    }
    throw bad(`${what}: data is a ${data.constructor.name}, which does not hold ${spec.datatype} (send raw bytes as Uint8Array)`);
  }

  private selectOutputs(request: InferRequest): { name: string; binary: boolean }[] {
    const allBinary = request.parameters?.binary_data_output === true;
    if (!request.outputs?.length) return this.info.outputs.map((o) => ({ name: o.name, binary: allBinary }));
    return request.outputs.map((o) => {
      if (!this.outputsByName.has(o.name)) {
        throw bad(`output "${o.name}" is not an output of model "${this.name}"; it has: ${[...this.outputsByName.keys()].join(", ")}`);
      }
      const binary = o.parameters?.binary_data;
      return { name: o.name, binary: binary === undefined ? allBinary : binary === true };
    });
  }

  /** Stops taking work, lets queued and running requests finish, then frees the session(s). */
  async retire(): Promise<void> {
    await this.scheduler.drain();
    await this.executor.close();
  }
}

function checkShape(what: string, shape: number[], spec: IoSpec): void {
  const dims = spec.dims;
  if (!dims) return;
  // Messages are built only on failure: this runs on every request.
  const expected = () => `[${dims.map((d) => d ?? -1).join(",")}]`;
  if (shape.length !== dims.length) {
    throw bad(`${what} has shape [${shape.join(",")}] (rank ${shape.length}) but the model takes ${expected()} (rank ${dims.length})`);
  }
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i];
    if (d !== null && shape[i] !== d) throw bad(`${what} has shape [${shape.join(",")}] but the model takes ${expected()}: dim ${i} must be ${d}`);
  }
}
