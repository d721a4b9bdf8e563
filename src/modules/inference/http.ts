/**
 * The REST side of the Open Inference Protocol: turns an HTTP body (JSON, or JSON header + binary tensors per the
 * binary tensor extension) into the `infer` operation's input, and its output back into JSON or binary. Runs in
 * whichever process serves the gateway, so it depends on nothing but the tensor helpers.
 */
import type { HttpRequestView, HttpResponseView } from "../../runtime/contract";
import { CleaveError } from "../../runtime/errors";
import type { InferResult } from "./contract";
import { type Datatype, toBinary, toJson, type TensorValues } from "./tensor";

export const HEADER_LENGTH = "inference-header-content-length";
const bad = (message: string) => new CleaveError("INVALID_ARGUMENT", message);
const decoder = new TextDecoder();
const encoder = new TextEncoder();

function parseJson(bytes: Uint8Array, what: string): unknown {
  if (bytes.byteLength === 0) throw bad(`${what} is empty; expected a JSON object with "inputs"`);
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch (err) {
    throw bad(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw bad(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

/** POST /v2/models/{name}[/versions/{v}]/infer → `infer` input. */
export function inferInputFromHttp(req: HttpRequestView): unknown {
  const body = req.body as Uint8Array;
  const declared = req.header(HEADER_LENGTH);
  if (declared === undefined) {
    // The parsed body is ours alone: the path's model and version are set on it rather than copied into another.
    return Object.assign(asObject(parseJson(body, "request body"), "request body"), { name: req.params.name, version: req.params.version });
  }
  const headerLength = Number(declared);
  if (!/^\d+$/.test(declared) || headerLength > body.byteLength) {
    throw bad(`Inference-Header-Content-Length is ${JSON.stringify(declared)} but the body has ${body.byteLength} bytes`);
  }
  const request = asObject(parseJson(body.subarray(0, headerLength), "inference header"), "inference header");
  const binary = body.subarray(headerLength);
  let offset = 0;
  const inputs = Array.isArray(request.inputs) ? request.inputs : [];
  for (const [i, raw] of inputs.entries()) {
    const input = asObject(raw, `inputs[${i}]`);
    const size = (input.parameters as Record<string, unknown> | undefined)?.binary_data_size;
    if (size === undefined) continue;
    const name = JSON.stringify(input.name);
    if (typeof size !== "number" || !Number.isInteger(size) || size < 0) {
      throw bad(`input ${name}: binary_data_size must be a non-negative integer, got ${JSON.stringify(size)}`);
    }
    if (input.data !== undefined) throw bad(`input ${name} has both "data" and binary_data_size; send one`);
    if (offset + size > binary.byteLength) {
      throw bad(`input ${name}: binary_data_size ${size} runs past the end of the body (${binary.byteLength - offset} bytes left)`);
    }
    input.data = binary.subarray(offset, offset + size);
    offset += size;
  }
  if (offset !== binary.byteLength) {
    throw bad(`the body carries ${binary.byteLength} bytes after the header but binary_data_size values add up to ${offset}`);
  }
  return Object.assign(request, { name: req.params.name, version: req.params.version });
}

/** `infer` output → OIP JSON, or JSON header + binary segments when some output was asked for as binary. */
export function inferResponse(output: InferResult, res: HttpResponseView): unknown {
  const binary = output.outputs.some((o) => o.parameters?.binary_data === true);
  if (!binary) {
    return {
      model_name: output.model_name,
      model_version: output.model_version,
      ...(output.id !== undefined && { id: output.id }),
      outputs: output.outputs.map((o) => ({
        name: o.name,
        datatype: o.datatype,
        shape: o.shape,
        data: toJson(`output "${o.name}"`, o.datatype as Datatype, o.data as TensorValues),
      })),
    };
  }
  const segments: Uint8Array[] = [];
  const outputs = output.outputs.map((o) => {
    const meta = { name: o.name, datatype: o.datatype, shape: o.shape };
    if (o.parameters?.binary_data !== true) {
      return { ...meta, data: toJson(`output "${o.name}"`, o.datatype as Datatype, o.data as TensorValues) };
    }
    const bytes = toBinary(o.datatype as Datatype, o.data as TensorValues);
    segments.push(bytes);
    return { ...meta, parameters: { binary_data_size: bytes.byteLength } };
  });
  const header = encoder.encode(
    JSON.stringify({
      model_name: output.model_name,
      model_version: output.model_version,
      ...(output.id !== undefined && { id: output.id }),
      outputs,
    }),
  );
  const body = new Uint8Array(header.byteLength + segments.reduce((n, s) => n + s.byteLength, 0));
  body.set(header, 0);
  let offset = header.byteLength;
  for (const s of segments) {
    body.set(s, offset);
    offset += s.byteLength;
  }
  return new Response(body, {
    status: res.status,
    headers: {
      ...res.headers,
      "content-type": "application/octet-stream",
      "inference-header-content-length": String(header.byteLength),
    },
  });
}

/** POST /v1/models/{name}:predict → `predict` input. */
export function predictInputFromHttp(req: HttpRequestView): unknown {
  const target = req.params.model ?? "";
  const colon = target.lastIndexOf(":");
  const verb = colon < 0 ? "" : target.slice(colon + 1);
  if (verb !== "predict") {
    throw new CleaveError("NOT_FOUND", `no V1 verb ":${verb}" on /v1/models/${target}; use /v1/models/{name}:predict`);
  }
  const request = asObject(parseJson(req.body as Uint8Array, "request body"), "request body");
  if (request.instances === undefined && request.inputs === undefined) {
    throw bad(`request body needs "instances": [...] (or "inputs")`);
  }
  return { instances: request.instances, inputs: request.inputs, name: target.slice(0, colon) };
}
