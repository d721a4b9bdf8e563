/**
 * The feature module: a consumer of ingestion's log (pulled through the `ingestion.read` operation, so the same code
 * runs in one process or across NATS), the online store, and retrieval.
 */
import type { Bus } from "../../runtime/bus/bus";
import { ConfigError } from "../../runtime/config/load";
import { defineModule } from "../../runtime/contract";
import { deadlineExceeded, invalidArgument, toCleaveError } from "../../runtime/errors";
import type { Logger } from "../../runtime/log";
import { ping } from "../../runtime/ping";
import { Throttle } from "../../runtime/throttle";
import { ingestionContract, type IngestionConfig } from "../ingestion/contract";
import { featureContract, type FeatureConfig, type ObservedEvent, type VectorResult, type VectorRow } from "./contract";
import { compilePlan } from "./definitions";
import { checkRequest, computeVector, entityIdOf, FeatureApplier, type EngineEvent } from "./engine";
import { registerFeatureMetrics } from "./metrics";
import { OnlineStore } from "./store";

const CONSUMER = "feature";
const SWEEP_INTERVAL_MS = 5_000;
/** Store sweeps per interval (each reads a few hundred entities). */
const SWEEP_SLICES = 8;
const APPLY_SLICE = 500;
/** How long the consumer rests after a read that found only events the scoring path had applied (ms). */
const FOLLOW_PAUSE_MS = 50;

/** Event types come from the ingestion module: definitions are checked against them before anything starts. */
async function fetchEventTypes(bus: Bus, waitSeconds: number, log: Logger): Promise<IngestionConfig["eventTypes"]> {
  const until = Date.now() + waitSeconds * 1000;
  // Asked every 100 ms, told every 5 s: ingestion in another process may take a while to come up.
  const told = new Throttle(5000);
  for (;;) {
    try {
      return (await bus.call(ingestionContract, "schema", {}, { timeoutMs: 2000 })).eventTypes;
    } catch (err) {
      if (Date.now() > until) {
        throw new ConfigError(
          `module "feature" needs the ingestion module's event types, but ingestion did not answer within ` +
            `${waitSeconds} s (modules.feature.startupWaitSeconds): ${(err as Error).message}. Is ingestion part of ` +
            `the deployment and running?`,
        );
      }
      if (told.pass()) log.info({ reason: (err as Error).message }, "waiting for the ingestion module");
      await Bun.sleep(100);
    }
  }
}

function resolveAsOf(raw: number | string | undefined, what: string): number {
  if (raw === undefined) return Date.now();
  const ms = typeof raw === "number" ? raw : /^\d{4}-\d{2}-\d{2}/.test(raw) ? Date.parse(raw) : NaN;
  if (!Number.isFinite(ms)) throw invalidArgument(`${what} ${JSON.stringify(raw)} is neither ISO-8601 nor epoch ms`);
  return ms;
}

export default defineModule(featureContract, async (ctx) => {
  const cfg = ctx.config as FeatureConfig;
  const eventTypes = await fetchEventTypes(ctx.bus, cfg.startupWaitSeconds, ctx.log);
  const plan = compilePlan(cfg, eventTypes);
  const store = new OnlineStore(ctx.dataDir, plan, cfg.cacheEntities);
  registerFeatureMetrics(ctx.metrics, store);
  const applier = new FeatureApplier(plan, store.stateOf, store.touched);
  const saved = store.loadCheckpoint();
  Object.assign(applier, { watermark: saved.watermark, applied: saved.applied, lateDropped: saved.lateDropped });
  let position = saved.position;
  let running = true;
  let appliedWaiters: { seq: number; resolve: () => void }[] = [];
  /**
   * Seqs that `observe` applied ahead of the consumer (the scoring path applies its own event at once): the consumer
   * passes over them instead of applying them a second time. Each is removed when the consumer reaches it.
   */
  const observedAhead = new Set<number>();
  /**
   * Every event up to this seq is in the state: read by the consumer or observed ahead. Ingestion's seqs are dense,
   * so a scored event whose predecessors were all scored too need not wait for the consumer to read them back.
   */
  let frontier = position;

  let committed = position;
  let checkpointing: Promise<void> | undefined;
  const checkpoint = (): Promise<void> => {
    if (checkpointing) return checkpointing;
    if (store.pendingChanges === 0 && position === committed) return Promise.resolve();
    const cp = { position, watermark: applier.watermark, applied: applier.applied, lateDropped: applier.lateDropped };
    checkpointing = store
      .checkpoint(cp)
      .then(() => void (committed = cp.position))
      .catch((err) => ctx.log.error({ err }, "feature checkpoint failed; retrying at the next one"))
      .finally(() => (checkpointing = undefined));
    return checkpointing;
  };

  let lastReadOk = Date.now();
  let warnedReset = false;
  const advanceFrontier = () => {
    if (frontier < position) frontier = position;
    while (observedAhead.has(frontier + 1)) frontier++;
    if (appliedWaiters.length === 0) return;
    const ready = appliedWaiters.filter((w) => w.seq <= frontier);
    appliedWaiters = appliedWaiters.filter((w) => w.seq > frontier);
    for (const w of ready) w.resolve();
  };
  /** Wakes the consumer from a pause (someone waits for an event only the log can give). */
  let wakeConsumer: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => (wakeConsumer = undefined, resolve()), ms);
      wakeConsumer = () => (clearTimeout(timer), (wakeConsumer = undefined), resolve());
    });

  const consume = async () => {
    let failures = 0;
    while (running) {
      // Events the scoring path applied, with none missing before them, need not be read back.
      if (frontier > position) {
        for (let seq = position + 1; seq <= frontier; seq++) observedAhead.delete(seq);
        position = frontier;
      }
      let events: EngineEvent[];
      try {
        let head: number;
        ({ events, head } = await ctx.bus.call(ingestionContract, "read",
          { consumer: CONSUMER, after: position, max: cfg.batchSize, waitMs: 200 }, { timeoutMs: 10_000 }));
        failures = 0;
        lastReadOk = Date.now();
        if (head < position && !warnedReset) {
          warnedReset = true;
          ctx.log.error({ position, head }, "the event log is behind this module's position: it was reset. Features " +
            "wait for new events past the old position; to rebuild, stop, delete feature/features.sqlite and start");
        }
      } catch (err) {
        if (!running) break;
        if (failures++ % 20 === 0) ctx.log.warn({ err: (err as Error).message, position }, "cannot read the event log; retrying");
        await Bun.sleep(250);
        continue;
      }
      let readBack = 0;
      for (let i = 0; i < events.length; i++) {
        const e = events[i];
        try {
          if (observedAhead.delete(e.seq)) readBack++;
          else applier.apply(e);
        } catch (err) {
          // A malformed log entry (written around ingestion) must not stop the consumer: logged and skipped.
          ctx.log.error({ err, seq: e.seq }, "event could not be applied; skipped");
        }
        position = e.seq;
        // Catching up on a long log (after a restart or a bulk load) a slice at a time keeps scoring responsive.
        if ((i + 1) % APPLY_SLICE === 0) {
          advanceFrontier();
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      if (events.length) advanceFrontier();
      // All of it was applied already: the scoring path is keeping the state current, and reading now would mostly
      // read back what it is about to apply. Other producers' events wait at most the pause (or until waited for).
      if (events.length > 0 && readBack === events.length && appliedWaiters.length === 0) await pause(FOLLOW_PAUSE_MS);
    }
  };
  const consuming = consume();
  const checkpointTimer = setInterval(checkpoint, cfg.checkpointMs);
  // The sweep needs no checkpoint first (store.sweep judges a cached entity by its state in memory): forcing one here
  // made checkpoints run every sweep interval whatever checkpointMs said, and they are a visible part of the p99.
  const sweepTimer = setInterval(async () => {
    // A few small slices with the event loop free in between: one read of 2,000 rows stalled scoring ~5 ms.
    let removed = 0;
    try {
      for (let slice = 0; slice < SWEEP_SLICES && running; slice++) {
        if (slice > 0) await new Promise((resolve) => setImmediate(resolve));
        // A checkpoint holds the file's write lock on its thread until it commits: a sweep's deletes would wait for
        // it here, on the event loop. The sweep goes on at the next interval.
        if (checkpointing) break;
        const swept = store.sweep(applier.watermark);
        removed += swept.removed;
        if (swept.passDone) break;
      }
    } catch (err) {
      // Deletes need room in the WAL too: on a full disk the sweep waits for the next interval.
      ctx.log.error({ err }, "sweeping expired entities failed; retrying at the next sweep");
    }
    if (removed) ctx.log.info({ removed }, "expired idle entities");
  }, SWEEP_INTERVAL_MS);

  const waitUntilApplied = (seq: number, deadline: number) =>
    seq <= frontier
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            appliedWaiters = appliedWaiters.filter((w) => w !== waiter);
            reject(deadlineExceeded(`events up to seq ${seq} not applied yet (at ${frontier})`));
          }, Math.max(0, deadline - Date.now() - 5));
          const waiter = { seq, resolve: () => (clearTimeout(timer), resolve()) };
          appliedWaiters.push(waiter);
          wakeConsumer?.();
        });

  const entityIndex = new Map(plan.entities.map((e, i) => [e.name, i]));
  const vectorOf = (entities: Record<string, string | number>, request: Record<string, unknown> | undefined, asOf: number) => {
    for (const name of Object.keys(entities)) {
      if (!entityIndex.has(name)) {
        throw invalidArgument(`unknown entity "${name}"; defined: ${plan.entities.map((e) => e.name).join(", ") || "(none)"}`);
      }
    }
    checkRequest(plan, request);
    const states = plan.entities.map((e, i) => (e.name in entities ? store.peek(i, String(entities[e.name])) : undefined));
    return { asOf, ...computeVector(plan, states, request, asOf) };
  };

  /** Applies one ingested event (unless it already is) and returns its vector as of its time, including it. */
  const observeOne = (seq: number, event: ObservedEvent, request: Record<string, unknown> | undefined): VectorRow => {
    const ts = resolveAsOf(event.timestamp, "event.timestamp");
    const e: EngineEvent = { seq, type: event.type, ts, data: event.data };
    // Too late to apply: it is counted (stats.lateDropped) and the vector is answered without it.
    if (seq > position && !observedAhead.has(seq)) {
      applier.apply(e);
      observedAhead.add(seq);
      if (seq === frontier + 1) advanceFrontier();
    }
    const entities: Record<string, string> = {};
    for (const ent of plan.entities) {
      const id = entityIdOf(ent, e);
      if (id !== undefined) entities[ent.name] = id;
    }
    const fromEvent = Object.fromEntries(plan.request.filter((r) => r.name in event.data).map((r) => [r.name, event.data[r.name]]));
    return vectorOf(entities, { ...fromEvent, ...request }, ts);
  };

  return {
    handlers: {
      ping: ping("feature"),
      get: async ({ rows, minSeq }, call): Promise<VectorResult> => {
        if (minSeq !== undefined) await waitUntilApplied(minSeq, call.deadline);
        return {
          featureNames: plan.names,
          rows: rows.map((r, i) => vectorOf(r.entities, r.request, resolveAsOf(r.asOf, `rows.${i}.asOf`))),
        };
      },
      observe: async ({ events }, call) => {
        const rows: (VectorRow | null)[] = new Array(events.length).fill(null);
        const failures: { index: number; code: string; message: string }[] = [];
        const order = events.map((_, i) => i).sort((a, b) => events[a].seq - events[b].seq);
        for (const i of order) {
          const { seq, event, request } = events[i];
          // Everything logged before this event must be in the state first (read-your-writes for the decision path).
          if (seq - 1 > frontier) await waitUntilApplied(seq - 1, call.deadline);
          try {
            rows[i] = observeOne(seq, event, request);
          } catch (err) {
            // One event's bad field fails that event's vector, not the others'.
            const error = toCleaveError(err);
            if (error.code === "INTERNAL") throw err;
            failures.push({ index: i, code: error.code, message: error.message });
          }
        }
        return { featureNames: plan.names, rows, failures };
      },
      stats: () => {
        const s = store.stats();
        return {
          position,
          watermark: Number.isFinite(applier.watermark) ? applier.watermark : 0,
          applied: applier.applied,
          lateDropped: applier.lateDropped,
          entitiesCached: s.cached,
          entitiesStored: s.stored,
          dbBytes: s.bytes,
        };
      },
    },
    // Degraded, not down: retrieval still answers from the last applied state while the log cannot be read.
    health: () => ({
      status: Date.now() - lastReadOk > 10_000 ? ("degraded" as const) : ("ok" as const),
      details: { position, lateDropped: applier.lateDropped, lastReadOkMs: lastReadOk },
    }),
    stop: async () => {
      running = false;
      clearInterval(checkpointTimer);
      clearInterval(sweepTimer);
      await consuming;
      await checkpoint();
      // A timer's checkpoint may have been running: the last call waited for it, this one writes what is left.
      await checkpoint();
      await store.close();
    },
  };
});
