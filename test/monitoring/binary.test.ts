/**
 * The dashboard from the single binary: the page and Chart.js are embedded assets, so the binary copied alone into
 * an empty directory (no node_modules, no repo) still serves them, and /metrics too.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { $ } from "bun";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Child, REPO, writeConfig } from "../harness/child";
import { freePort } from "../harness/nats-server";

const work = mkdtempSync(join(tmpdir(), "cleave-mon-bin-"));
const dir = join(work, "empty");
const binary = join(dir, "cleave");

beforeAll(async () => {
  await $`bun ${join(REPO, "scripts/build.ts")} ${join(work, "cleave")}`.quiet();
  await $`mkdir -p ${dir}`;
  copyFileSync(join(work, "cleave"), binary);
}, 180_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

test("the binary alone serves /dashboard, its Chart.js and /metrics", async () => {
  const port = await freePort();
  const config = writeConfig({ dataDir: join(work, "data"), modules: { monitoring: {} }, http: { port } }, work);
  const child = new Child(["serve", "--config", config], { cmd: [binary], env: { PATH: join(work, "no-bin"), HOME: join(work, "home") }, cwd: dir });
  try {
    await child.waitFor('"cleave process started"', 30_000);
    const page = await fetch(`http://127.0.0.1:${port}/dashboard`);
    expect(page.headers.get("content-type")).toStartWith("text/html");
    expect(await page.text()).toContain('<script src="/dashboard/chart.js"></script>');
    const chart = await fetch(`http://127.0.0.1:${port}/dashboard/chart.js`);
    expect(chart.headers.get("content-type")).toStartWith("text/javascript");
    expect(await chart.text()).toBe(readFileSync(join(REPO, "node_modules/chart.js/dist/chart.umd.min.js"), "utf8"));
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain("cleave_monitoring_observations_total");
  } finally {
    child.proc.kill("SIGTERM");
    expect(await child.exit()).toBe(0);
  }
}, 60_000);
