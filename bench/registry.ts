/**
 * Registry throughput: push (chunked upload + crash-safe commit), resolve, and whole-artifact download
 * (chunked fetchArtifact + digest check) in the in-process placement and across a real nats-server.
 * Run: bun bench/registry.ts
 */
import { onnx } from "onnx-proto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { downloadArtifact, registryContract } from "../src/modules/registry/contract";
import { startTestProcess, type TestProcess } from "../test/harness/deployment";
import { NatsServer } from "../test/harness/nats-server";

const SIZE = 16 * 1024 * 1024;
const CHUNK = 512 * 1024;

function model(tag: string): Uint8Array {
  const m = onnx.ModelProto.decode(readFileSync(join(import.meta.dir, "../test/fixtures/registry/test_xgb.onnx")));
  m.docString = tag;
  const raw = new Uint8Array(SIZE);
  crypto.getRandomValues(raw.subarray(0, 65536));
  m.graph!.initializer!.push(onnx.TensorProto.create({ name: "pad", dataType: 2, dims: [SIZE], rawData: raw }));
  return new Uint8Array(onnx.ModelProto.encode(m).finish());
}

async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return (performance.now() - t) / n;
}

async function run(label: string, caller: TestProcess) {
  const bus = caller.bus;
  const pushMs = await timed(5, async (i) => {
    const bytes = model(`${label} ${i}`);
    const upload = crypto.randomUUID();
    for (let off = 0; off < bytes.byteLength; off += CHUNK) {
      await bus.call(registryContract, "upload", { upload, offset: off, bytes: bytes.subarray(off, off + CHUNK) });
    }
    await bus.call(registryContract, "push", { model: "bench", upload }, { timeoutMs: 60_000 });
  });
  await bus.call(registryContract, "setAlias", { model: "bench", alias: "staging", version: 1 });
  const resolveMs = await timed(500, () => bus.call(registryContract, "resolve", { model: "bench", ref: "staging" }));
  const { digest } = await bus.call(registryContract, "resolve", { model: "bench", ref: "1" });
  const downloadMs = await timed(5, () => downloadArtifact(bus, digest, { timeoutMs: 60_000 }));
  return { label, pushMs, resolveMs, downloadMs };
}

const rows = [];
const mono = await startTestProcess({ placement: "inprocess", modules: { registry: { approval: { aliases: [] } } } });
rows.push(await run("in-process", mono));
await mono.close();

const nats = await NatsServer.start();
const modules = { registry: { approval: { aliases: [] } } };
const registry = await startTestProcess({ placement: "nats", natsUrl: nats.url, modules, local: ["registry"], http: false });
const client = await startTestProcess({ placement: "nats", natsUrl: nats.url, modules, local: [], http: false });
rows.push(await run("nats (registry and caller on separate NATS connections)", client));
await client.close();
await registry.close();
await nats.stop();

const mb = SIZE / 1024 / 1024;
console.log(`artifact ${mb} MiB, upload/fetch chunks of 512/768 KiB`);
console.log("| placement | push 16 MiB (ms) | resolve (ms) | download 16 MiB (ms) | download MiB/s |");
console.log("|---|---|---|---|---|");
for (const r of rows) {
  console.log(`| ${r.label} | ${r.pushMs.toFixed(1)} | ${r.resolveMs.toFixed(3)} | ${r.downloadMs.toFixed(1)} | ${(mb / (r.downloadMs / 1000)).toFixed(0)} |`);
}
