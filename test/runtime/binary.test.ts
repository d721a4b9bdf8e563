/**
 * The single binary: built with `bun build --compile`, copied alone into an empty directory outside the repo, run
 * with no node_modules, no Bun on PATH and a fresh HOME — it must still start and report ready.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { $ } from "bun";
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VERSION } from "../../src/runtime/version";
import { Child, REPO, writeConfig } from "../harness/child";
import { freePort } from "../harness/nats-server";

describe("dist/cleave copied alone into an empty directory", () => {
  const work = mkdtempSync(join(tmpdir(), "cleave-bin-"));
  const dir = join(work, "empty");
  const binary = join(dir, "cleave");
  const env = { PATH: join(work, "no-bin"), HOME: join(work, "home") };

  beforeAll(async () => {
    await $`bun ${join(REPO, "scripts/build.ts")} ${join(work, "cleave")}`.quiet();
    await $`mkdir -p ${dir}`;
    copyFileSync(join(work, "cleave"), binary);
    expect(readdirSync(dir)).toEqual(["cleave"]);
  }, 180_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test("--version works with no Bun and no node_modules", async () => {
    const child = new Child(["--version"], { cmd: [binary], env, cwd: dir });
    expect(await child.exit()).toBe(0);
    expect(child.stdout.trim()).toBe(VERSION);
  });

  test("the main job from the binary alone: demo model bootstrapped, /v1/score decides", async () => {
    const port = await freePort();
    copyFileSync(join(REPO, "configs/monolith.yaml"), join(work, "monolith.yaml"));
    const config = join(work, "main-job.yaml");
    await Bun.write(
      config,
      [
        "extends: monolith.yaml",
        `dataDir: ${join(work, "main-data")}`,
        `http: { port: ${port} }`,
        "modules: { decision: { pipeline: { bootstrap: { transactions: 4000 } } } }",
      ].join("\n"),
    );
    const key = `clv_bintest01_${"b".repeat(43)}`;
    const child = new Child(["serve", "--config", config], { cmd: [binary], env: { ...env, CLEAVE_ADMIN_KEY: key }, cwd: dir });
    try {
      await child.waitFor("fraud pipeline ready", 60_000);
      const tx = { id: "bin-1", card_id: "card-000001", merchant_id: "merchant-0001", amount: 25, country: "US", device_id: "dev-1" };
      let res: Response | undefined;
      for (let i = 0; i < 100; i++) {
        res = await fetch(`http://127.0.0.1:${port}/v1/score`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({ ...tx, id: `bin-${i}` }),
        });
        if (res.status === 200) break;
        await Bun.sleep(100); // the model is promoted; inference may still be loading it
      }
      expect(res?.status).toBe(200);
      const body = (await res!.json()) as { decision: string; model: { name: string } };
      expect(["approve", "review", "block"]).toContain(body.decision);
      expect(body.model.name).toBe("fraud");
      const anonymous = await fetch(`http://127.0.0.1:${port}/v1/score`, { method: "POST", body: JSON.stringify(tx) });
      expect(anonymous.status).toBe(401);

      // `cleave demo` against it: refused without the key (saying how to pass one), then a summary of 300 decisions.
      const demoArgs = ["demo", "-n", "300", "--url", `http://127.0.0.1:${port}`, "--config", config];
      const refused = new Child(demoArgs, { cmd: [binary], env, cwd: dir });
      expect(await refused.exit(60_000)).not.toBe(0);
      expect(refused.stderr).toContain("wants an API key: pass --api-key KEY or set CLEAVE_API_KEY");
      const demo = new Child(demoArgs, { cmd: [binary], env: { ...env, CLEAVE_API_KEY: key }, cwd: dir });
      expect(await demo.exit(60_000)).toBe(0);
      const counts = /decisions: approve (\d+), review (\d+), block (\d+)/.exec(demo.stdout);
      expect(counts).not.toBeNull();
      expect(counts!.slice(1).reduce((sum, c) => sum + Number(c), 0)).toBe(300);
      expect(demo.stdout).toMatch(/block or review vs truth: precision ([\d.]+|n\/a), recall [\d.]+/);
      expect(demo.stdout).toMatch(/latency \(client side\): p50 [\d.]+ ms, p99 [\d.]+ ms/);
      expect(demo.stdout).toMatch(/decision digest \(compare runs\): [0-9a-f]{16}/);
    } finally {
      child.proc.kill("SIGTERM");
      expect(await child.exit()).toBe(0);
    }
  }, 90_000);

  test("serve --config: all six modules start and /readyz is healthy", async () => {
    const port = await freePort();
    const config = writeConfig(
      {
        dataDir: join(work, "data"),
        modules: { ingestion: {}, feature: {}, inference: {}, decision: {}, registry: {}, monitoring: {} },
        http: { port },
      },
      work,
    );
    const child = new Child(["serve", "--config", config], { cmd: [binary], env, cwd: dir });
    try {
      await child.waitFor('"cleave process started"', 30_000);
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      const body = (await res.json()) as { status: string; modules: Record<string, { status: string }> };
      expect(res.status).toBe(200);
      expect(body.status).toBe("ready");
      expect(Object.keys(body.modules)).toHaveLength(6);
    } finally {
      child.proc.kill("SIGTERM");
      expect(await child.exit()).toBe(0);
    }
  });
});
