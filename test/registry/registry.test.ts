/** The registry over real HTTP and a real SQLite file: versions, approval, aliases, rollback, history. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { registryContract } from "../../src/modules/registry/contract";
import type { TestProcess } from "../harness/deployment";
import { APPROVER, ENGINEER, fixture, http, push, startRegistry, variant } from "./helpers";

let p: TestProcess;
let url: string;

beforeAll(async () => {
  p = await startRegistry({ approval: { aliases: ["champion"], approverRoles: ["approver"] } }, { placement: "serialized" });
  url = p.url!;
});
afterAll(() => p.close());

describe("versions", () => {
  test("push records the graph signature, metadata and creator; versions number 1, 2, 3", async () => {
    const meta = {
      metrics: { auc: 0.91 },
      tags: { team: "risk" },
      lineage: { dataRef: "s3://data/iris.parquet", dataHash: "sha256:abc", codeVersion: "git:1234", params: { C: 1.0 } },
      columns: [
        { name: "sepal_length", tensor: "X", index: 0 },
        { name: "sepal_width", tensor: "X", index: 1 },
      ],
      baseline: { sepal_length: { type: "numeric", count: 150, mean: 5.84, std: 0.83, min: 4.3, max: 7.9 } },
    };
    const first = await push(url, "iris", fixture("logreg_iris"), meta);
    expect(first.status).toBe(201);
    expect(first.headers.get("location")).toBe("/v1/registry/models/iris/versions/1");
    const v = first.body.version;
    expect(v).toMatchObject({ name: "iris", version: 1, createdBy: "alice", approved: false, metrics: { auc: 0.91 } });
    expect(v.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(v.tensors.inputs).toEqual([{ name: "X", kind: "tensor", dtype: "float32", shape: [null, 2], type: "tensor(float32)" }]);
    expect(v.tensors.outputs.map((o: any) => [o.name, o.kind, o.type])).toEqual([
      ["output_label", "tensor", "tensor(int64)"],
      ["output_probability", "other", "seq(map(int64,tensor(float32)))"],
    ]);
    expect(v.columns).toHaveLength(2);
    expect(v.lineage.codeVersion).toBe("git:1234");
    expect(v.baseline.sepal_length.mean).toBe(5.84);

    const second = await push(url, "iris", variant(fixture("logreg_iris"), "2"));
    expect(second.body.version.version).toBe(2);
    const third = await push(url, "iris", variant(fixture("logreg_iris"), "3"));
    expect(third.body.version.version).toBe(3);

    const model = await http(url, "GET", "/v1/registry/models/iris");
    expect(model.body.model).toMatchObject({ name: "iris", latestVersion: 3, versions: 3 });
    const list = await http(url, "GET", "/v1/registry/models");
    expect(list.body.models.map((m: any) => m.name)).toContain("iris");
  });

  test("a duplicate push answers with the existing version and stores nothing new", async () => {
    const bytes = variant(fixture("test_xgb"), "dup");
    const a = await push(url, "dup", bytes);
    const b = await push(url, "dup", bytes);
    expect(a.status).toBe(201);
    expect(b.status).toBe(200);
    expect(b.body.created).toBe(false);
    expect(b.body.version.version).toBe(a.body.version.version);
    expect((await http(url, "GET", "/v1/registry/models/dup")).body.model.versions).toBe(1);
  });

  test("columns must name graph inputs", async () => {
    const r = await push(url, "cols", fixture("test_xgb"), { columns: [{ name: "amount", tensor: "nope" }] });
    expect(r.status).toBe(400);
    expect(r.body.error).toContain('"nope"');
  });
});

describe("approval and aliases", () => {
  test("push → approve → alias → resolve", async () => {
    const pushed = await push(url, "fraud", fixture("test_xgb"));
    const version = pushed.body.version.version;
    const approved = await http(url, "POST", `/v1/registry/models/fraud/versions/${version}/approve`, {
      json: { reason: "holdout AUC ok" },
      headers: APPROVER,
    });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ approved: true, approvedBy: "carol" });

    const moved = await http(url, "PUT", "/v1/registry/models/fraud/aliases/champion", {
      json: { version, reason: "first champion" },
      headers: ENGINEER,
    });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ alias: "champion", fromVersion: null, toVersion: version, actor: "alice" });

    const resolved = await p.bus.call(registryContract, "resolve", { model: "fraud", ref: "champion" });
    expect(resolved).toMatchObject({ name: "fraud", version, digest: pushed.body.version.digest, approved: true, aliases: ["champion"] });
    const whole = await p.bus.call(registryContract, "fetchArtifact", { digest: resolved.digest });
    expect(Buffer.from(whole.bytes).equals(Buffer.from(fixture("test_xgb")))).toBe(true);
    const byRest = await http(url, "GET", "/v1/registry/models/fraud/versions/champion");
    expect(byRest.body.version).toBe(version);
  });

  test("an unapproved version cannot take a guarded alias, but can take others", async () => {
    const pushed = await push(url, "fraud", variant(fixture("test_xgb"), "unapproved"));
    const v = pushed.body.version.version;
    const refused = await http(url, "PUT", "/v1/registry/models/fraud/aliases/champion", { json: { version: v }, headers: ENGINEER });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toContain("not approved");
    const challenger = await http(url, "PUT", "/v1/registry/models/fraud/aliases/challenger", { json: { version: v }, headers: ENGINEER });
    expect(challenger.status).toBe(200);
  });

  test("only an approver role may approve", async () => {
    const pushed = await push(url, "fraud", variant(fixture("test_xgb"), "self"));
    const r = await http(url, "POST", `/v1/registry/models/fraud/versions/${pushed.body.version.version}/approve`, { json: {}, headers: ENGINEER });
    expect(r.status).toBe(403);
    expect(r.body.error).toContain("approver");
  });

  test("rollback moves the alias back to its previous version in one request, recorded in history", async () => {
    const versions: number[] = [];
    for (const tag of ["r1", "r2"]) {
      const v = (await push(url, "rb", variant(fixture("treecl"), tag))).body.version.version;
      await http(url, "POST", `/v1/registry/models/rb/versions/${v}/approve`, { json: {}, headers: APPROVER });
      await http(url, "PUT", "/v1/registry/models/rb/aliases/champion", { json: { version: v, reason: `promote ${tag}` }, headers: ENGINEER });
      versions.push(v);
    }
    const rolled = await http(url, "POST", "/v1/registry/models/rb/aliases/champion/rollback", { json: { reason: "latency regression" }, headers: APPROVER });
    expect(rolled.status).toBe(200);
    expect(rolled.body).toMatchObject({ action: "rollback", fromVersion: versions[1], toVersion: versions[0], reason: "latency regression" });
    expect((await http(url, "GET", "/v1/registry/models/rb/versions/champion")).body.version).toBe(versions[0]);

    const history = (await http(url, "GET", "/v1/registry/models/rb/aliases/champion/history")).body.history;
    expect(history.map((h: any) => [h.action, h.fromVersion, h.toVersion, h.actor])).toEqual([
      ["rollback", versions[1], versions[0], "carol"],
      ["set", versions[0], versions[1], "alice"],
      ["set", null, versions[0], "alice"],
    ]);

    const removed = await http(url, "DELETE", "/v1/registry/models/rb/aliases/champion?reason=retired", { headers: ENGINEER });
    expect(removed.body).toMatchObject({ action: "delete", toVersion: null, reason: "retired" });
    expect((await http(url, "GET", "/v1/registry/models/rb/versions/champion")).status).toBe(404);
    // Rollback undoes the removal.
    const restored = await http(url, "POST", "/v1/registry/models/rb/aliases/champion/rollback", { json: {}, headers: ENGINEER });
    expect(restored.body.toVersion).toBe(versions[0]);
  });

  test("concurrent alias moves are serialized and the history is complete", async () => {
    const versions: number[] = [];
    for (let i = 0; i < 5; i++) versions.push((await push(url, "race", variant(fixture("test_xgb"), `race${i}`))).body.version.version);
    const moves = Array.from({ length: 40 }, (_, i) =>
      http(url, "PUT", "/v1/registry/models/race/aliases/staging", {
        json: { version: versions[i % versions.length], reason: `move ${i}` },
        headers: ENGINEER,
      }),
    );
    const answers = await Promise.all(moves);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const history = (await http(url, "GET", "/v1/registry/models/race/aliases/staging/history?limit=1000")).body.history.reverse();
    expect(history).toHaveLength(40);
    expect(new Set(history.map((h: any) => h.reason)).size).toBe(40);
    // Each move starts where the previous one ended: no lost update.
    expect(history[0].fromVersion).toBeNull();
    for (let i = 1; i < history.length; i++) expect(history[i].fromVersion).toBe(history[i - 1].toVersion);
    const current = (await http(url, "GET", "/v1/registry/models/race/versions/staging")).body.version;
    expect(current).toBe(history[history.length - 1].toVersion);
  });
});

describe("bad input", () => {
  test("not ONNX → 415; empty → 400", async () => {
    const text = await push(url, "bad", new TextEncoder().encode("this is a CSV file,not a model\n1,2,3\n"));
    expect(text.status).toBe(415);
    expect(text.body.error).toContain("not an ONNX model");
    const json = await push(url, "bad", new TextEncoder().encode('{"a": 1}'));
    expect(json.status).toBe(415);
    const empty = await push(url, "bad", new Uint8Array(0));
    expect(empty.status).toBe(400);
    expect(empty.body.error).toContain("empty");
    expect((await http(url, "GET", "/v1/registry/models/bad")).status).toBe(404);
  });

  test("unknown model, version, alias → 404", async () => {
    expect((await http(url, "GET", "/v1/registry/models/ghost")).status).toBe(404);
    const v = await http(url, "GET", "/v1/registry/models/fraud/versions/999");
    expect(v.status).toBe(404);
    expect(v.body.error).toContain("no version 999");
    const a = await http(url, "GET", "/v1/registry/models/fraud/versions/nosuchalias");
    expect(a.status).toBe(404);
    expect(a.body.error).toContain('no alias "nosuchalias"');
    expect((await http(url, "PUT", "/v1/registry/models/fraud/aliases/x", { json: { version: 999 } })).status).toBe(404);
    expect((await http(url, "DELETE", "/v1/registry/models/fraud/aliases/nosuch")).status).toBe(404);
    expect((await http(url, "POST", "/v1/registry/models/fraud/aliases/nosuch/rollback", { json: {} })).status).toBe(404);
    expect((await http(url, "GET", "/v1/registry/models/fraud/aliases/nosuch/history")).status).toBe(404);
  });

  test("illegal alias or model name → 400 naming the field", async () => {
    const r = await http(url, "PUT", "/v1/registry/models/fraud/aliases/bad%20alias!", { json: { version: 1 } });
    expect(r.status).toBe(400);
    expect(r.body.error).toContain('"alias"');
    const digits = await http(url, "PUT", "/v1/registry/models/fraud/aliases/123", { json: { version: 1 } });
    expect(digits.status).toBe(400);
    const model = await push(url, "-bad", fixture("test_xgb"));
    expect(model.status).toBe(400);
    expect(model.body.error).toContain('"model"');
    const version = await http(url, "POST", "/v1/registry/models/fraud/versions/abc/approve", { json: {} });
    expect(version.status).toBe(400);
  });

  test("push naming an unknown upload → 404; a JSON push without upload → 400", async () => {
    const unknown = await http(url, "POST", "/v1/registry/models/m/versions", { json: { upload: "never-sent-1" } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toContain('no upload "never-sent-1"');
    const neither = await http(url, "POST", "/v1/registry/models/m/versions", { json: { metrics: { auc: 1 } } });
    expect(neither.status).toBe(400);
    expect(neither.body.error).toContain("exactly one of");
  });

  test("bad metadata header → 400", async () => {
    const r = await http(url, "POST", "/v1/registry/models/m/versions", {
      raw: fixture("test_xgb"),
      headers: { "x-cleave-metadata": "{not json" },
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toContain("x-cleave-metadata");
  });
});
