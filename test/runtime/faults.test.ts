/**
 * Faults with real processes and a real nats-server: a module process killed with SIGKILL, restarted, and the
 * NATS server itself restarted under running clients.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CleaveError } from "../../src/runtime/errors";
import { Child, REPO, writeConfig } from "../harness/child";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { freePort, NatsServer } from "../harness/nats-server";

const PROBE = `${REPO}/test/fixtures/plugins/probe.ts`;
const MODULES = { probe: {}, registry: {} };

async function callError(p: Promise<unknown>): Promise<{ err: CleaveError; ms: number }> {
  const started = performance.now();
  try {
    await p;
  } catch (err) {
    return { err: err as CleaveError, ms: performance.now() - started };
  }
  throw new Error("expected failure");
}

async function eventually<T>(fn: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > until) throw err;
      await Bun.sleep(100);
    }
  }
}

describe("faults over NATS with real processes", () => {
  let nats: NatsServer;
  let gateway: TestProcess;
  let configFile: string;
  let probe: Child;

  const startProbe = async () => {
    const child = new Child(["serve", "--config", configFile, "--modules", "probe", "--name", "probe"]);
    await child.waitFor('"cleave process started"');
    return child;
  };

  beforeAll(async () => {
    nats = await NatsServer.start();
    configFile = writeConfig({
      deployment: "test",
      modules: MODULES,
      plugins: [{ path: PROBE }],
      bus: { transport: "nats", nats: { servers: [nats.url] } },
      log: { level: "info" },
    });
    gateway = await startTestProcess({ placement: "nats", natsUrl: nats.url, modules: MODULES, local: ["registry"], plugins: [PROBE] });
    probe = await startProbe();
  });

  afterAll(async () => {
    await probe?.kill();
    await gateway?.close();
    await nats?.stop();
  });

  test("kill -9 a module process: in-flight callers fail within their deadline, new ones fail fast", async () => {
    expect(((await gateway.bus.call("probe", "echo", { text: "up" })) as { text: string }).text).toBe("up");
    const inFlight = callError(gateway.bus.call("probe", "sleep", { ms: 10_000 }, { timeoutMs: 1500 }));
    await Bun.sleep(200);
    await probe.kill("SIGKILL");

    const { err: lost, ms: lostMs } = await inFlight;
    expect(lost.code).toBe("DEADLINE_EXCEEDED");
    expect(lostMs).toBeLessThan(2500);

    const { err: fresh, ms: freshMs } = await callError(gateway.bus.call("probe", "echo", { text: "x" }, { timeoutMs: 5000 }));
    expect(fresh.code).toBe("UNAVAILABLE");
    expect(freshMs).toBeLessThan(1000);
  });

  test("/readyz reports the dead module with detail, then recovers when it restarts", async () => {
    const down = await fetch(`${gateway.url}/readyz`);
    expect(down.status).toBe(503);
    const report = (await down.json()) as { modules: Record<string, { status: string; error?: string }> };
    expect(report.modules.probe.status).toBe("unavailable");
    expect(report.modules.probe.error).toContain("UNAVAILABLE");
    expect(report.modules.registry.status).toBe("ok");

    probe = await startProbe();
    // The caller was not restarted: the same bus reaches the new process.
    const out = await eventually(() => gateway.bus.call("probe", "echo", { text: "back" }) as Promise<{ text: string }>);
    expect(out.text).toBe("back");
    expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
  });

  test("restart nats-server: clients reconnect by themselves", async () => {
    await nats.kill("SIGKILL");
    const { err } = await callError(gateway.bus.call("probe", "echo", { text: "x" }, { timeoutMs: 500 }));
    expect(["UNAVAILABLE", "DEADLINE_EXCEEDED"]).toContain(err.code);
    for (let i = 0; i < 100 && gateway.bus.transport.connected(); i++) await Bun.sleep(20);
    expect(gateway.bus.transport.connected()).toBe(false);

    await nats.restart();
    const out = await eventually(() => gateway.bus.call("probe", "echo", { text: "again" }, { timeoutMs: 1000 }) as Promise<{ text: string }>, 20_000);
    expect(out.text).toBe("again");
    expect(gateway.bus.transport.connected()).toBe(true);
    await probe.waitFor("NATS reconnected");
  });

  test("SIGTERM drains: an in-flight call finishes, then the process exits 0", async () => {
    const pending = gateway.bus.call("probe", "sleep", { ms: 400 }, { timeoutMs: 5000 });
    await Bun.sleep(100);
    probe.proc.kill("SIGTERM");
    expect(((await pending) as { slept: number }).slept).toBe(400);
    expect(await probe.exit()).toBe(0);
    expect(probe.stdout).toContain("shutting down: draining in-flight calls");
  });
});

describe("start-up against an unreachable NATS", () => {
  test("onUnreachable: exit → non-zero exit with a message naming the key", async () => {
    const file = writeConfig({
      modules: { registry: {} },
      bus: { transport: "nats", nats: { servers: ["nats://127.0.0.1:1"], connectTimeoutMs: 300 } },
    });
    const child = new Child(["serve", "--config", file]);
    expect(await child.exit()).toBe(1);
    expect(child.stderr).toContain("cannot reach NATS at nats://127.0.0.1:1 (bus.nats.servers)");
  });

  test("onUnreachable: retry → visible retry log lines, then serves once NATS appears", async () => {
    const port = await freePort();
    const file = writeConfig({
      modules: { registry: {} },
      bus: { transport: "nats", nats: { servers: [`nats://127.0.0.1:${port}`], connectTimeoutMs: 200, onUnreachable: "retry" } },
      http: { enabled: false },
    });
    const child = new Child(["serve", "--config", file, "--modules", "registry"]);
    try {
      await child.waitFor("NATS unreachable; retrying");
      const nats = await NatsServer.startOn(port);
      try {
        await child.waitFor('"cleave process started"', 20_000);
      } finally {
        await child.kill("SIGTERM");
        await nats.stop();
      }
    } finally {
      await child.kill();
    }
  });
});
