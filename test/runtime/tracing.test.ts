/**
 * Traces leave the process over OTLP/HTTP when `tracing.otlpUrl` is set: a real `cleave serve` child exports to a
 * collector endpoint served here, and one request's spans — gateway, bus call, module — share the caller's trace id.
 */
import { afterAll, expect, test } from "bun:test";
import { Child, REPO, writeConfig } from "../harness/child";
import { freePort } from "../harness/nats-server";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

const received: OtlpSpan[] = [];
const collector = Bun.serve({
  port: 0,
  async fetch(req) {
    const body = (await req.json()) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
    for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) received.push(...ss.spans);
    return new Response("{}", { headers: { "content-type": "application/json" } });
  },
});
afterAll(() => collector.stop(true));

test("one request's spans across gateway, bus and modules reach the OTLP collector under the caller's trace id", async () => {
  const port = await freePort();
  const config = writeConfig({
    modules: { probe: {}, registry: {} },
    plugins: [{ path: `${REPO}/test/fixtures/plugins/probe.ts` }],
    http: { port },
    tracing: { otlpUrl: `http://127.0.0.1:${collector.port}/v1/traces` },
  });
  const child = new Child(["serve", "--config", config]);
  try {
    await child.waitFor('"cleave process started"');
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const res = await fetch(`http://127.0.0.1:${port}/v1/probe/relay`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${traceId}-b7ad6b7169203331-01` },
      body: JSON.stringify({ module: "registry", operation: "ping", payload: {} }),
    });
    expect(res.status).toBe(200);
  } finally {
    child.proc.kill("SIGTERM"); // the exporter flushes at shutdown
    expect(await child.exit()).toBe(0);
  }
  const mine = received.filter((s) => s.traceId === "0af7651916cd43dd8448eb211c80319c");
  const names = mine.map((s) => s.name).sort();
  expect(names).toEqual(
    ["POST /v1/probe/relay", "call probe.relay", "call registry.ping", "serve probe.relay", "serve registry.ping"].sort(),
  );
  // Each span's parent is another span of the same request, except the gateway's, whose parent is the caller's.
  const ids = new Set(mine.map((s) => s.spanId));
  const roots = mine.filter((s) => !ids.has(s.parentSpanId ?? ""));
  expect(roots.map((s) => s.name)).toEqual(["POST /v1/probe/relay"]);
}, 30_000);
