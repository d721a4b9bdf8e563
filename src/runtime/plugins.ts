/**
 * User modules from `plugins:` in the config. A plugin file default-exports a module definition (contract +
 * factory, see plugins/README.md); once loaded it is a module like the built-in ones, placed by config and
 * reached only through the bus.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { ModuleCatalog, ModuleDefinition } from "./contract";
import { ConfigError, type LoadedConfig, parseConfigText, validateConfig } from "./config/load";

function isDefinition(value: unknown): value is ModuleDefinition {
  const v = value as ModuleDefinition | undefined;
  return !!v && typeof v.create === "function" && typeof v.contract?.name === "string" && !!v.contract.operations;
}

export async function loadPlugins(raw: unknown, baseDir: string, builtin: ModuleCatalog, file?: string): Promise<ModuleCatalog> {
  const catalog: ModuleCatalog = { ...builtin };
  const list = (raw as { plugins?: unknown })?.plugins;
  if (list === undefined) return catalog;
  if (!Array.isArray(list)) throw new ConfigError(`key "plugins" must be a list of {path: FILE}`, file);
  for (const [i, entry] of list.entries()) {
    const p = (entry as { path?: unknown })?.path;
    if (typeof p !== "string") throw new ConfigError(`key "plugins.${i}.path" must be a file path`, file);
    const full = resolve(baseDir, p);
    if (!existsSync(full)) throw new ConfigError(`key "plugins.${i}.path": no file at ${full}`, file);
    let mod: { default?: unknown };
    try {
      mod = await import(full);
    } catch (err) {
      throw new ConfigError(`key "plugins.${i}.path": ${full} failed to load: ${(err as Error).message}`, file);
    }
    const def = mod.default;
    if (!isDefinition(def)) {
      throw new ConfigError(`key "plugins.${i}.path": ${full} must default-export defineModule(contract, create)`, file);
    }
    if (catalog[def.contract.name]) {
      throw new ConfigError(`key "plugins.${i}.path": module name "${def.contract.name}" is already taken`, file);
    }
    catalog[def.contract.name] = { contract: def.contract, load: async () => def };
  }
  return catalog;
}

function readRaw(file: string, seen: string[] = []): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, file);
  }
  const raw = parseConfigText(text, file) as Record<string, unknown>;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw) || raw.extends === undefined) return raw;
  // `extends: other.yaml`: that file's keys, with this file's on top (maps merge key by key; other values replace).
  const { extends: base, ...own } = raw;
  if (typeof base !== "string") throw new ConfigError(`key "extends" must be the path of another config file`, file);
  const basePath = resolve(dirname(resolve(file)), base);
  if (seen.includes(basePath)) throw new ConfigError(`key "extends" makes a cycle: ${[...seen, basePath].join(" → ")}`, file);
  return merge(readRaw(basePath, [...seen, resolve(file)]), own);
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    const mergeable = (x: unknown) => x !== null && typeof x === "object" && !Array.isArray(x);
    out[k] = mergeable(b) && mergeable(v) ? merge(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** Reads a config file, loads its plugins, validates everything: what `cleave serve` and `cleave up` start from. */
export async function loadDeployment(file: string, builtin: ModuleCatalog): Promise<{ config: LoadedConfig; catalog: ModuleCatalog }> {
  const raw = readRaw(file);
  const baseDir = dirname(resolve(file));
  const catalog = await loadPlugins(raw, baseDir, builtin, file);
  return { config: validateConfig(raw, catalog, baseDir, file), catalog };
}

/** The monolith config built into the binary: what `cleave` runs with no --config. Paths are relative to cwd. */
export async function loadEmbeddedDefault(builtin: ModuleCatalog): Promise<{ config: LoadedConfig; catalog: ModuleCatalog }> {
  const { default: text } = await import("../../configs/monolith.yaml", { with: { type: "text" } });
  const raw = parseConfigText(text as unknown as string, "embedded configs/monolith.yaml");
  return { config: validateConfig(raw, builtin, process.cwd()), catalog: builtin };
}
