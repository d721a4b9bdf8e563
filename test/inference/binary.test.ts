/**
 * The compiled single binary serves inference with worker threads from a directory without node_modules: the
 * worker entry and onnxruntime's shared library must both come from inside the binary.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../harness/nats-server";
import { slowMlp } from "../fixtures/make-models";

const ROOT = join(import.meta.dir, "../..");
let dir: string;
let server: ReturnType<typeof Bun.spawn> | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cleave-binary-"));
});
afterAll(() => {
  server?.kill();
  rmSync(dir, { recursive: true, force: true });
});

test("the compiled binary serves an infer request from a worker thread", async () => {
  const build = Bun.spawnSync(["bun", "scripts/build.ts", join(dir, "build", "cleave")], { cwd: ROOT, stderr: "pipe" });
  expect(build.exitCode).toBe(0);
  const run = join(dir, "run");
  Bun.spawnSync(["mkdir", "-p", run]);
  copyFileSync(join(dir, "build", "cleave"), join(run, "cleave"));
  Bun.spawnSync(["chmod", "+x", join(run, "cleave")]);
  writeFileSync(join(run, "slow.onnx"), slowMlp(4));
  const port = await freePort();
  writeFileSync(
    join(run, "cleave.yaml"),
    `deployment: bin\ndataDir: ./data\nlog: { level: warn }\nhttp: { port: ${port} }\n` +
      "modules:\n  inference:\n    models:\n      - { name: slow, path: slow.onnx, workers: 1 }\n",
  );
  server = Bun.spawn([join(run, "cleave"), "serve", "--config", "cleave.yaml"], {
    cwd: run,
    env: { ...process.env, CLEAVE_CACHE_DIR: join(dir, "cache") },
    stdout: "ignore",
    stderr: "pipe",
  });
  const url = `http://127.0.0.1:${port}`;
  let ready = false;
  for (let i = 0; i < 200 && !ready; i++) {
    ready = await fetch(`${url}/v2/health/ready`).then((r) => r.status === 200, () => false);
    if (!ready) await Bun.sleep(100);
  }
  expect(ready).toBe(true);
  const index: any = await (await fetch(`${url}/v2/repository/index`)).json();
  expect(index.models).toEqual([{ name: "slow", version: "1", state: "ready", workers: 1, batching: true }]);
  const res = await fetch(`${url}/v2/models/slow/infer`, {
    method: "POST",
    body: JSON.stringify({ inputs: [{ name: "x", datatype: "FP32", shape: [2, 64], data: Array(128).fill(0.1) }] }),
  });
  expect(res.status).toBe(200);
  const body: any = await res.json();
  expect(body.outputs[0].shape).toEqual([2, 1]);
  expect(Number.isFinite(body.outputs[0].data[0])).toBe(true);
}, 90_000);
