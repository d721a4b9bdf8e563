/** Shared by the registry tests: fixture models, model variants, a registry deployment and a small HTTP client. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { onnx } from "onnx-proto";
import { startTestProcess, type Placement, type TestProcess } from "../harness/deployment";

const FIXTURES = join(import.meta.dir, "../fixtures/registry");

export const fixture = (name: "logreg_iris" | "test_xgb" | "treecl"): Uint8Array =>
  new Uint8Array(readFileSync(join(FIXTURES, `${name}.onnx`)));

/** The same graph with a different doc_string: different bytes, so a different digest and a new version. */
export function variant(bytes: Uint8Array, tag: string): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  model.docString = `variant ${tag}`;
  return plainBytes(onnx.ModelProto.encode(model).finish());
}

/** A valid model of at least `size` bytes: the fixture plus an unused initializer of random bytes. */
export function largeModel(size: number, tag = "large"): Uint8Array {
  const model = onnx.ModelProto.decode(fixture("test_xgb"));
  const raw = new Uint8Array(size);
  crypto.getRandomValues(raw.subarray(0, Math.min(size, 65536)));
  model.docString = tag;
  model.graph!.initializer!.push(
    onnx.TensorProto.create({ name: "padding", dataType: onnx.TensorProto.DataType.UINT8, dims: [size], rawData: raw }),
  );
  return plainBytes(onnx.ModelProto.encode(model).finish());
}

/**
 * protobufjs hands back a Node Buffer; the bus codec sees a Buffer through its toJSON (a list of numbers), so
 * tests send plain Uint8Arrays as real callers do.
 */
const plainBytes = (b: Uint8Array) => new Uint8Array(b);

export const APPROVER = { "x-cleave-actor": "carol", "x-cleave-roles": "approver" };
export const ENGINEER = { "x-cleave-actor": "alice", "x-cleave-roles": "ml-engineer" };

export async function startRegistry(
  registry: Record<string, unknown> = {},
  opts: { placement?: Placement; dataDir?: string } = {},
): Promise<TestProcess> {
  return startTestProcess({ placement: opts.placement ?? "inprocess", modules: { registry }, dataDir: opts.dataDir });
}

export interface HttpAnswer {
  status: number;
  body: any;
  headers: Headers;
}

export async function http(
  base: string,
  method: string,
  path: string,
  opts: { json?: unknown; raw?: Uint8Array; headers?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...opts.headers };
  let body: Uint8Array | string | undefined;
  if (opts.raw) {
    body = opts.raw;
    headers["content-type"] ??= "application/octet-stream";
  } else if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers["content-type"] = "application/json";
  }
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Pushes raw ONNX bytes over REST with metadata in the x-cleave-metadata header. */
export const push = (base: string, model: string, bytes: Uint8Array, meta: object = {}, headers: Record<string, string> = ENGINEER) =>
  http(base, "POST", `/v1/registry/models/${model}/versions`, {
    raw: bytes,
    headers: { ...headers, "x-cleave-metadata": JSON.stringify(meta) },
  });
