/**
 * The models this module serves: several names, several versions each. A version is added to the routing table
 * only once it is loaded and warmed up; replacing or unloading one removes it from the table first and retires it
 * after its queued and running requests finish, so a swap never drops a request.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { CleaveError } from "../../runtime/errors";
import type { Logger } from "../../runtime/log";
import type { InferenceConfig, ModelOptions } from "./contract";
import { ModelVersion } from "./model";
import { UnservableModel } from "./onnx-graph";

type Options = NonNullable<ModelOptions>;

export interface ModelSource {
  name: string;
  version: string;
  path: string;
  options: Options;
}

/** A model's own options over the defaults, section by section (a model's `batching.maxBatchSize` keeps the
 * default `batching.maxQueue`). */
function mergeOptions(defaults: Options, own: Options): Options {
  return {
    ...defaults,
    ...own,
    batching: { ...defaults.batching, ...own.batching },
    session: { ...defaults.session, ...own.session },
  };
}

/** Versions in serving order: numeric ones by value, the highest being the default. */
function compareVersions(a: string, b: string): number {
  const [na, nb] = [Number(a), Number(b)];
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

export class Repository {
  private readonly models = new Map<string, Map<string, ModelVersion>>();
  private readonly failed = new Map<string, { name: string; version: string; reason: string }>();
  /** The default version of each model, kept current on load/unload: resolved on every request. */
  private readonly latest = new Map<string, ModelVersion>();
  /** Default versions chosen from outside (a followed registry alias); otherwise the highest loaded one. */
  private readonly pinned = new Map<string, string>();
  /** Models expected but not loaded yet (e.g. a registry alias still loading), with why: they answer 503, not 404. */
  private readonly awaited = new Map<string, string>();
  /** Names of configured versions not yet loaded: the module is ready when this is empty. */
  readonly pending = new Set<string>();

  constructor(
    private readonly log: Logger,
    private readonly defaults: Options,
  ) {}

  /** The configured models: the `models` list plus everything found under `modelDir`. */
  static sources(config: InferenceConfig): ModelSource[] {
    const out: ModelSource[] = config.models.map((m) => {
      const { name, version, path, ...options } = m;
      return { name, version: String(version ?? "1"), path: resolve(path), options };
    });
    if (config.modelDir) {
      const dir = resolve(config.modelDir);
      if (!existsSync(dir)) throw new Error(`modules.inference.modelDir: ${dir} does not exist`);
      for (const entry of readdirSync(dir).sort()) {
        const full = join(dir, entry);
        if (entry.endsWith(".onnx") && statSync(full).isFile()) {
          out.push({ name: entry.slice(0, -5), version: "1", path: full, options: {} });
        } else if (statSync(full).isDirectory()) {
          for (const version of readdirSync(full).sort()) {
            const file = join(full, version, "model.onnx");
            if (existsSync(file)) out.push({ name: entry, version, path: file, options: {} });
          }
        }
      }
    }
    return out;
  }

  async loadFile(source: ModelSource): Promise<void> {
    const key = `${source.name}:${source.version}`;
    this.pending.add(key);
    try {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(source.path));
      } catch (err) {
        const reason = `cannot read ${source.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
        this.failed.set(key, { name: source.name, version: source.version, reason });
        throw new Error(reason);
      }
      await this.load(source.name, source.version, bytes, source.options);
    } catch (err) {
      this.log.error({ model: source.name, version: source.version, path: source.path, reason: (err as Error).message }, "model refused at load");
    } finally {
      this.pending.delete(key);
    }
  }

  /** Loads (or replaces) a version; refusals are kept with their reason for the index. */
  async load(name: string, version: string, bytes: Uint8Array, options: Options): Promise<ModelVersion> {
    const key = `${name}:${version}`;
    let loaded: ModelVersion;
    try {
      loaded = await ModelVersion.load(name, version, bytes, mergeOptions(this.defaults, options), this.log);
    } catch (err) {
      const reason = err instanceof UnservableModel ? err.message : `onnxruntime could not load it: ${(err as Error).message}`;
      this.failed.set(key, { name, version, reason });
      throw new CleaveError("INVALID_ARGUMENT", `model "${name}" version ${version} cannot be served: ${reason}`);
    }
    this.failed.delete(key);
    const versions = this.models.get(name) ?? new Map<string, ModelVersion>();
    const previous = versions.get(version);
    versions.set(version, loaded);
    this.models.set(name, versions);
    this.updateLatest(name);
    if (previous) void this.retire(previous);
    return loaded;
  }

  async unload(name: string, version?: string): Promise<string[]> {
    const versions = this.models.get(name);
    if (!versions) throw new CleaveError("NOT_FOUND", `model "${name}" is not loaded`);
    const targets = version === undefined ? [...versions.keys()] : [version];
    for (const v of targets) if (!versions.has(v)) throw new CleaveError("NOT_FOUND", `model "${name}" has no version "${v}"`);
    const retiring = targets.map((v) => {
      const model = versions.get(v)!;
      versions.delete(v);
      return this.retire(model);
    });
    if (versions.size === 0) this.models.delete(name);
    this.updateLatest(name);
    await Promise.all(retiring);
    return targets;
  }

  /** Makes `version` (loaded) the one requests without a version go to, whatever the order of versions. */
  setDefault(name: string, version: string): void {
    if (!this.models.get(name)?.has(version)) throw new CleaveError("NOT_FOUND", `model "${name}" has no version "${version}" loaded`);
    this.pinned.set(name, version);
    this.updateLatest(name);
  }

  /** While a model has no version loaded, requests for it get 503 with `reason` (undefined: stop saying so). */
  setAwaited(name: string, reason: string | undefined): void {
    if (reason === undefined) this.awaited.delete(name);
    else this.awaited.set(name, reason);
  }

  has(name: string, version: string): boolean {
    return this.models.get(name)?.has(version) ?? false;
  }

  /** Drops a load refusal from the index once it no longer matters (e.g. the alias moved past that version). */
  forgetFailure(name: string, version: string): void {
    this.failed.delete(`${name}:${version}`);
  }

  private updateLatest(name: string): void {
    const versions = this.models.get(name);
    const pinned = this.pinned.get(name);
    const chosen = pinned !== undefined && versions?.has(pinned) ? pinned : this.versionsOf(name).at(-1);
    if (chosen === undefined) this.latest.delete(name);
    else this.latest.set(name, versions!.get(chosen)!);
  }

  private async retire(model: ModelVersion): Promise<void> {
    try {
      await model.retire();
    } catch (err) {
      this.log.error({ err, model: model.name, version: model.version }, "model version did not retire cleanly");
    }
  }

  /** The version a request names, or the default one (pinned, else the highest); 404 says what exists. */
  resolve(name: string, version?: string): ModelVersion {
    const versions = this.models.get(name);
    if (!versions) {
      const awaited = this.awaited.get(name);
      if (awaited !== undefined) throw new CleaveError("UNAVAILABLE", `model "${name}" is not loaded yet: ${awaited}`);
      const known = [...this.models.keys()];
      const reason = [...this.failed.values()].find((f) => f.name === name)?.reason;
      throw new CleaveError(
        "NOT_FOUND",
        reason
          ? `model "${name}" was refused at load: ${reason}`
          : `model "${name}" is not loaded${known.length ? `; loaded: ${known.join(", ")}` : ""}`,
      );
    }
    if (version === undefined || version === "") return this.latest.get(name)!;
    const model = versions.get(version);
    if (!model) throw new CleaveError("NOT_FOUND", `model "${name}" has no version "${version}"; versions: ${this.versionsOf(name).join(", ")}`);
    return model;
  }

  versionsOf(name: string): string[] {
    return [...(this.models.get(name)?.keys() ?? [])].sort(compareVersions);
  }

  all(): ModelVersion[] {
    return [...this.models.values()].flatMap((v) => [...v.values()]);
  }

  failures() {
    return [...this.failed.values()];
  }

  async close(): Promise<void> {
    const all = this.all();
    this.models.clear();
    this.latest.clear();
    await Promise.all(all.map((m) => this.retire(m)));
  }
}
