/**
 * kill -9 during uploads: a real `cleave serve` child process receives large pushes and is SIGKILLed while some
 * are in flight. After a restart on the same data dir every version must be complete (its blob present and hashing
 * to its digest), numbered without gaps, every acknowledged push must be there, and no temp file or unreferenced
 * blob may remain.
 */
import { expect, test } from "bun:test";
import { spawn } from "bun";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registryContract } from "../../src/modules/registry/contract";
import { freePort } from "../harness/nats-server";
import { waitForPort } from "../../src/runtime/supervisor";
import { largeModel, push } from "./helpers";

const ROOT = join(import.meta.dir, "../..");
const SIZE = 6 * 1024 * 1024;

async function startChild(dataDir: string) {
  const port = await freePort();
  const config = join(dataDir, "cleave.yaml");
  writeFileSync(
    config,
    [
      "deployment: crash",
      `dataDir: ${dataDir}`,
      "modules:",
      "  registry: { maxArtifactBytes: 67108864, approval: { aliases: [] } }",
      `http: { port: ${port}, maxBodyBytes: 67108864 }`,
      "log: { level: silent }",
    ].join("\n"),
  );
  const proc = spawn(["bun", "src/cli/main.ts", "serve", "--config", config], { cwd: ROOT, stdout: "ignore", stderr: "inherit" });
  await waitForPort(port, 15_000);
  return { proc, url: `http://127.0.0.1:${port}` };
}

test("a kill -9 mid-upload leaves complete versions or none", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "cleave-crash-"));
  const acknowledged = new Set<string>();
  let interrupted = 0;
  let pushed = 0;
  try {
    for (let round = 0; round < 3; round++) {
      const child = await startChild(dataDir);
      let killed = false;
      // Three writers pushing distinct 6 MB models back to back, so the kill lands inside some upload.
      const writer = async (w: number) => {
        for (let i = 0; !killed; i++) {
          const bytes = largeModel(SIZE, `round ${round} writer ${w} push ${i}`);
          try {
            const r = await push(child.url, "crashy", bytes);
            if (r.status === 201) acknowledged.add(r.body.version.digest);
            else throw new Error(`push answered ${r.status}: ${JSON.stringify(r.body)}`);
            pushed++;
          } catch (err) {
            if (!killed) throw err;
            interrupted++;
          }
        }
      };
      const writers = [0, 1, 2].map(writer);
      const before = acknowledged.size;
      while (acknowledged.size < before + 2) await Bun.sleep(5);
      await Bun.sleep(Math.floor(Math.random() * 40));
      killed = true;
      child.proc.kill("SIGKILL");
      await child.proc.exited;
      await Promise.all(writers);
    }
    expect(interrupted).toBeGreaterThan(0);
    const blobDir = join(dataDir, "registry", "blobs");
    const leftTemps = readdirSync(join(blobDir, "tmp")).length;

    // Restart in this process on the same data dir and inspect what survived.
    const { startTestProcess } = await import("../harness/deployment");
    const p = await startTestProcess({
      placement: "inprocess",
      dataDir,
      deployment: "crash",
      modules: { registry: { maxArtifactBytes: 67108864 } },
      http: false,
    });
    try {
      const { versions } = await p.bus.call(registryContract, "getModel", { model: "crashy" });
      expect(versions.map((v) => v.version)).toEqual(versions.map((_, i) => i + 1));
      const digests = new Set(versions.map((v) => v.digest));
      for (const d of acknowledged) expect(digests.has(d)).toBe(true);
      for (const v of versions) {
        const check = await p.bus.call(registryContract, "verify", { model: "crashy", version: v.version });
        expect(check).toMatchObject({ ok: true, digestMatches: true });
      }
      expect(readdirSync(join(blobDir, "tmp"))).toEqual([]);
      const onDisk = readdirSync(join(blobDir, "sha256")).flatMap((pre) => readdirSync(join(blobDir, "sha256", pre)).map((h) => `sha256:${h}`));
      expect(new Set(onDisk)).toEqual(digests);
      console.log(`crash test: ${pushed} pushes acknowledged, ${interrupted} interrupted by kill -9, ${versions.length} versions intact, ${leftTemps} temp files of cut writes swept at restart`);
    } finally {
      await p.close();
    }
  } finally {
    if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
  }
}, 90_000);
