/**
 * Training/serving consistency: a stream replayed over HTTP, the online vector captured at each scoring moment
 * (through retrieval and through observe), and the same moments exported offline by the real CLI: every value equal.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCsv } from "../../src/cli/csv";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { modules } from "./config";
import { caughtUp, mismatches, replayAndCapture, scoringMoments, writeExportInputs } from "./replay";
import { syntheticStream } from "./stream";

let proc: TestProcess;
const dir = mkdtempSync(join(tmpdir(), "cleave-consistency-"));

beforeAll(async () => {
  proc = await startTestProcess({ placement: "inprocess", modules });
});
afterAll(async () => {
  await proc.close();
  rmSync(dir, { recursive: true, force: true });
});

test("online vectors at scoring moments equal the offline export (mismatch rate 0)", async () => {
  const stream = syntheticStream(3000);
  const moments = scoringMoments(stream, 6);
  expect(moments.length).toBeGreaterThan(150);
  const captured = await replayAndCapture(proc.url!, proc.bus, stream, moments);

  const { events, labels } = writeExportInputs(dir, stream, moments);
  const configFile = join(dir, "cleave.yaml");
  writeFileSync(configFile, JSON.stringify({ modules }));
  const out = join(dir, "train.csv");
  const cli = Bun.spawnSync(["bun", "src/cli/main.ts", "features", "export", "--config", configFile,
    "--events", events, "--labels", labels, "--out", out]);
  expect(cli.stderr.toString()).toContain(`wrote ${moments.length} rows`);
  expect(cli.exitCode).toBe(0);

  const [header, ...rows] = parseCsv(readFileSync(out, "utf8"));
  expect(rows.length).toBe(moments.length);
  const bad = mismatches(header, rows, captured);
  expect(bad.slice(0, 5)).toEqual([]);
  // The comparison means something only if the vectors carry real values of every kind.
  const cells = captured.vectors.flat();
  expect(cells.filter((v) => typeof v === "number" && v > 0).length).toBeGreaterThan(cells.length / 3);
  expect(cells.some((v) => typeof v === "string")).toBe(true);
  expect(cells.some((v) => v === null)).toBe(true);

  // The ingestion log itself is an event source too, and gives the same training set.
  const fromLog = join(dir, "train-from-log.csv");
  const logFile = join(proc.dataDir, "ingestion", "log.sqlite");
  const cli2 = Bun.spawnSync(["bun", "src/cli/main.ts", "features", "export", "--config", configFile,
    "--events", logFile, "--labels", labels, "--out", fromLog]);
  expect(cli2.exitCode).toBe(0);
  expect(readFileSync(fromLog, "utf8")).toBe(readFileSync(out, "utf8"));

  // Too-late events were dropped online and offline alike, and reported.
  await caughtUp(proc.bus);
  const stats = await proc.bus.call("feature", "stats", {}, { timeoutMs: 2000 }) as { lateDropped: number };
  expect(stats.lateDropped).toBeGreaterThan(0);
  expect(cli.stderr.toString()).toContain(`${stats.lateDropped} too late`);
}, 60_000);

test("export refuses bad invocations and label files with a clear message", () => {
  const configFile = join(dir, "cleave.yaml");
  writeFileSync(configFile, JSON.stringify({ modules }));
  const run = (...args: string[]) => Bun.spawnSync(["bun", "src/cli/main.ts", "features", "export", "--config", configFile, ...args]);
  const events = join(dir, "e.ndjson");
  writeFileSync(events, "");
  let r = run("--events", events, "--out", join(dir, "x.csv"));
  expect(r.exitCode).toBe(2);
  expect(r.stderr.toString()).toContain("--labels is required");
  const labels = join(dir, "bad-labels.csv");
  writeFileSync(labels, "when,label,card\n1,0,c1\n");
  writeFileSync(events, JSON.stringify({ id: "a", type: "login", timestamp: 1, data: { customer: "c", device: "d" } }));
  r = run("--events", events, "--labels", labels, "--out", join(dir, "x.csv"));
  expect(r.exitCode).toBe(2);
  expect(r.stderr.toString()).toContain('has no "timestamp" column');
  writeFileSync(labels, "timestamp,label,card,amount\n2026-03-01T00:00:00Z,0,c1,lots\n");
  r = run("--events", events, "--labels", labels, "--out", join(dir, "x.csv"));
  expect(r.stderr.toString()).toContain('row 1: amount "lots" is not a number');
});
