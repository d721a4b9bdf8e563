/**
 * The dashboard in a real headless Chromium (Debian package chromium, driven by playwright-core): the page and
 * Chart.js come from Cleave itself, the charts draw real data, and a screenshot lands in test/output/.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { baselineFrom, observation, post, rng, row } from "./simulator";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = "test/output/monitoring-dashboard.png";

let p: TestProcess;
let browser: Browser;

beforeAll(async () => {
  if (!(await Bun.file(CHROMIUM).exists())) {
    throw new Error(`${CHROMIUM} is missing: run scripts/install-test-deps.sh (apt-get install chromium)`);
  }
  p = await startTestProcess({
    placement: "inprocess",
    modules: { monitoring: { drift: { evaluateEvery: 100, evaluateIntervalMs: 0, minObservations: 100 }, timelineBucketSeconds: 10 } },
  });
  const r = rng(12);
  await post(`${p.url}/v1/monitoring/baselines/credit/1`, baselineFrom(Array.from({ length: 800 }, () => row(r))), "PUT");
  // Three minutes of traffic, the last minute with amount shifted and slower answers.
  const now = Date.now();
  const obs = Array.from({ length: 600 }, (_, i) => {
    const late = i >= 400;
    const o = observation(row(r, { amount: late ? 150 : 0 }), `d${i}`);
    return { ...o, ts: now - (600 - i) * 300, latencyMs: (late ? 12 : 4) + (i % 7), error: i % 50 === 0 };
  });
  for (let i = 0; i < obs.length; i += 100) await post(`${p.url}/v1/monitoring/observations`, { observations: obs.slice(i, i + 100) });
  await post(`${p.url}/v1/labels`, { labels: obs.slice(0, 300).map((o, i) => ({ decisionId: o.decisionId, label: i % 3 === 0 ? 1 : 0 })) });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});

afterAll(async () => {
  await browser?.close();
  await p?.close();
});

test("the dashboard draws latency, throughput, outcomes, drift with distributions, and alerts", async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1500 } });
  const failed: string[] = [];
  page.on("requestfailed", (req) => failed.push(req.url()));
  page.on("pageerror", (err) => failed.push(err.message));
  await page.goto(`${p.url}/dashboard`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
  expect(failed).toEqual([]);
  // Browser-side code is passed as strings: the repo's tsconfig has no DOM types.
  expect(await page.evaluate("typeof window.Chart")).toBe("function");

  // Every chart canvas has pixels drawn on it (a blank canvas is all transparent).
  const inked = (await page.evaluate(`[...document.querySelectorAll("canvas")].map((c) => {
    const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) n++;
    return [c.id, n];
  })`)) as [string, number][];
  const ids = inked.map(([id]) => id);
  for (const id of ["throughput", "latency", "outcomes", "drift", "dist-amount", "dist-age", "dist-channel", "dist-score"]) {
    expect(ids).toContain(id);
  }
  for (const [id, n] of inked) expect(n, `canvas ${id} is blank`).toBeGreaterThan(500);

  const text = await page.textContent("main");
  expect(text).toContain("amount — ks");
  expect(text).toContain("DRIFT");
  expect(text).toContain('feature "amount" drifts');
  mkdirSync("test/output", { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
}, 30_000);
