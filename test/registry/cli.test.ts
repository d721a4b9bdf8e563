/** `cleave models …` run as a real child process against a running test deployment over REST. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn } from "bun";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { fixture, largeModel } from "./helpers";

const ROOT = join(import.meta.dir, "../..");
const work = mkdtempSync(join(tmpdir(), "cleave-cli-"));
let p: TestProcess;

async function cli(...args: string[]) {
  const proc = spawn(["bun", "src/cli/main.ts", "models", ...args], {
    cwd: ROOT,
    env: { ...process.env, CLEAVE_URL: p?.url ?? "http://127.0.0.1:1", CLEAVE_ACTOR: "alice", CLEAVE_ROLES: "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

beforeAll(async () => {
  const keygen = await cli("keygen", "--out", join(work, "ci"));
  expect(keygen.code).toBe(0);
  expect(keygen.stdout).toContain("trustedKeys");
  const publicKey = readFileSync(join(work, "ci.pub"), "utf8").trim();
  p = await startTestProcess({
    placement: "inprocess",
    modules: { registry: { approval: { aliases: ["champion"] }, signatures: { required: false, trustedKeys: [{ publicKey }] } } },
  });
  writeFileSync(join(work, "fraud.onnx"), fixture("test_xgb"));
  writeFileSync(join(work, "fraud2.onnx"), largeModel(1_200_000, "cli v2"));
  writeFileSync(join(work, "notes.txt"), "not a model");
});

afterAll(async () => {
  await p?.close();
  rmSync(work, { recursive: true, force: true });
});

test("push (signed, chunked), list, show; a duplicate push names the existing version", async () => {
  const first = await cli("push", join(work, "fraud.onnx"), "--name", "fraud", "--metrics", "auc=0.91,f1=0.5", "--sign", join(work, "ci.key"));
  expect(first).toMatchObject({ code: 0 });
  expect(first.stdout).toContain("created fraud version 1");
  const again = await cli("push", join(work, "fraud.onnx"), "--name", "fraud");
  expect(again.stdout).toContain("already registered as fraud version 1");
  const second = await cli("push", join(work, "fraud2.onnx"), "--name", "fraud", "--tags", "team=risk");
  expect(second.stdout).toContain("created fraud version 2");

  const list = await cli("list", "--json");
  expect(JSON.parse(list.stdout).models).toEqual([expect.objectContaining({ name: "fraud", versions: 2, latestVersion: 2 })]);
  const show = await cli("show", "fraud", "1");
  expect(show.stdout).toContain("signed   ed25519 key");
  expect(show.stdout).toContain("metrics  auc=0.91 f1=0.5");
  expect(show.stdout).toContain("inputs   X:tensor(float32)[?,4]");
});

test("approve, alias set (refused while unapproved), rollback, history", async () => {
  const refused = await cli("alias", "set", "fraud", "champion", "1");
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain("not approved");
  expect(refused.stderr).toContain("HTTP 403");

  const notApprover = await cli("approve", "fraud", "1");
  expect(notApprover.code).toBe(1);
  for (const v of ["1", "2"]) expect((await cli("approve", "fraud", v, "--roles", "approver", "--actor", "carol")).code).toBe(0);
  expect((await cli("alias", "set", "fraud", "champion", "1", "--reason", "first")).code).toBe(0);
  expect((await cli("alias", "set", "fraud", "champion", "2", "--reason", "better auc")).code).toBe(0);
  const rolled = await cli("rollback", "fraud", "champion", "--reason", "latency");
  expect(rolled.stdout).toContain("rollback 2 → 1  by alice: latency");
  const shown = await cli("show", "fraud", "champion");
  expect(shown.stdout).toContain("fraud version 1 (@champion)");
  const history = await cli("history", "fraud", "champion");
  expect(history.stdout.trim().split("\n")).toHaveLength(3);
  const removed = await cli("alias", "rm", "fraud", "champion", "--reason", "retire");
  expect(removed.stdout).toContain("delete   1 → -");
});

test("verify passes, then fails once the blob is modified", async () => {
  const ok = await cli("verify", "fraud", "1");
  expect(ok.code).toBe(0);
  expect(ok.stdout).toContain("signature valid");
  const record = (await (await fetch(`${p.url}/v1/registry/models/fraud/versions/2`)).json()) as { digest: string };
  const hex = record.digest.slice(7);
  writeFileSync(join(p.dataDir, "registry", "blobs", "sha256", hex.slice(0, 2), hex), "swapped");
  const bad = await cli("verify", "fraud", "2");
  expect(bad.code).toBe(1);
  expect(bad.stdout).toContain("it was modified");
});

test("mistakes get clear messages and exit codes", async () => {
  const notOnnx = await cli("push", join(work, "notes.txt"), "--name", "fraud");
  expect(notOnnx.code).toBe(1);
  expect(notOnnx.stderr).toContain("not an ONNX model");
  const noName = await cli("push", join(work, "fraud.onnx"));
  expect(noName.code).toBe(2);
  expect(noName.stderr).toContain("--name");
  const missing = await cli("push", join(work, "nope.onnx"), "--name", "x");
  expect(missing.stderr).toContain("ENOENT");
  const badMetric = await cli("push", join(work, "fraud.onnx"), "--name", "x", "--metrics", "auc=high");
  expect(badMetric.stderr).toContain('"auc" must be a number');
  expect((await cli("frobnicate")).code).toBe(2);
  const unreachable = await cli("list", "--url", "http://127.0.0.1:1");
  expect(unreachable.code).toBe(1);
  expect(unreachable.stderr).toContain("cannot reach Cleave");
});
