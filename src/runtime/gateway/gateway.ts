/**
 * The HTTP gateway: the REST face of the whole deployment, whichever process serves it. Routes come from module
 * contracts and become bus calls, so a gateway process needs no module code: legacy apps only ever speak REST.
 */
import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import type { Bus } from "../bus/bus";
import type { HttpRequestView, ModuleContract, RouteDef } from "../contract";
import { CleaveError } from "../errors";
import type { Logger } from "../log";
import type { RuntimeMetrics } from "../metrics";
import { contextFromTraceparent, currentTraceparent, inSpan, SpanKind } from "../tracing";
import { errorResponse, jsonError, readBody } from "./http-errors";
import { deploymentMetrics } from "./deployment-metrics";
import { checkReadiness } from "./readiness";
import { type Admission, type GatewaySecurity, Refusal } from "./security";
import { type Resource, unauthenticated } from "../security/policy";
import { checkBinaryHeader, checkInferenceBody, type RequestLimits } from "../security/request-limits";

export interface GatewayOptions {
  bus: Bus;
  /** Contracts of every module in the deployment, whether or not this process runs them. */
  contracts: ModuleContract[];
  log: Logger;
  metrics: RuntimeMetrics;
  maxBodyBytes: number;
  readyTimeoutMs: number;
  version: string;
  /** Authentication, authorization, rate limits and audit; absent: none of them. */
  security?: GatewaySecurity;
  limits: RequestLimits;
}

/** Each request's admission (identity, rate-limit headers), from the guard to the handler that serves it. */
const admissions = new WeakMap<Request, Admission>();

const RUNTIME_ROUTES: Record<string, string> = { "/readyz": "runtime.readyz", "/metrics": "runtime.metrics" };

/** The request's model, when its path names one (`/v2/models/:name/…`, `/v1/monitoring/baselines/:model/…`). */
const modelOf = (params: Record<string, string> | undefined) => params?.name ?? params?.model;

export function createGateway(opts: GatewayOptions) {
  const { bus, log, security } = opts;
  const resources = new Map<string, string>();
  for (const c of opts.contracts) for (const r of c.routes) resources.set(`${r.method} ${r.path}`, `${c.name}.${r.operation}`);
  const refuse = (err: CleaveError, request: Request, route: string, resource: Resource) => {
    security?.record({
      identity: (err instanceof Refusal && err.identity?.id) || "anonymous",
      method: request.method,
      route,
      operation: resource.operation,
      status: err.httpStatus,
      outcome: err.code,
      model: resource.model,
      requestId: request.headers.get("x-request-id") ?? undefined,
    });
    // Counted like any answer (by route pattern, never by identity or raw path: metrics carry no secrets).
    opts.metrics.http(request.method, route, err.httpStatus, 0);
    const headers = err instanceof Refusal ? { ...err.headers } : {};
    if (err.code === "UNAUTHENTICATED") headers["www-authenticate"] = "Bearer";
    return jsonError(err.httpStatus, err.message, err.code, err.details, headers);
  };
  // Bun's own limit answers with an empty 413; ours (declared length in the handler, actual length in readBody)
  // answers in the error shape, so Bun's is only the hard stop for bodies that lie about their length.
  const app = new Elysia({ serve: { maxRequestBodySize: opts.maxBodyBytes * 2 + (1 << 20) } })
    // Every route but /healthz passes here after routing (so `route` is the matched pattern, whatever tricks the
    // raw path played): 401/403/429 before any handler, body read or bus call.
    .onBeforeHandle({ as: "global" }, async ({ request, route, params, server }) => {
      if (!security?.gates || route === "/healthz") return;
      const operation =
        resources.get(`${request.method} ${route}`) ?? RUNTIME_ROUTES[route] ?? (route.startsWith("/openapi") ? "runtime.openapi" : "runtime.unknown");
      const resource: Resource = { operation, model: modelOf(params as Record<string, string>) };
      try {
        const clientAddress = () => server?.requestIP(request)?.address ?? "unknown";
        admissions.set(request, await security.admit(request, resource, route, clientAddress));
      } catch (err) {
        if (err instanceof CleaveError) return refuse(err, request, route, resource);
        throw err;
      }
    })
    .use(
      openapi({
        documentation: {
          info: {
            title: "Cleave",
            version: opts.version,
            description: "REST API of a Cleave deployment: every route is an operation of one of its modules.",
          },
        },
      }),
    )
    .onError(async ({ code, error, request }) => {
      if (code === "NOT_FOUND") {
        // With auth on, who is asking comes first: only a known caller learns which routes exist.
        if (security?.enabled) {
          const known = await security.authenticate(request.headers).catch(() => undefined);
          if (!known) return refuse(unauthenticated(), request, "(none)", { operation: "runtime.unknown" });
        }
        return jsonError(404, `no route ${request.method} ${new URL(request.url).pathname}`, "NOT_FOUND");
      }
      if (code === "PARSE") return jsonError(400, `request body could not be parsed: ${error.message}`, "INVALID_ARGUMENT");
      if (error instanceof CleaveError) return errorResponse(error);
      log.error({ err: error, url: request.url }, "unhandled gateway error");
      return jsonError(500, "internal error", "INTERNAL");
    })
    .get("/healthz", () => ({ status: "ok" }), { detail: { summary: "The process is alive", tags: ["runtime"] } })
    .get(
      "/readyz",
      async ({ set }) => {
        const report = await checkReadiness(bus, opts.contracts, opts.readyTimeoutMs);
        set.status = report.status === "ready" ? 200 : 503;
        return report;
      },
      { detail: { summary: "Every module of the deployment answers its health check", tags: ["runtime"] } },
    )
    .get(
      "/metrics",
      async ({ query }) => {
        const text =
          query.scope === "deployment"
            ? await deploymentMetrics(bus, opts.contracts, opts.metrics, opts.readyTimeoutMs)
            : await opts.metrics.text();
        return new Response(text, { headers: { "content-type": opts.metrics.registry.contentType } });
      },
      {
        detail: {
          summary: "Prometheus metrics of this process; ?scope=deployment merges every process that serves a module",
          tags: ["runtime"],
        },
      },
    );

  for (const contract of opts.contracts) {
    for (const route of contract.routes) addRoute(app, contract, route, opts);
  }
  return app;
}

function addRoute(app: { route: (...args: any[]) => unknown }, contract: ModuleContract, route: RouteDef, opts: GatewayOptions) {
  const bodyKind = route.body ?? (route.method === "GET" || route.method === "DELETE" ? "none" : "json");
  const op = contract.operations[route.operation];
  // Per-request debug lines cost an object each even when the level drops them: decided once.
  const debug = opts.log.isLevelEnabled("debug");
  const spanName = `${route.method} ${route.path}`;
  const operation = `${contract.name}.${route.operation}`;
  // Not destructuring `query`: Elysia would parse every request's query string, which few routes read.
  const handler = async ({ request, params, set }: any) => {
    const admission = admissions.get(request);
    if (admission?.headers) Object.assign(set.headers, admission.headers);
    const requestId = request.headers.get("x-request-id") ?? crypto.randomUUID();
    set.headers["x-request-id"] = requestId;
    const parent = contextFromTraceparent(request.headers.get("traceparent") ?? undefined);
    const started = performance.now();
    const done = (status: number) => opts.metrics.http(route.method, route.path, status, (performance.now() - started) / 1000);
    let input: any;
    const audit = (status: number, outcome: string, output?: any) => {
      if (!opts.security?.audit || (route.method === "GET" && status < 400 && !opts.security.auditReads)) return;
      // The model and its version as the request or the answer names them: a path parameter, OIP's model_name /
      // model_version, or a `model: {name, version}` input (decide).
      const model = modelOf(params) ?? output?.model_name ?? input?.model?.name;
      const modelVersion = output?.model_version ?? input?.model?.version;
      const decisionId = output?.decisionId ?? output?.decision_id;
      opts.security.record({
        identity: admission?.identity?.id ?? "anonymous",
        method: route.method,
        route: route.path,
        operation,
        status,
        outcome,
        requestId,
        // Undefined fields are left out of the stored JSON.
        model: typeof model === "string" ? model : undefined,
        modelVersion: modelVersion === undefined ? undefined : String(modelVersion),
        decisionId: typeof decisionId === "string" ? decisionId : undefined,
      });
    };
    return inSpan(spanName, SpanKind.SERVER, parent, async (span, ctx) => {
      set.headers.traceparent = currentTraceparent(ctx) ?? "";
      try {
        const declared = Number(request.headers.get("content-length") ?? 0);
        if (declared > opts.maxBodyBytes) {
          throw new CleaveError("PAYLOAD_TOO_LARGE", `request body of ${declared} bytes exceeds the limit of ${opts.maxBodyBytes}`);
        }
        let query: Record<string, string> | undefined;
        const view: HttpRequestView = {
          params,
          get query() {
            return (query ??= queryOf(request.url));
          },
          header: (name) => request.headers.get(name) ?? undefined,
          body: await readBody(request, bodyKind, opts.limits, opts.maxBodyBytes),
        };
        if (bodyKind === "json") checkInferenceBody(view.body, opts.limits);
        else if (bodyKind === "raw") checkBinaryHeader(request.headers.get("inference-header-content-length"), (view.body as Uint8Array).length);
        input = route.toInput ? route.toInput(view) : defaultInput(view);
        const output = await opts.bus.call(contract.name, route.operation, input, { identity: admission?.identity });
        const res = { status: 200, headers: {} as Record<string, string> };
        const body = route.toResponse ? route.toResponse(output, res, view) : output;
        set.status = res.status;
        Object.assign(set.headers, res.headers);
        if (debug) opts.log.debug({ requestId, traceId: span.spanContext().traceId, route: route.path, status: res.status }, "request");
        const status = body instanceof Response ? body.status : res.status;
        done(status);
        audit(status, "OK", output);
        return body;
      } catch (err) {
        const error = err instanceof CleaveError ? err : new CleaveError("INTERNAL", "internal error");
        const line = { requestId, traceId: span.spanContext().traceId, route: route.path, code: error.code };
        if (error.code === "INTERNAL") opts.log.error({ ...line, err }, "request failed");
        else if (debug) opts.log.debug(line, "request refused");
        span.setAttribute("cleave.error", error.code);
        done(error.httpStatus);
        audit(error.httpStatus, error.code);
        return errorResponse(error);
      }
    });
  };
  const detail: Record<string, unknown> = { summary: route.summary ?? op.summary, tags: [contract.name] };
  const bodySchema = route.bodySchema ?? (bodyKind === "json" ? op.input : undefined);
  if (bodySchema) detail.requestBody = { content: { "application/json": { schema: bodySchema } } };
  if (bodyKind === "raw") detail.requestBody = { content: { "application/octet-stream": {} } };
  // Bodies are read by the handler itself (parse: "none") so that malformed JSON and size limits answer with our
  // error shape, and raw bodies (binary tensors, model files) are never decoded as text. The bus validates the
  // operation input, so the body is documented here, not validated twice.
  app.route(route.method, route.path, handler, { detail, parse: "none" } as any);
}

function queryOf(url: string): Record<string, string> {
  const start = url.indexOf("?");
  return start < 0 ? {} : Object.fromEntries(new URLSearchParams(url.slice(start + 1)));
}

function defaultInput(req: HttpRequestView): unknown {
  const body = req.body;
  if (body && typeof body === "object" && !Array.isArray(body) && !(body instanceof Uint8Array)) {
    return { ...body, ...req.params };
  }
  if (body === undefined) return { ...req.query, ...req.params };
  return body;
}
