/** The HTTP gateway's own behaviour: health, OpenAPI, error shapes, limits, request ids and log redaction. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { createLogger } from "../../src/runtime/log";
import { startTestProcess, type TestProcess } from "../harness/deployment";

describe("gateway", () => {
  let p: TestProcess;
  beforeAll(async () => {
    p = await startTestProcess({
      placement: "inprocess",
      modules: { probe: {}, registry: {} },
      plugins: ["test/fixtures/plugins/probe.ts"],
      extra: { http: { port: 0, maxBodyBytes: 4096 } },
    });
  });
  afterAll(() => p.close());

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${p.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

  test("/healthz answers while the process is alive; /readyz lists every module", async () => {
    expect(await (await fetch(`${p.url}/healthz`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`${p.url}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { status: string; modules: Record<string, { status: string }> };
    expect(body.status).toBe("ready");
    expect(Object.keys(body.modules).sort()).toEqual(["probe", "registry"]);
  });

  test("OpenAPI document lists module routes; the page is served", async () => {
    const doc = (await (await fetch(`${p.url}/openapi/json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toStartWith("3.");
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/healthz", "/readyz", "/v1/registry/ping", "/v1/probe/echo"]));
    const page = await fetch(`${p.url}/openapi`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
  });

  test("unknown route: 404 JSON naming it", async () => {
    const res = await fetch(`${p.url}/v1/nowhere`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "no route GET /v1/nowhere", code: "NOT_FOUND" });
  });

  test("malformed and truncated JSON: 400 that says so", async () => {
    for (const body of ['{"text": "x"', "[1,2", "not json", '{"text": "\\ud800"']) {
      const res = await post("/v1/probe/echo", body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe("INVALID_ARGUMENT");
    }
  });

  test("a body over http.maxBodyBytes: 413", async () => {
    const res = await post("/v1/probe/echo", JSON.stringify({ text: "x".repeat(10_000) }));
    expect(res.status).toBe(413);
  });

  test("request ids: echoed when given, generated otherwise", async () => {
    const given = await post("/v1/registry/ping", "{}", { "x-request-id": "abc-123" });
    expect(given.headers.get("x-request-id")).toBe("abc-123");
    const generated = await post("/v1/registry/ping", "{}");
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("an empty body for an operation with required fields is a 400 naming the field", async () => {
    const res = await post("/v1/probe/echo", "");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain('"text"');
  });
});

describe("logs", () => {
  test("secrets are redacted wherever they appear", async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const log = createLogger({ level: "info", destination: sink });
    log.info({ bus: { nats: { pass: "hunter2", token: "tok", user: "svc" } }, password: "p", headers: { authorization: "Bearer x" } }, "config");
    log.flush();
    await Bun.sleep(20);
    const text = lines.join("");
    expect(text).toContain('"user":"svc"');
    for (const secret of ["hunter2", '"tok"', '"p"', "Bearer x"]) expect(text).not.toContain(secret);
    expect(text).toContain("[redacted]");
  });
});

describe("metrics", () => {
  test("/metrics exposes HTTP and bus call metrics with caller, callee and transport", async () => {
    const p = await startTestProcess({ placement: "inprocess", modules: { probe: {}, registry: {} }, plugins: ["test/fixtures/plugins/probe.ts"] });
    try {
      await fetch(`${p.url}/v1/probe/relay`, {
        method: "POST",
        body: JSON.stringify({ module: "registry", operation: "ping", payload: {} }),
      });
      await fetch(`${p.url}/v1/probe/echo`, { method: "POST", body: JSON.stringify({ text: 1 }) });
      const res = await fetch(`${p.url}/metrics`);
      expect(res.headers.get("content-type")).toContain("text/plain");
      const text = await res.text();
      expect(text).toMatch(/cleave_http_request_duration_seconds_count\{[^}]*method="POST",route="\/v1\/probe\/relay",status="200"[^}]*\} 1/);
      expect(text).toMatch(/cleave_http_request_duration_seconds_count\{[^}]*route="\/v1\/probe\/echo",status="400"[^}]*\} 1/);
      expect(text).toMatch(/cleave_bus_call_duration_seconds_count\{[^}]*caller="probe",callee="registry",operation="ping",transport="inprocess",outcome="OK"[^}]*\} 1/);
      expect(text).toMatch(/cleave_bus_served_total\{[^}]*module="probe",operation="echo",outcome="INVALID_ARGUMENT"[^}]*\} 1/);
      expect(text).toContain("process_resident_memory_bytes");
    } finally {
      await p.close();
    }
  });
});

describe("runtime histograms", () => {
  test("buckets are cumulative, as Prometheus reads them", async () => {
    const { RuntimeMetrics } = await import("../../src/runtime/metrics");
    const m = new RuntimeMetrics({ deployment: "t", process: "p" });
    m.http("GET", "/x", 200, 0.0003);
    m.http("GET", "/x", 200, 0.002);
    m.http("GET", "/x", 200, 9);
    const text = await m.text();
    const bucket = (le: string) => Number(new RegExp(`cleave_http_request_duration_seconds_bucket\\{[^}]*le="${le.replace("+", "\\+")}"[^}]*\\} (\\d+)`).exec(text)?.[1]);
    expect(bucket("0.0001")).toBe(0);
    expect(bucket("0.0005")).toBe(1);
    expect(bucket("0.0025")).toBe(2);
    expect(bucket("5")).toBe(2);
    expect(bucket("+Inf")).toBe(3);
  });
});
