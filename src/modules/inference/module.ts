/** The inference module's implementation, started by the runtime in whichever process the config places it. */
import { CleaveError } from "../../runtime/errors";
import { defineModule } from "../../runtime/contract";
import { ping } from "../../runtime/ping";
import { VERSION } from "../../runtime/version";
import { type InferenceConfig, inferenceContract } from "./contract";
import { RegistryFollower } from "./registry-follow";
import { Repository } from "./repository";
import { inferToPredictions, predictToInfer } from "./v1";

export default defineModule(inferenceContract, async (ctx) => {
  const config = ctx.config as InferenceConfig;
  const log = ctx.log;
  const repository = new Repository(log, config.defaults);
  const sources = Repository.sources(config);
  const configured = sources.map((s) => `${s.name}:${s.version}`);
  // Models load in the background: the module serves health and metadata at once, and reports ready when done.
  for (const s of sources) repository.pending.add(`${s.name}:${s.version}`);
  const loading = (async () => {
    for (const source of sources) await repository.loadFile(source);
  })();
  // Registry aliases load in the background too, whenever the registry is (or becomes) reachable.
  const follower = new RegistryFollower(config.registry, ctx.bus, repository, log);
  await follower.start();
  const followed = config.registry.follow.map((f) => `${f.model}@${f.alias}`);

  return {
    handlers: {
      ping: ping("inference"),
      server: () => ({ name: "cleave", version: VERSION, extensions: ["binary_tensor_data"] }),
      live: () => ({ live: true }),
      ready: () => ({ ready: repository.pending.size === 0 && follower.ready(), models: [...configured, ...followed] }),
      metadata: ({ name, version }) => {
        const model = repository.resolve(name, version);
        const registry = follower.describe(name);
        return {
          name: model.name,
          versions: repository.versionsOf(name),
          platform: "onnx_onnxv1",
          ...model.metadata(),
          ...(registry && { parameters: { registry } }),
        };
      },
      modelReady: ({ name, version }) => {
        try {
          return { name, version: repository.resolve(name, version).version, ready: true };
        } catch (err) {
          // Known but not serving yet (loading, or followed and not promoted) is "not ready"; unknown is a 404.
          if (err instanceof CleaveError && err.code === "NOT_FOUND") throw err;
          return { name, ...(version !== undefined && { version }), ready: false };
        }
      },
      infer: (input, call) => repository.resolve(input.name, input.version).infer(input, call),
      predict: async (input, call) => {
        const model = repository.resolve(input.name, input.version);
        const result = await model.infer(predictToInfer(model, input), call);
        return { predictions: inferToPredictions(model, result) };
      },
      load: async ({ name, version, bytes, ...options }) => {
        const model = await repository.load(name, version, bytes, options);
        return { name, version, workers: model.workers, batching: model.batching, ...(model.warmupMs !== undefined && { warmupMs: model.warmupMs }) };
      },
      unload: async ({ name, version }) => ({ unloaded: await repository.unload(name, version) }),
      index: () => ({
        models: [
          ...repository.all().map((m) => ({ name: m.name, version: m.version, state: "ready", workers: m.workers, batching: m.batching })),
          ...[...repository.pending].map((key) => {
            const [name, version] = key.split(":");
            return { name, version, state: "loading", workers: 0, batching: false };
          }),
        ],
        failed: repository.failures(),
      }),
      stats: ({ name, version }) => {
        if (name !== undefined) repository.resolve(name, version);
        const selected = repository.all().filter((m) => (name === undefined || m.name === name) && (version === undefined || m.version === version));
        return { models: selected.map((m) => m.stats.snapshot()) };
      },
    },
    // `/readyz` waits for configured models ("down" while loading); a model refused at load does not hold the
    // others back but shows as "degraded" so monitoring sees it.
    // A followed alias with nothing loaded, a refused version or a removed alias is "degraded" with the reason.
    health: () => {
      const registry = follower.reports();
      const problems = registry.filter((r) => r.problem !== null);
      const status = repository.pending.size > 0 ? "down" : repository.failures().length || problems.length ? "degraded" : "ok";
      return {
        status: status as "ok" | "degraded" | "down",
        details: {
          loaded: repository.all().length,
          loading: repository.pending.size,
          failed: repository.failures().length,
          ...(registry.length && { registry }),
          ...(problems.length && { reasons: problems.map((r) => `${r.model}@${r.alias}: ${r.problem}`) }),
        },
      };
    },
    stop: async () => {
      await follower.stop();
      await loading;
      await repository.close();
    },
  };
});
