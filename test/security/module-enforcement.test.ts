/**
 * A module enforces the deployment's access rules itself, in every placement: the identity travels with the call
 * (in-process, and from another process over a real nats-server) and `bus.authorize` applies the same rules the
 * gateway does — for calls that never passed the gateway too.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { CleaveError } from "../../src/runtime/errors";
import { startTestProcess, type TestProcess } from "../harness/deployment";
import { NatsServer } from "../harness/nats-server";

const PLUGIN = join(import.meta.dir, "../fixtures/plugins/guarded.ts");
const auth = { mode: "on", rules: [{ operations: ["guarded.*"], models: ["fraud"], roles: ["payments"] }, { operations: ["guarded.*"], roles: ["analyst"] }] };
const codeOf = (p: Promise<unknown>) => p.then(() => "OK", (err: CleaveError) => err.code);

for (const placement of ["inprocess", "nats"] as const) {
  describe(`module-side authorization (${placement})`, () => {
    let nats: NatsServer | undefined;
    let server: TestProcess;
    let caller: TestProcess;

    beforeAll(async () => {
      if (placement === "nats") nats = await NatsServer.start();
      const common = { placement, modules: { guarded: {} }, plugins: [PLUGIN], natsUrl: nats?.url, extra: { auth }, http: false };
      server = await startTestProcess(common);
      // Over NATS the caller is another process that does not run the module.
      caller = placement === "nats" ? await startTestProcess({ ...common, local: [] }) : server;
    }, 20_000);

    afterAll(async () => {
      if (caller !== server) await caller.close();
      await server.close();
      await nats?.stop();
    });

    const read = (model: string, identity?: { id: string; roles: string[] }) => caller.bus.call("guarded", "read", { model }, { identity });

    test("the same rules as the gateway, applied by the module to the identity the call carries", async () => {
      expect(await read("fraud", { id: "svc", roles: ["payments"] })).toEqual({ model: "fraud", caller: "svc" });
      expect(await codeOf(read("fraud", { id: "bob", roles: ["analyst"] }))).toBe("PERMISSION_DENIED");
      expect(await codeOf(read("churn", { id: "bob", roles: ["analyst"] }))).toBe("OK");
      expect(await codeOf(read("churn", { id: "svc", roles: ["payments"] }))).toBe("PERMISSION_DENIED");
      expect(await codeOf(read("churn"))).toBe("UNAUTHENTICATED");
      expect(await codeOf(read("churn", { id: "root", roles: ["admin"] }))).toBe("OK");
    });
  });
}
