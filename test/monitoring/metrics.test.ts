/**
 * `GET /metrics` is valid Prometheus exposition: checked by `promtool check metrics` (Debian package prometheus;
 * `scripts/install-test-deps.sh` installs it) on a live endpoint with every metric family populated, in one process
 * and with monitoring in another process behind NATS.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { NatsServer } from "../harness/nats-server";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { baselineFrom, observation, post, rng, row } from "./simulator";

function promtool(): string {
  const path = Bun.which("promtool");
  if (!path) {
    throw new Error("promtool is not installed: run scripts/install-test-deps.sh (apt-get install prometheus)");
  }
  return path;
}

async function populate(url: string) {
  const r = rng(11);
  await post(`${url}/v1/monitoring/baselines/credit/1`, baselineFrom(Array.from({ length: 300 }, () => row(r))), "PUT");
  const obs = Array.from({ length: 200 }, (_, i) => observation(row(r, { amount: 200 }), `m${i}`));
  expect((await post(`${url}/v1/monitoring/observations`, { observations: obs })).status).toBe(200);
  await post(`${url}/v1/labels`, { labels: [...obs.slice(0, 50).map((o, i) => ({ decisionId: o.decisionId, label: i % 2 })), { decisionId: "zz", label: 1 }] });
  await fetch(`${url}/v1/monitoring/accuracy?model=credit`);
}

async function check(url: string, query = ""): Promise<string> {
  const res = await fetch(`${url}/metrics${query}`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
  const text = await res.text();
  const proc = Bun.spawn([promtool(), "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(`${out}${err}`.trim()).toBe("");
  expect(code).toBe(0);
  return text;
}

const FAMILIES = [
  "cleave_monitoring_observations_total",
  "cleave_monitoring_drift_value",
  "cleave_monitoring_drift_detected",
  "cleave_monitoring_missing_rate",
  "cleave_monitoring_precision",
  "cleave_monitoring_auc",
  "cleave_monitoring_labels_total",
  "cleave_monitoring_alerts_total",
  "cleave_monitoring_score_bucket",
  "cleave_monitoring_decisions_total",
];

describe("GET /metrics passes promtool check metrics", () => {
  const procs: TestProcess[] = [];
  let nats: NatsServer | undefined;
  afterAll(async () => {
    for (const p of procs.reverse()) await p.close();
    await nats?.stop();
  });

  test("in one process", async () => {
    const p = await startTestProcess({ placement: "inprocess", modules: { monitoring: {} } });
    procs.push(p);
    await populate(p.url!);
    const text = await check(p.url!);
    for (const f of FAMILIES) expect(text).toContain(`${f}{`);
    expect(text).toMatch(/cleave_monitoring_drift_detected\{model="credit",version="1",feature="amount",[^}]*\} 1/);
    // The runtime's own metrics are in the same exposition.
    for (const f of ["cleave_http_request_duration_seconds_bucket", "cleave_bus_call_duration_seconds_bucket"]) {
      expect(text).toContain(`${f}{`);
    }
    // The process's memory is reported, but not per V8 heap space: Bun computes those by walking the whole heap, a
    // ~30 ms stall of the event loop at every scrape of a loaded process.
    expect(text).toContain("nodejs_heap_size_used_bytes{");
    expect(text).not.toContain("nodejs_heap_space_size");
  });

  test("monitoring in another process: the gateway's ?scope=deployment merges both processes", async () => {
    nats = await NatsServer.start();
    const modules = { monitoring: {}, registry: {} };
    const mon = await startTestProcess({ placement: "nats", natsUrl: nats.url, modules, local: ["monitoring"], http: false, deployment: "metrics" });
    procs.push(mon);
    const gw = await startTestProcess({ placement: "nats", natsUrl: nats.url, modules, local: ["registry"], deployment: "metrics" });
    procs.push(gw);
    await populate(gw.url!);
    const own = await check(gw.url!);
    expect(own).not.toContain("cleave_monitoring_observations_total{");
    const text = await check(gw.url!, "?scope=deployment");
    for (const f of FAMILIES) expect(text).toContain(`${f}{`);
    // Series of both processes, told apart by their process label.
    expect(text).toMatch(/cleave_bus_served_total\{[^}]*module="monitoring"[^}]*process="monitoring"/);
    expect(text).toMatch(/cleave_http_request_duration_seconds_count\{[^}]*process="registry"/);
  });
});
