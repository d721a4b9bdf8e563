/**
 * One suite, three placements: the same cross-module calls in-process, in-process forced through the wire
 * encoding, and across two processes' buses over a real nats-server. Every expectation is the same for all three.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { CleaveError } from "../../src/runtime/errors";
import { probeContract } from "../fixtures/plugins/probe";
import { type Placement, PLACEMENTS, startTestProcess, type TestProcess } from "../harness/deployment";
import { NatsServer } from "../harness/nats-server";

const PROBE = "test/fixtures/plugins/probe.ts";
const MODULES = { probe: {}, registry: {} };

async function caught(p: Promise<unknown>): Promise<CleaveError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CleaveError);
    return err as CleaveError;
  }
  throw new Error("expected the call to fail");
}

describe.each(PLACEMENTS)("bus placement: %s", (placement: Placement) => {
  let nats: NatsServer | undefined;
  let server: TestProcess; // serves probe
  let caller: TestProcess; // serves registry and the gateway; calls probe
  const procs: TestProcess[] = [];

  beforeAll(async () => {
    if (placement === "nats") {
      nats = await NatsServer.start();
      server = await startTestProcess({ placement, natsUrl: nats.url, modules: MODULES, local: ["probe"], plugins: [PROBE], http: false });
      caller = await startTestProcess({ placement, natsUrl: nats.url, modules: MODULES, local: ["registry"], plugins: [PROBE] });
      procs.push(server, caller);
    } else {
      caller = server = await startTestProcess({ placement, modules: MODULES, plugins: [PROBE] });
      procs.push(caller);
    }
  });

  afterAll(async () => {
    for (const p of procs) await p.close();
    await nats?.stop();
  });

  test("success: a typed call returns the handler's result", async () => {
    const out = await caller.bus.call(probeContract, "echo", { text: "héllo", n: 3 });
    expect(out.text).toBe("héllo");
    expect(out.n).toBe(3);
    expect(out.traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  test("typed error: code, message and details arrive intact", async () => {
    const err = await caught(caller.bus.call(probeContract, "fail", { code: "CONFLICT", message: "already there", details: { id: 7, tags: ["a"] } }));
    expect(err.code).toBe("CONFLICT");
    expect(err.message).toBe("already there");
    expect(err.details).toEqual({ id: 7, tags: ["a"] });
  });

  test("deadline exceeded: the caller gets DEADLINE_EXCEEDED at its deadline, not later", async () => {
    const started = performance.now();
    const err = await caught(caller.bus.call(probeContract, "sleep", { ms: 2000 }, { timeoutMs: 150 }));
    const elapsed = performance.now() - started;
    expect(err.code).toBe("DEADLINE_EXCEEDED");
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1000);
  });

  test("deadline exceeded: the handler's ctx.signal aborts so it can stop its work", async () => {
    const before = ((await caller.bus.call(probeContract, "aborts", {})) as { count: number }).count;
    const err = await caught(caller.bus.call(probeContract, "abortable", { ms: 5000 }, { timeoutMs: 100 }));
    expect(err.code).toBe("DEADLINE_EXCEEDED");
    // The serving side's timer may fire a moment after the caller's (over NATS they are separate clocks).
    let after = before;
    for (let i = 0; i < 50 && after === before; i++) {
      await Bun.sleep(10);
      after = ((await caller.bus.call(probeContract, "aborts", {})) as { count: number }).count;
    }
    expect(after).toBe(before + 1);
  });

  test("deadline propagation: a nested call inherits the caller's remaining budget", async () => {
    const out = await caller.bus.call(
      probeContract,
      "relay",
      { module: "probe", operation: "sleep", payload: { ms: 10 }, timeoutMs: 60_000 },
      { timeoutMs: 400 },
    );
    const remaining = (out.downstream as { remainingMs: number }).remainingMs;
    expect(remaining).toBeLessThan(400);
    expect(remaining).toBeGreaterThan(0);
  });

  test("validation failure: INVALID_ARGUMENT naming the field", async () => {
    const err = await caught(caller.bus.call("probe", "echo", { text: 5 }));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toContain('"text"');
    expect((err.details as { errors: { path: string }[] }).errors[0].path).toBe("text");
  });

  test("validation failure: unknown fields are refused, not ignored", async () => {
    const err = await caught(caller.bus.call("probe", "echo", { text: "x", extra: true }));
    expect(err.code).toBe("INVALID_ARGUMENT");
  });

  test("unavailable module: fails fast with UNAVAILABLE, not at the timeout", async () => {
    const started = performance.now();
    const err = await caught(caller.bus.call("nobody", "anything", {}, { timeoutMs: 5000 }));
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.message).toContain("nobody");
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test("unknown operation of a served module: NOT_FOUND", async () => {
    const err = await caught(caller.bus.call("probe", "constructor", {}));
    expect(err.code).toBe("NOT_FOUND");
  });

  test("a handler that breaks its own output contract: INTERNAL with a generic message", async () => {
    const err = await caught(caller.bus.call("probe", "broken", {}));
    expect(err.code).toBe("INTERNAL");
    expect(err.message).toBe("probe.broken produced an invalid result");
  });

  test("binary payloads keep their typed array class and IEEE values", async () => {
    const values = new Float32Array([1.5, -2, Number.NaN, Number.POSITIVE_INFINITY]);
    const out = (await caller.bus.call("probe", "tensor", { values })) as { doubled: Float32Array; kind: string };
    expect(out.kind).toBe("Float32Array");
    expect(out.doubled).toBeInstanceOf(Float32Array);
    expect(Array.from(out.doubled)).toEqual([3, -4, Number.NaN, Number.POSITIVE_INFINITY]);
  });

  test("payloads larger than a NATS message (3 MB) travel both ways", async () => {
    const values = new Float32Array(750_000).map((_, i) => i);
    const out = (await caller.bus.call("probe", "tensor", { values }, { timeoutMs: 10_000 })) as { doubled: Float32Array };
    expect(out.doubled.length).toBe(750_000);
    expect(out.doubled[749_999]).toBe(1_499_998);
  });

  test("calls made in the same turn each get their own result or error", async () => {
    // Over NATS these travel as one batch message each way: nothing of one call may leak into another's answer.
    const calls = Array.from({ length: 60 }, (_, i) =>
      i % 10 === 3
        ? caught(caller.bus.call("probe", "fail", { code: "CONFLICT", message: `no ${i}`, details: { i } }))
        : i % 10 === 7
          ? caught(caller.bus.call("probe", "echo", { text: String(i), extra: i }))
          : caller.bus.call(probeContract, "echo", { text: `t${i}`, n: i }),
    );
    const out = await Promise.all(calls);
    out.forEach((r, i) => {
      if (i % 10 === 3) expect(r).toMatchObject({ code: "CONFLICT", message: `no ${i}`, details: { i } });
      else if (i % 10 === 7) expect((r as CleaveError).code).toBe("INVALID_ARGUMENT");
      else expect(r).toMatchObject({ text: `t${i}`, n: i });
    });
  });

  test("calls made together to a module nobody serves all fail fast", async () => {
    const started = performance.now();
    const errs = await Promise.all([1, 2, 3].map(() => caught(caller.bus.call("nobody", "anything", {}, { timeoutMs: 5000 }))));
    expect(errs.map((e) => e.code)).toEqual(["UNAVAILABLE", "UNAVAILABLE", "UNAVAILABLE"]);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test("replies to calls made together may add up to more than a NATS message", async () => {
    // Three small requests in one turn; their replies (400 KB each) exceed 1 MB together.
    const out = (await Promise.all(
      [1, 2, 3].map((v) => caller.bus.call("probe", "fill", { n: 50_000, value: v }, { timeoutMs: 10_000 })),
    )) as { values: Float64Array }[];
    expect(out.map((o) => [o.values.length, o.values[0], o.values[49_999]])).toEqual([
      [50_000, 1, 1],
      [50_000, 2, 2],
      [50_000, 3, 3],
    ]);
  });

  test("the caller's identity travels with the call", async () => {
    const identity = { id: "svc-payments", roles: ["payments"] };
    const out = await caller.bus.call(probeContract, "echo", { text: "x" }, { identity });
    expect(out.identity).toEqual(identity);
  });

  test("trace continuity: one trace id from the HTTP request through every module hop", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const res = await fetch(`${caller.url}/v1/probe/relay`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ module: "registry", operation: "ping", payload: {} }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { traceId: string; downstream: { traceId: string; module: string } };
    expect(body.traceId).toBe(traceId);
    expect(body.downstream.traceId).toBe(traceId);
    expect(body.downstream.module).toBe("registry");
    expect(res.headers.get("traceparent")).toContain(traceId);
  });

  test("events reach a subscriber in the publisher's trace", async () => {
    const received: { seq: number; traceId: string }[] = [];
    await caller.bus.subscribe(probeContract, "happened", (p, meta) => void received.push({ seq: p.seq, traceId: meta.traceId }), {
      group: `g-${placement}`,
    });
    await Bun.sleep(50);
    await server.bus.publish(probeContract, "happened", { seq: 41 });
    for (let i = 0; i < 100 && received.length === 0; i++) await Bun.sleep(20);
    expect(received.map((r) => r.seq)).toEqual([41]);
    expect(received[0].traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  test.if(placement === "nats")("JetStream stores an event id once: a repeated publish reaches durable subscribers once", async () => {
    const received: { seq: number; id?: string }[] = [];
    await caller.bus.subscribe(probeContract, "happened", (p, meta) => void received.push({ seq: p.seq, id: meta.id }), {
      group: "dedup",
      durable: true,
    });
    await server.bus.publish(probeContract, "happened", { seq: 1 }, { id: "dup-1" });
    await server.bus.publish(probeContract, "happened", { seq: 1 }, { id: "dup-1" });
    await server.bus.publish(probeContract, "happened", { seq: 2 }, { id: "dup-2" });
    for (let i = 0; i < 100 && received.length < 2; i++) await Bun.sleep(20);
    await Bun.sleep(100);
    expect(received).toEqual([
      { seq: 1, id: "dup-1" },
      { seq: 2, id: "dup-2" },
    ]);
    const err = await caught(server.bus.publish(probeContract, "happened", { seq: 3 }, { id: "two\r\nlines" }));
    expect(err.code).toBe("INVALID_ARGUMENT");
  });

  test("events published together without ids each reach durable and core subscribers, in order", async () => {
    const durable: number[] = [];
    const core: number[] = [];
    await caller.bus.subscribe(probeContract, "happened", (p) => void durable.push(p.seq), { group: `together-d-${placement}`, durable: true });
    await caller.bus.subscribe(probeContract, "happened", (p) => void core.push(p.seq), { group: `together-c-${placement}` });
    await Bun.sleep(50);
    const stored = async () => {
      const nc = await connect({ servers: nats!.url });
      const info = await (await jetstreamManager(nc)).streams.info("CLEAVE_test_EVENTS");
      await nc.close();
      return info.state.messages;
    };
    const before = placement === "nats" ? await stored() : 0;
    const seqs = [101, 102, 103, 104, 105];
    await Promise.all(seqs.map((seq) => server.bus.publish(probeContract, "happened", { seq })));
    for (let i = 0; i < 100 && (durable.length < 5 || core.length < 5); i++) await Bun.sleep(20);
    expect(durable).toEqual(seqs);
    expect(core).toEqual(seqs);
    // Over NATS they were stored as one message: the point of batching a turn's events.
    if (placement === "nats") expect((await stored()) - before).toBe(1);
  });

  test("an event that breaks its schema is refused at publish", async () => {
    const err = await caught(server.bus.publish(probeContract, "happened", { seq: "x" } as never));
    expect(err.code).toBe("INVALID_ARGUMENT");
  });

  test("HTTP: errors keep their status and JSON shape through the gateway", async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${caller.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const conflict = await post("/v1/probe/fail", { code: "CONFLICT", message: "dup" });
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toEqual({ error: "dup", code: "CONFLICT" });
    const invalid = await post("/v1/probe/echo", { text: 12 });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: string }).error).toContain('field "text"');
  });
});

describe("serialization rules that only the wire enforces", () => {
  test.each(["serialized", "nats"] as Placement[])("%s: a non-plain value is refused like it would be remotely", async (placement) => {
    const nats = placement === "nats" ? await NatsServer.start() : undefined;
    // Over NATS the probe is served by another process: a call to a module in the same process stays in it.
    const p = await startTestProcess({ placement, natsUrl: nats?.url, modules: MODULES, plugins: [PROBE], http: false, local: nats ? ["registry"] : undefined });
    const server = nats && (await startTestProcess({ placement, natsUrl: nats.url, modules: MODULES, plugins: [PROBE], http: false, local: ["probe"] }));
    try {
      const err = await caught(p.bus.call("probe", "tensor", { values: new Map([[1, 2]]) }));
      expect(err.code).toBe("INVALID_ARGUMENT");
      expect(err.message).toContain("Map");
    } finally {
      await server?.close();
      await p.close();
      await nats?.stop();
    }
  });
});

describe("co-located modules over NATS", () => {
  test("a call to a module served in the same process stays in it, with the same validation and deadlines", async () => {
    const nats = await NatsServer.start();
    const p = await startTestProcess({ placement: "nats", natsUrl: nats.url, modules: MODULES, plugins: [PROBE] });
    try {
      expect((await p.bus.call(probeContract, "echo", { text: "near" })).text).toBe("near");
      expect((await caught(p.bus.call("probe", "echo", { text: 1 }))).code).toBe("INVALID_ARGUMENT");
      expect((await caught(p.bus.call("probe", "sleep", { ms: 500 }, { timeoutMs: 50 }))).code).toBe("DEADLINE_EXCEEDED");
      const metrics = await (await fetch(`${p.url}/metrics`)).text();
      expect(metrics).toMatch(/cleave_bus_call_duration_seconds_count\{[^}]*callee="probe"[^}]*transport="local"[^}]*\} [1-9]/);
      expect(metrics).not.toMatch(/callee="probe"[^}]*transport="nats"/);
    } finally {
      await p.close();
      await nats.stop();
    }
  });
});
