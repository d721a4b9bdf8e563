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
