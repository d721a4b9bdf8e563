/**
 * Reads, expands and validates a config file before anything starts. Every problem is reported with the key it is
 * about and what would fix it, and stops the start: a typo must never silently fall back to a default.
 */
import { isAbsolute, resolve } from "node:path";
import type { TSchema } from "@sinclair/typebox";
import { ValueErrorType } from "@sinclair/typebox/errors";
import { Value } from "@sinclair/typebox/value";
import { parse as parseYaml, YAMLParseError } from "yaml";
import type { ModuleCatalog } from "../contract";
import { type Config, ConfigSchema } from "./schema";

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super(file ? `${file}: ${message}` : message);
    this.name = "ConfigError";
  }
}

export interface LoadedConfig extends Config {
  /** Directory of the config file: relative paths in it are relative to here. */
  baseDir: string;
  file?: string;
}

/** `${VAR}` and `${VAR:-default}` in string values come from the environment, so secrets stay out of files. */
function expandEnv(value: unknown, path: string): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => {
      const v = process.env[name] ?? fallback;
      if (v === undefined) {
        throw new ConfigError(`key "${path}" uses \${${name}}, but ${name} is not set in the environment`);
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, `${path}.${i}`));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, expandEnv(v, path ? `${path}.${k}` : k)]),
    );
  }
  return value;
}

export function parseConfigText(text: string, file?: string): unknown {
  try {
    const doc = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
    return doc ?? {};
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const where = err.linePos?.[0] ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : "";
      throw new ConfigError(`not valid YAML/JSON${where}: ${err.message.split("\n")[0]}`, file);
    }
    throw err;
  }
}

/** Validates `value` against `schema` (defaults filled in) and throws naming the first bad key. */
export function validateSection<T>(schema: TSchema, value: unknown, prefix: string, file?: string): T {
  const withDefaults = Value.Default(schema, structuredClone(value ?? {}));
  const first = Value.Errors(schema, withDefaults).First();
  if (!first) return withDefaults as T;
  const parts = first.path.split("/").filter(Boolean);
  const key = [prefix, ...parts].filter(Boolean).join(".") || "(root)";
  const sub = first.schema as TSchema & { properties?: Record<string, unknown> };
  // An unknown key: TypeBox reports it at the parent object; name the key itself and what is allowed.
  const parentSchema = parentOf(schema, parts);
  if (first.type === ValueErrorType.ObjectAdditionalProperties) {
    const actual = first.value && typeof first.value === "object" ? Object.keys(first.value) : [];
    const allowed = Object.keys(sub.properties ?? parentSchema?.properties ?? {});
    const unknown = actual.filter((k) => !allowed.includes(k));
    const at = unknown[0] ? [key === "(root)" ? "" : key, unknown[0]].filter(Boolean).join(".") : key;
    throw new ConfigError(`unknown key "${at}"; allowed here: ${allowed.join(", ")}`, file);
  }
  const is = first.value === undefined ? "is missing" : `is ${JSON.stringify(first.value)}`;
  throw new ConfigError(`key "${key}" ${is}: ${explain(first.schema, first.message)}`, file);
}

function parentOf(schema: TSchema, parts: string[]): (TSchema & { properties?: Record<string, TSchema> }) | undefined {
  let s: any = schema;
  for (const p of parts) s = s?.properties?.[p] ?? s?.items ?? s?.patternProperties?.["^(.*)$"];
  return s;
}

function explain(schema: TSchema, message: string): string {
  const s = schema as any;
  if (s.anyOf?.every((x: any) => x.const !== undefined)) {
    return `must be one of ${s.anyOf.map((x: any) => JSON.stringify(x.const)).join(", ")}`;
  }
  return s.description ? `${message} (${s.description})` : message;
}

export function resolveConfigPath(cfg: { baseDir: string }, p: string): string {
  return isAbsolute(p) ? p : resolve(cfg.baseDir, p);
}

/**
 * Validates a raw config object against the runtime schema and the module catalog: unknown modules are refused with
 * the names that exist; each module's section is validated (and defaulted) by that module's contract.
 */
export function validateConfig(raw: unknown, catalog: ModuleCatalog, baseDir: string, file?: string): LoadedConfig {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError("the config must be a mapping of keys (deployment, modules, bus, http, …)", file);
  }
  const expanded = expandEnv(raw, "") as Record<string, unknown>;
  if (!("modules" in expanded)) {
    throw new ConfigError(`key "modules" is missing: list the modules of the deployment (${Object.keys(catalog).join(", ")})`, file);
  }
  const config = validateSection<Config>(ConfigSchema, expanded, "", file);
  const known = Object.keys(catalog);
  for (const [name, section] of Object.entries(config.modules)) {
    const entry = catalog[name];
    if (!entry) throw new ConfigError(`unknown module "modules.${name}"; known modules: ${known.join(", ")}`, file);
    config.modules[name] = validateSection(entry.contract.config, section ?? {}, `modules.${name}`, file);
  }
  const deploymentModules = Object.keys(config.modules);
  const check = (list: string[], key: string) => {
    for (const m of list) {
      if (!deploymentModules.includes(m)) {
        throw new ConfigError(
          `key "${key}" names module "${m}", which is not in "modules"; the deployment has: ${deploymentModules.join(", ") || "(none)"}`,
          file,
        );
      }
    }
  };
  if (config.process.modules !== "all") check(config.process.modules, "process.modules");
  config.up.processes.forEach((p, i) => check(p.modules, `up.processes.${i}.modules`));
  if (config.bus.serialize && config.bus.transport !== "inprocess") {
    throw new ConfigError(`key "bus.serialize" applies only to bus.transport: inprocess (NATS always serializes)`, file);
  }
  return { ...config, baseDir, file };
}
