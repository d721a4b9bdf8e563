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

  // Too-late events were dropped online and offline alike, and reported.
  await caughtUp(proc.bus);
  const stats = await proc.bus.call("feature", "stats", {}, { timeoutMs: 2000 }) as { lateDropped: number };
  expect(stats.lateDropped).toBeGreaterThan(0);
  expect(cli.stderr.toString()).toContain(`${stats.lateDropped} too late`);
}, 60_000);
