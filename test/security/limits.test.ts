/**
 * Request limits answer with a clear 4xx before anything expensive happens: nesting depth and string length are
 * checked on the raw text (a 100k-deep body never reaches JSON.parse), batch and tensor size on OIP shapes, the
 * binary extension's header against its body, the body size against http.maxBodyBytes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { checkJsonText } from "../../src/runtime/security/request-limits";
import { startTestProcess, type TestProcess } from "../harness/deployment";

const LIMITS = { maxJsonDepth: 16, maxStringLength: 1000, maxBatchSize: 64, maxTensorElements: 10_000 };

describe("request limits at the gateway", () => {
  let p: TestProcess;
  beforeAll(async () => {
    p = await startTestProcess({
      placement: "inprocess",
      modules: { monitoring: {}, registry: {} },
      extra: { http: { enabled: true, port: 0, maxBodyBytes: 64 * 1024, ...LIMITS } },
    });
  });
  afterAll(() => p.close());

  const post = (body: string) =>
    fetch(`${p.url}/v1/monitoring/observations`, { method: "POST", headers: { "content-type": "application/json" }, body });
  const expectError = async (res: Response, status: number, text: string) => {
    const body = (await res.json()) as { error: string };
    expect(res.status).toBe(status);
    expect(body.error).toContain(text);
  };

  test("each limit is its own clear 4xx naming the config key", async () => {
    await expectError(await post("[".repeat(60_000)), 400, "http.maxJsonDepth");
    await expectError(await post(`{"a":${"[".repeat(17)}1${"]".repeat(17)}}`), 400, "nested deeper than the limit of 16");
    await expectError(await post(JSON.stringify({ note: "x".repeat(1001) })), 413, "http.maxStringLength");
    await expectError(await post(JSON.stringify({ inputs: [{ name: "x", shape: [65, 1], datatype: "FP32", data: [] }] })), 413, "batch of 65");
    await expectError(await post(JSON.stringify({ inputs: [{ name: "x", shape: [10, 2000], datatype: "FP32", data: [] }] })), 413, "20000 elements");
    await expectError(await post(JSON.stringify({ inputs: [{ name: "x", shape: [1, -5], datatype: "FP32", data: [] }] })), 400, "non-negative integers");
    await expectError(await post(JSON.stringify({ instances: new Array(65).fill(0) })), 413, "http.maxBatchSize");
    await expectError(await post("x".repeat(70 * 1024)), 413, "exceeds the limit");
  });

  test("brackets and escapes inside strings do not count as nesting", async () => {
    const res = await post(JSON.stringify({ a: "[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"{{{{{{{{{{{{{{{{{{{{{{{" }));
    expect(res.status).not.toBe(413);
    expect(((await res.json()) as { error?: string }).error ?? "").not.toContain("nested");
  });

  test("a binary header that lies about its length is a 400", async () => {
    const put = (len: string) =>
      fetch(`${p.url}/v1/registry/uploads/u1`, { method: "PUT", headers: { "inference-header-content-length": len }, body: new Uint8Array(10) });
    await expectError(await put("11"), 400, "the body has 10");
    await expectError(await put("-1"), 400, "non-negative integer");
    await expectError(await put("1e3"), 400, "non-negative integer");
  });
});

test("the text scan is linear and allocation-free: 10 MB of brackets in well under a second", () => {
  const text = "[".repeat(10_000_000);
  const started = performance.now();
  expect(() => checkJsonText(text, { ...LIMITS, maxJsonDepth: 20_000_000 })).not.toThrow();
  expect(performance.now() - started).toBeLessThan(1000);
});
