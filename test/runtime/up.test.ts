/**
 * `cleave up`: the split topology as real child processes with its own nats-server; replicas share a module's
 * load through the NATS queue group; Ctrl-C (SIGINT) stops everything cleanly.
 */
import { describe, expect, test } from "bun:test";
import { Child, REPO, writeConfig } from "../harness/child";
import { freePort } from "../harness/nats-server";

describe("cleave up", () => {
  test("starts nats-server and every process, balances replicas, stops on SIGINT", async () => {
    const [natsPort, httpPort] = [await freePort(), await freePort()];
    const modules = { registry: {}, monitoring: {}, probe: {} };
    const config = writeConfig({
      deployment: "uptest",
      dataDir: "./data",
      modules,
      plugins: [{ path: `${REPO}/test/fixtures/plugins/probe.ts` }],
      process: { modules: [] },
      bus: { transport: "nats", nats: { servers: [`nats://127.0.0.1:${natsPort}`], onUnreachable: "retry" } },
      up: {
        nats: { start: true, port: natsPort, storeDir: "./data/nats" },
        processes: [
          { name: "gateway", modules: [], httpPort },
          { name: "registry", modules: ["registry"], replicas: 2 },
          { name: "rest", modules: ["monitoring", "probe"] },
        ],
      },
    });
    const up = new Child(["up", "--config", config]);
    try {
      const base = `http://127.0.0.1:${httpPort}`;
      const until = Date.now() + 30_000;
      let ready: Response | undefined;
      while (Date.now() < until) {
        ready = await fetch(`${base}/readyz`).catch(() => undefined);
        if (ready?.status === 200) break;
        await Bun.sleep(200);
      }
      expect(ready?.status).toBe(200);

      // /readyz is satisfied by one replica; the second may still be starting, so keep asking for a while.
      const pids = new Set<number>();
      for (let i = 0; i < 400 && pids.size < 2; i++) {
        const res = await fetch(`${base}/v1/registry/ping`, { method: "POST", body: "{}" });
        pids.add(((await res.json()) as { pid: number }).pid);
        if (i >= 20) await Bun.sleep(50);
      }
      expect(pids.size).toBe(2);

      up.proc.kill("SIGINT");
      expect(await up.exit(30_000)).toBe(0);
      expect(up.stdout + up.stderr).toContain("all processes stopped");
      expect(await fetch(`${base}/healthz`).catch(() => "refused")).toBe("refused");
    } finally {
      up.proc.kill("SIGKILL");
    }
  }, 60_000);
});
