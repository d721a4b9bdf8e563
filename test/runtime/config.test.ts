/** Config validation: every mistake stops the start with a message naming the key and what is allowed. */
import { describe, expect, test } from "bun:test";
import { builtinModules } from "../../src/modules/catalog";
import { ConfigError, parseConfigText, validateConfig } from "../../src/runtime/config/load";
import { loadDeployment } from "../../src/runtime/plugins";
import { Child, REPO, writeConfig } from "../harness/child";

const validate = (raw: unknown) => validateConfig(raw, builtinModules, "/tmp");

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("config validation", () => {
  test("the shipped configs are valid", async () => {
    for (const file of ["configs/monolith.yaml", "configs/split.yaml"]) {
      const { config } = await loadDeployment(`${REPO}/${file}`, builtinModules);
      expect(Object.keys(config.modules).sort()).toEqual(
        ["decision", "feature", "inference", "ingestion", "monitoring", "registry"],
      );
    }
  });

  test("defaults are filled in", () => {
    const c = validate({ modules: { registry: {} } });
    expect(c.bus.transport).toBe("inprocess");
    expect(c.http.port).toBe(8080);
    expect(c.bus.nats.onUnreachable).toBe("exit");
    expect(c.process.modules).toBe("all");
  });

  test("an unknown top-level key names the key and the allowed ones", () => {
    const msg = configError(() => validate({ modules: { registry: {} }, bsu: {} }));
    expect(msg).toContain('unknown key "bsu"');
    expect(msg).toContain("allowed here: extends, deployment, dataDir, modules");
  });

  test("an unknown nested key names its full path", () => {
    const msg = configError(() => validate({ modules: { registry: {} }, bus: { transprot: "nats" } }));
    expect(msg).toContain('unknown key "bus.transprot"');
    expect(msg).toContain("transport");
  });

  test("a wrong type names the key and the allowed values", () => {
    const msg = configError(() => validate({ modules: { registry: {} }, bus: { transport: "carrier-pigeon" } }));
    expect(msg).toContain('key "bus.transport"');
    expect(msg).toContain('must be one of "inprocess", "nats"');
    const port = configError(() => validate({ modules: { registry: {} }, http: { port: "eighty" } }));
    expect(port).toContain('key "http.port"');
  });

  test("an unknown module is refused with the known ones listed", () => {
    const msg = configError(() => validate({ modules: { registry: {}, scoring: {} } }));
    expect(msg).toContain('unknown module "modules.scoring"');
    expect(msg).toContain("ingestion, feature, inference, decision, registry, monitoring");
  });

  test("a module's own settings are validated by its contract", () => {
    const msg = configError(() => validate({ modules: { registry: { colour: "red" } } }));
    expect(msg).toContain('unknown key "modules.registry.colour"');
  });

  test("process.modules must name modules of the deployment", () => {
    const msg = configError(() => validate({ modules: { registry: {} }, process: { modules: ["inference"] } }));
    expect(msg).toContain('key "process.modules" names module "inference"');
  });

  test("missing modules key is explained", () => {
    expect(configError(() => validate({ deployment: "x" }))).toContain('key "modules" is missing');
  });

  test("malformed YAML names the line", () => {
    const msg = configError(() => parseConfigText("modules:\n  registry: {\n  bad", "x.yaml"));
    expect(msg).toContain("x.yaml: not valid YAML/JSON at line");
  });

  test("duplicate keys are refused rather than silently overwritten", () => {
    expect(configError(() => parseConfigText("modules: {}\nmodules: {}\n"))).toContain("not valid YAML");
  });

  test("${VAR} comes from the environment; an unset one is named", () => {
    process.env.CLEAVE_TEST_PASS = "s3cret";
    const c = validate({ modules: { registry: {} }, bus: { nats: { pass: "${CLEAVE_TEST_PASS}", user: "${CLEAVE_NO_SUCH:-svc}" } } });
    expect(c.bus.nats.pass).toBe("s3cret");
    expect(c.bus.nats.user).toBe("svc");
    const msg = configError(() => validate({ modules: { registry: {} }, bus: { nats: { token: "${CLEAVE_NO_SUCH}" } } }));
    expect(msg).toContain('key "bus.nats.token" uses ${CLEAVE_NO_SUCH}');
  });

  test("serialize with NATS is a contradiction and says so", () => {
    const msg = configError(() => validate({ modules: { registry: {} }, bus: { transport: "nats", serialize: true } }));
    expect(msg).toContain('"bus.serialize"');
  });
});

describe("cleave serve with a bad config exits 2 with the reason", () => {
  test.each([
    ["unknown key", "modules: {registry: {}}\nhttp: {prot: 1}\n", 'unknown key "http.prot"'],
    ["malformed YAML", "modules: [unclosed\n", "not valid YAML"],
    ["unknown module", "modules: {fraudster: {}}\n", 'unknown module "modules.fraudster"'],
  ])("%s", async (_name, text, expected) => {
    const file = writeConfig({});
    await Bun.write(file, text);
    const child = new Child(["serve", "--config", file]);
    expect(await child.exit()).toBe(2);
    expect(child.stderr).toContain("cleave: invalid config:");
    expect(child.stderr).toContain(expected);
  });

  test("a missing file and an unknown --modules name are clear too", async () => {
    const missing = new Child(["serve", "--config", "/nonexistent/cleave.yaml"]);
    expect(await missing.exit()).toBe(2);
    expect(missing.stderr).toContain("cannot read config file: ENOENT");
    const file = writeConfig({ modules: { registry: {} } });
    const wrong = new Child(["serve", "--config", file, "--modules", "inference"]);
    expect(await wrong.exit()).toBe(2);
    expect(wrong.stderr).toContain('--modules names "inference"');
  });

  test("an unknown command lists the commands", async () => {
    const child = new Child(["srve"]);
    expect(await child.exit()).toBe(2);
    expect(child.stderr).toContain('unknown command "srve"');
  });
});

describe("docs/configuration.md", () => {
  test("documents every key and is current with the schemas", async () => {
    const { renderConfigDoc } = await import("../../scripts/config-doc");
    const onDisk = await Bun.file(`${REPO}/docs/configuration.md`).text();
    expect(onDisk).toBe(renderConfigDoc());
  });
});

describe("extends", () => {
  test("a config starts from another file's keys: maps merge, other values replace", async () => {
    const dir = (await import("node:fs")).mkdtempSync(`${(await import("node:os")).tmpdir()}/cleave-ext-`);
    writeConfig({ deployment: "base", modules: { registry: {}, monitoring: {} }, http: { port: 9000, host: "0.0.0.0" } }, dir);
    const child = `${dir}/child.yaml`;
    await Bun.write(child, "extends: cleave.yaml\nhttp: { port: 9001 }\nmodules: { decision: {} }\n");
    const { config } = await loadDeployment(child, builtinModules);
    expect(config.deployment).toBe("base");
    expect(config.http).toMatchObject({ port: 9001, host: "0.0.0.0" });
    expect(Object.keys(config.modules).sort()).toEqual(["decision", "monitoring", "registry"]);
  });

  test("a cycle is refused with the chain", async () => {
    const dir = (await import("node:fs")).mkdtempSync(`${(await import("node:os")).tmpdir()}/cleave-ext-`);
    await Bun.write(`${dir}/a.yaml`, "extends: b.yaml\nmodules: {}\n");
    await Bun.write(`${dir}/b.yaml`, "extends: a.yaml\nmodules: {}\n");
    await expect(loadDeployment(`${dir}/a.yaml`, builtinModules)).rejects.toThrow('key "extends" makes a cycle');
  });
});
