/** The monitoring module's implementation, started by the runtime in whichever process the config places it. */
import { join } from "node:path";
import { Type as T } from "@sinclair/typebox";
import type { EventMeta } from "../../runtime/bus/bus";
import type { ModuleContract, ModuleContext } from "../../runtime/contract";
import { defineModule } from "../../runtime/contract";
import { invalidArgument } from "../../runtime/errors";
import { openDatabase } from "../../runtime/native/sqlite";
import { ping } from "../../runtime/ping";
import { assertSchema } from "../../runtime/validation";
import { ACCURACY_MIGRATIONS, AccuracyTracker } from "./accuracy";
import { Alerter } from "./alerts";
import { BASELINE_MIGRATIONS, BaselineStore, key } from "./baseline";
import { BaselineSource } from "./baseline-source";
import { checkDrift, checkQuality, checkSlo } from "./checks";
import { checkDriftConfig } from "./config-check";
import { type DriftReport, monitoringContract, type Observation, ObservationBatchSchema } from "./contract";
import { dashboardAsset } from "./dashboard/assets";
import { complete, driftReport, driftSteps } from "./drift";
import { MonitoringMetrics } from "./metrics";
import { qualityReport } from "./quality";
import { Timeline } from "./timeline";
import { ObservationWindow } from "./window";

type Ctx = ModuleContext<typeof monitoringContract>;

interface Tracked {
  model: string;
  version: string;
  window: ObservationWindow;
  /** The model version's metric series, bound once: labelling per observation hashed the labels every time. */
  series: ReturnType<MonitoringMetrics["bind"]>;
}

/** ISO 8601 string or epoch ms → epoch ms; anything else names the observation that carried it. */
function timestamp(ts: Observation["ts"], index: number, now: number): number {
  if (ts === undefined) return now;
  const ms = typeof ts === "number" ? ts : Date.parse(ts);
  if (!Number.isFinite(ms)) throw invalidArgument(`observations.${index}.ts: "${ts}" is not a date (ISO 8601 or epoch ms)`);
  return ms;
}

export default defineModule(monitoringContract, async (ctx: Ctx) => {
  const cfg = ctx.config;
  checkDriftConfig(cfg);
  const file = join(ctx.dataDir, "monitoring.db");
  const db = openDatabase(file, { migrations: [...BASELINE_MIGRATIONS, ...ACCURACY_MIGRATIONS] });
  const baselines = new BaselineStore(db);
  const accuracy = new AccuracyTracker(db, file, cfg.accuracy, ctx.log);
  const metrics = new MonitoringMetrics(ctx.metrics);
  const timeline = new Timeline(cfg.timelineBucketSeconds * 1000);
  const tracked = new Map<string, Tracked>();
  const source = cfg.baselineSource ? new BaselineSource(cfg.baselineSource, baselines, ctx.bus, ctx.log) : undefined;
  const alerter = new Alerter(cfg.alerts, ctx.bus, ctx.log, {
    sent: (a) => metrics.alerts.inc({ kind: a.kind }),
    suppressed: (a) => metrics.suppressed.inc({ kind: a.kind }),
    deliveryFailed: (target) => metrics.deliveryFailures.inc({ target }),
  });

  const track = (model: string, version: string): Tracked => {
    const k = key(model, version);
    let t = tracked.get(k);
    if (!t) {
      t = { model, version, window: new ObservationWindow(cfg.window.size, cfg.window.maxAgeSeconds * 1000), series: metrics.bind(model, version) };
      tracked.set(k, t);
    }
    return t;
  };

  const selected = (model: string, version?: string) =>
    [...tracked.values()].filter((t) => t.model === model && (version === undefined || t.version === version));

  /** Drift and quality now, metrics updated; alerts only when `alert` (automatic evaluations). Pauses between steps. */
  function* evaluation(t: Tracked, alert: boolean): Generator<void, DriftReport> {
    const entries = t.window.entries();
    const baseline = baselines.get(t.model, t.version);
    const drift = yield* driftSteps(t.model, t.version, baseline, entries, cfg.drift);
    const quality = qualityReport(t.model, t.version, baseline, entries);
    metrics.drift(drift);
    metrics.quality(quality);
    if (alert) {
      checkDrift(drift, alerter, cfg.drift);
      checkQuality(quality, alerter, cfg.quality);
    }
    return drift;
  }
  const evaluate = (t: Tracked, alert: boolean): DriftReport => complete(evaluation(t, alert));

  const observe = async (observations: Observation[]) => {
    const now = Date.now();
    const stamped = observations.map((o, i) => ({ ...o, at: timestamp(o.ts, i, now) }));
    const touched = new Set<Tracked>();
    for (const o of stamped) {
      const t = track(o.model, o.version);
      t.window.add({ ts: o.at, features: o.features, score: o.score });
      touched.add(t);
      timeline.add(o.at, o);
      t.series.observations.inc();
      if (o.score !== undefined) t.series.score.observe(o.score);
      if (o.latencyMs !== undefined) t.series.latency.observe(o.latencyMs / 1000);
      if (o.outcome !== undefined) t.series.decision(o.outcome).inc();
      if (o.error) t.series.errors.inc();
    }
    accuracy.record(stamped);
    const evaluated: string[] = [];
    for (const t of touched) {
      // Not awaited: observing never waits on another module; the next evaluation uses what arrived.
      if (source) void source.ensure(t.model, t.version);
      if (t.window.sinceEvaluation < cfg.drift.evaluateEvery || now - t.window.evaluatedAt < cfg.drift.evaluateIntervalMs) continue;
      t.window.sinceEvaluation = 0;
      t.window.evaluatedAt = now;
      // Other requests run between its features: evaluating the fraud model's 13 features at once stalled the
      // event loop for 10-16 ms once a second, the largest stall while scoring at 2k/s.
      const steps = evaluation(t, true);
      while (!steps.next().done) await new Promise((resolve) => setImmediate(resolve));
      evaluated.push(key(t.model, t.version));
    }
    checkSlo(timeline, alerter, cfg.slo);
    return { accepted: observations.length, evaluated };
  };

  await subscribeSources(ctx, observe);

  const scores = (t: Tracked) => t.window.entries().flatMap((e) => (e.score === undefined ? [] : [e.score]));
  const accuracyOf = (model: string, version?: string) => {
    const versions = new Set([...selected(model, version).map((t) => t.version), ...accuracy.versionsOf(model)]);
    if (version !== undefined) versions.add(version);
    return [...versions].filter((v) => version === undefined || v === version).map((v) => {
      const t = tracked.get(key(model, v));
      const a = accuracy.accuracy(model, v, t ? scores(t) : []);
      metrics.accuracy(a);
      return a;
    });
  };

  return {
    handlers: {
      ping: ping("monitoring"),
      observe: ({ observations }) => observe(observations),
      setBaseline: (input) => {
        const prepared = baselines.put(input);
        return { model: input.model, version: input.version, features: [...prepared.features.keys()] };
      },
      drift: async ({ model, version }) => {
        if (source) {
          const versions = version !== undefined ? [version] : selected(model).map((t) => t.version);
          await Promise.all(versions.map((v) => source.ensure(model, v)));
        }
        const list = selected(model, version);
        // A version never observed still gets an answer saying why there is no verdict (no baseline / no data).
        if (list.length === 0 && version !== undefined) {
          return { reports: [driftReport(model, version, baselines.get(model, version), [], cfg.drift)] };
        }
        return { reports: list.map((t) => evaluate(t, false)) };
      },
      quality: ({ model, version }) => ({
        reports: selected(model, version).map((t) => qualityReport(t.model, t.version, baselines.get(t.model, t.version), t.window.entries())),
      }),
      labels: async ({ labels }) => {
        const outcome = await accuracy.label(labels);
        metrics.labels.inc({ result: "matched" }, outcome.matched);
        metrics.labels.inc({ result: "unknown" }, outcome.unknown);
        metrics.labels.inc({ result: "invalid" }, outcome.invalid);
        for (const { model, version } of outcome.touched) accuracyOf(model, version);
        const { touched: _, ...reply } = outcome;
        return reply;
      },
      accuracy: ({ model, version }) => ({ versions: accuracyOf(model, version) }),
      alerts: ({ limit }) => alerter.list(limit ?? 100),
      summary: ({ model }) => ({
        data: {
          timeline: timeline.points(),
          outcomes: timeline.outcomes(),
          bucketSeconds: cfg.timelineBucketSeconds,
          models: [...tracked.values()]
            .filter((t) => model === undefined || t.model === model)
            .map((t) => ({
              model: t.model,
              version: t.version,
              observed: t.window.total,
              drift: evaluate(t, false),
              accuracy: accuracyOf(t.model, t.version)[0],
            })),
          alerts: alerter.list(50),
        },
      }),
      dashboard: async ({ asset }) => dashboardAsset(asset ?? "page"),
    },
    health: () => ({ status: "ok" as const, details: { tracked: tracked.size } }),
    stop: async () => {
      await source?.settle();
      await alerter.settle();
      await accuracy.close();
      db.close();
    },
  };
});

/**
 * Observations may also arrive as events of other modules (e.g. `decision.made`): each payload is one observation
 * or `{observations: [...]}`. Subscribing needs only the event's name, so no other module's code is loaded.
 */
async function subscribeSources(ctx: Ctx, observe: (o: Observation[]) => Promise<unknown>): Promise<void> {
  for (const source of ctx.config.subscribe) {
    const contract = { name: source.module, events: { [source.event]: T.Unknown() } } as unknown as ModuleContract;
    await ctx.bus.subscribe(
      contract,
      source.event,
      async (payload: unknown, meta: EventMeta) => {
        const list = payload && typeof payload === "object" && "observations" in payload ? payload : { observations: [payload] };
        try {
          // An event declared as an observation batch was checked as one when it was published in this process.
          if (meta.checkedAgainst !== ObservationBatchSchema) {
            assertSchema(ObservationBatchSchema, list, `${source.module}.${source.event} as an observation`);
          }
          await observe((list as { observations: Observation[] }).observations);
        } catch (err) {
          ctx.log.warn({ err, event: `${source.module}.${source.event}` }, "event not usable as an observation; skipped");
        }
      },
      { group: "monitoring" },
    );
  }
}
