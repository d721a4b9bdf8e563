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

export interface GatewayOptions {
  bus: Bus;
  /** Contracts of every module in the deployment, whether or not this process runs them. */
  contracts: ModuleContract[];
  log: Logger;
  metrics: RuntimeMetrics;
  maxBodyBytes: number;
  readyTimeoutMs: number;
  version: string;
}

export function createGateway(opts: GatewayOptions) {
  const { bus, log } = opts;
  const app = new Elysia({ serve: { maxRequestBodySize: opts.maxBodyBytes } })
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
    .onError(({ code, error, request }) => {
      if (code === "NOT_FOUND") {
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
  const handler = async ({ request, params, query, set }: any) => {
    const requestId = request.headers.get("x-request-id") ?? crypto.randomUUID();
    set.headers["x-request-id"] = requestId;
    const parent = contextFromTraceparent(request.headers.get("traceparent") ?? undefined);
    const started = performance.now();
    const done = (status: number) => opts.metrics.http(route.method, route.path, status, (performance.now() - started) / 1000);
    return inSpan(`${route.method} ${route.path}`, SpanKind.SERVER, parent, async (span) => {
      set.headers.traceparent = currentTraceparent() ?? "";
      try {
        const declared = Number(request.headers.get("content-length") ?? 0);
        if (declared > opts.maxBodyBytes) {
          throw new CleaveError("PAYLOAD_TOO_LARGE", `request body of ${declared} bytes exceeds the limit of ${opts.maxBodyBytes}`);
        }
        const view: HttpRequestView = {
          params,
          query,
          headers: Object.fromEntries(request.headers),
          body: await readBody(request, bodyKind),
        };
        const input = route.toInput ? route.toInput(view) : defaultInput(view);
        const output = await opts.bus.call(contract.name, route.operation, input);
        const res = { status: 200, headers: {} as Record<string, string> };
        const body = route.toResponse ? route.toResponse(output, res, view) : output;
        set.status = res.status;
        Object.assign(set.headers, res.headers);
        opts.log.debug({ requestId, traceId: span.spanContext().traceId, route: route.path, status: res.status }, "request");
        done(body instanceof Response ? body.status : res.status);
        return body;
      } catch (err) {
        const error = err instanceof CleaveError ? err : new CleaveError("INTERNAL", "internal error");
        const line = { requestId, traceId: span.spanContext().traceId, route: route.path, code: error.code };
        if (error.code === "INTERNAL") opts.log.error({ ...line, err }, "request failed");
        else opts.log.debug(line, "request refused");
        span.setAttribute("cleave.error", error.code);
        done(error.httpStatus);
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

function defaultInput(req: HttpRequestView): unknown {
  const body = req.body;
  if (body && typeof body === "object" && !Array.isArray(body) && !(body instanceof Uint8Array)) {
    return { ...body, ...req.params };
  }
  if (body === undefined) return { ...req.query, ...req.params };
  return body;
}
