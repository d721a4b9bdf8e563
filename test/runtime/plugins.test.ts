/** The example plugin loads from config and serves through the real HTTP gateway, with its config validated. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { builtinModules } from "../../src/modules/catalog";
import { loadDeployment } from "../../src/runtime/plugins";
import { REPO, writeConfig } from "../harness/child";
import { startTestProcess, type TestProcess } from "../harness/deployment";

const PLUGIN = `${REPO}/plugins/geo-risk/module.ts`;

describe("example plugin: georisk", () => {
  let p: TestProcess;
  beforeAll(async () => {
    p = await startTestProcess({ placement: "serialized", plugins: [PLUGIN], modules: { georisk: { high: ["NG"], elevated: ["BR"] } } });
  });
  afterAll(() => p.close());

  const score = (body: unknown) =>
    fetch(`${p.url}/v1/georisk/score`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  test("scores through its REST route with reasons", async () => {
    const res = await score({ cardCountry: "DE", ipCountry: "NG" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ risk: 0.9, reasons: ["NG is a high-risk country", "card from DE used from NG"] });
    expect(await (await score({ cardCountry: "FR" })).json()).toEqual({ risk: 0, reasons: [] });
  });

  test("bad input is a 400 naming the field", async () => {
    const res = await score({ cardCountry: "germany" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain('field "cardCountry"');
  });

  test("it appears in the OpenAPI document and /readyz", async () => {
    const doc = (await (await fetch(`${p.url}/openapi/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain("/v1/georisk/score");
    const ready = (await (await fetch(`${p.url}/readyz`)).json()) as { modules: Record<string, { status: string }> };
    expect(ready.modules.georisk.status).toBe("ok");
  });

  test("its config section is validated by its own schema", async () => {
    const file = writeConfig({ plugins: [{ path: PLUGIN }], modules: { georisk: { high: ["nigeria"] } } });
    await expect(loadDeployment(file, builtinModules)).rejects.toThrow('key "modules.georisk.high.0"');
  });

  test("a plugin path that does not exist is named", async () => {
    const file = writeConfig({ plugins: [{ path: "nope.ts" }], modules: {} });
    await expect(loadDeployment(file, builtinModules)).rejects.toThrow('key "plugins.0.path": no file at');
  });
});

describe("start order", () => {
  test("modules of one process start concurrently: feature listed before ingestion still finds its event types", async () => {
    const p = await startTestProcess({
      placement: "inprocess",
      modules: {
        feature: { entities: { card: { key: "card", features: { n: { agg: "count", window: "1h" } } } } },
        ingestion: { eventTypes: { tx: { fields: { card: { type: "string" } } } } },
      },
    });
    try {
      const ready = (await (await fetch(`${p.url}/readyz`)).json()) as { status: string };
      expect(ready.status).toBe("ready");
    } finally {
      await p.close();
    }
  });
});
