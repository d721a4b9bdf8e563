/**
 * The module contract: what a module promises to the rest of the deployment. It is plain data (schemas, names,
 * route mappings) with no state, so any process can import any module's contract — the gateway to expose its
 * routes, a caller to type its calls — without loading the module's implementation or its dependencies.
 */
import type { Static, TSchema } from "@sinclair/typebox";
import type { Registry } from "prom-client";
import type { Bus } from "./bus/bus";
import type { Logger } from "./log";

export interface OperationDef<I extends TSchema = TSchema, O extends TSchema = TSchema> {
  input: I;
  output: O;
  summary?: string;
}

/** What the gateway hands a route's mapper: everything about the HTTP request a module may need. */
export interface HttpRequestView {
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  /** A request header by (case-insensitive) name. */
  header(name: string): string | undefined;
  /** Parsed JSON for `body: "json"`, raw bytes for `body: "raw"`, undefined for `body: "none"`. */
  body: unknown;
}

export interface HttpResponseView {
  status: number;
  headers: Record<string, string>;
}

export interface RouteDef {
  method: "GET" | "POST" | "PUT" | "DELETE" | "PATCH";
  /** Elysia path syntax, e.g. `/v2/models/:name/infer`. */
  path: string;
  operation: string;
  summary?: string;
  /** How the body is read. Default: "json" for POST/PUT/PATCH, "none" otherwise. */
  body?: "json" | "raw" | "none";
  /** Builds the operation input. Default: the JSON body with path params merged over it. */
  toInput?: (req: HttpRequestView) => unknown;
  /** Shapes the reply. Default: the operation output as JSON with status 200. */
  toResponse?: (output: any, res: HttpResponseView, req: HttpRequestView) => unknown;
  /** Documents the body in OpenAPI when it is the operation input as-is. */
  bodySchema?: TSchema;
}

export interface ModuleContract<
  Ops extends Record<string, OperationDef> = Record<string, OperationDef>,
  Evts extends Record<string, TSchema> = Record<string, TSchema>,
  Cfg extends TSchema = TSchema,
> {
  name: string;
  description: string;
  operations: Ops;
  /** Events this module publishes, by short name (`version.created` → `registry.version.created`). */
  events: Evts;
  routes: RouteDef[];
  /** Schema of this module's section under `modules.<name>` in the config file. */
  config: Cfg;
}

export function defineContract<
  Ops extends Record<string, OperationDef>,
  Evts extends Record<string, TSchema>,
  Cfg extends TSchema,
>(contract: ModuleContract<Ops, Evts, Cfg>): ModuleContract<Ops, Evts, Cfg> {
  for (const route of contract.routes) {
    if (!(route.operation in contract.operations)) {
      throw new Error(`${contract.name}: route ${route.method} ${route.path} names unknown operation ${route.operation}`);
    }
  }
  return contract;
}

export type OpInput<C extends ModuleContract, K extends keyof C["operations"]> = Static<C["operations"][K]["input"]>;
export type OpOutput<C extends ModuleContract, K extends keyof C["operations"]> = Static<C["operations"][K]["output"]>;
export type EventPayload<C extends ModuleContract, K extends keyof C["events"]> = Static<C["events"][K]>;

/** Who is calling: travels with every call so a module applies the same rules in every placement. */
export interface Identity {
  id: string;
  roles: string[];
}

/** What a handler sees of the call it is serving. */
export interface CallContext {
  /** Absolute time (ms since epoch, this process's clock) after which the caller has given up. */
  deadline: number;
  /** Aborts when the deadline passes or the process is shutting down. */
  signal: AbortSignal;
  traceId: string;
  identity?: Identity;
}

export type Handlers<C extends ModuleContract> = {
  [K in keyof C["operations"]]: (input: OpInput<C, K>, ctx: CallContext) => Promise<OpOutput<C, K>> | OpOutput<C, K>;
};

export interface HealthReport {
  status: "ok" | "degraded" | "down";
  details?: Record<string, unknown>;
}

/** What the runtime gives a module when it starts it. */
export interface ModuleContext<C extends ModuleContract = ModuleContract> {
  contract: C;
  config: Static<C["config"]>;
  deployment: string;
  /** This module's own directory for files it owns (SQLite, blobs); created before start. */
  dataDir: string;
  bus: Bus;
  log: Logger;
  /** This process's Prometheus registry (served at `/metrics`): register the module's own metrics here. */
  metrics: Registry;
}

export interface ModuleInstance<C extends ModuleContract = ModuleContract> {
  handlers: Handlers<C>;
  health?: () => Promise<HealthReport> | HealthReport;
  /** Stop taking work and release resources; in-flight calls have already drained. */
  stop?: () => Promise<void> | void;
}

/** A module implementation: a contract plus a factory. Loaded lazily so a process pays only for what it runs. */
export interface ModuleDefinition<C extends ModuleContract = ModuleContract> {
  contract: C;
  create: (ctx: ModuleContext<C>) => Promise<ModuleInstance<C>> | ModuleInstance<C>;
}

export function defineModule<C extends ModuleContract>(
  contract: C,
  create: ModuleDefinition<C>["create"],
): ModuleDefinition<C> {
  return { contract, create };
}

/** An entry of the module catalog: the contract eagerly, the implementation on demand. */
export interface CatalogEntry {
  contract: ModuleContract;
  load: () => Promise<ModuleDefinition<any>>;
}

export type ModuleCatalog = Record<string, CatalogEntry>;
