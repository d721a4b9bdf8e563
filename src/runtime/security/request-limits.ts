/**
 * Limits on what a request body may hold, checked before anything recurses over it: nesting depth and string length
 * on the raw JSON text in one iterative pass (so a body of 100k `[` never reaches JSON.parse's recursion), then batch
 * size and tensor elements on the parsed Open Inference Protocol shapes, and the binary-extension header against
 * the body it describes.
 */
import { CleaveError } from "../errors";

export interface RequestLimits {
  maxJsonDepth: number;
  maxStringLength: number;
  maxBatchSize: number;
  maxTensorElements: number;
}

const QUOTE = 34;
const BACKSLASH = 92;

/** Scans JSON text for nesting depth and string length; strings are skipped so brackets inside them don't count. */
export function checkJsonText(text: string, limits: RequestLimits): void {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
      if (i - start - 1 > limits.maxStringLength) {
        throw new CleaveError("PAYLOAD_TOO_LARGE", `a string in the JSON body is longer than the limit of ${limits.maxStringLength} characters (http.maxStringLength)`);
      }
    } else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > limits.maxJsonDepth) {
        throw new CleaveError("INVALID_ARGUMENT", `the JSON body is nested deeper than the limit of ${limits.maxJsonDepth} levels (http.maxJsonDepth)`);
      }
    } else if (c === 93 || c === 125) depth--;
  }
}

/** Batch and tensor size of Open Inference Protocol (`inputs[].shape`) and v1 (`instances`) bodies. */
export function checkInferenceBody(body: unknown, limits: RequestLimits): void {
  if (!body || typeof body !== "object" || Array.isArray(body)) return;
  const { inputs, instances } = body as { inputs?: unknown; instances?: unknown };
  if (Array.isArray(instances) && instances.length > limits.maxBatchSize) {
    throw new CleaveError("PAYLOAD_TOO_LARGE", `a batch of ${instances.length} instances exceeds the limit of ${limits.maxBatchSize} (http.maxBatchSize)`);
  }
  if (!Array.isArray(inputs)) return;
  for (const input of inputs) {
    const shape = (input as { shape?: unknown } | null)?.shape;
    if (!Array.isArray(shape)) continue;
    let elements = 1;
    for (const d of shape) {
      if (typeof d !== "number" || !Number.isSafeInteger(d) || d < -1) {
        throw new CleaveError("INVALID_ARGUMENT", `input shape ${JSON.stringify(shape).slice(0, 80)} must be a list of non-negative integers`);
      }
      elements *= Math.max(d, 1);
    }
    if (typeof shape[0] === "number" && shape[0] > limits.maxBatchSize) {
      throw new CleaveError("PAYLOAD_TOO_LARGE", `a batch of ${shape[0]} exceeds the limit of ${limits.maxBatchSize} (http.maxBatchSize)`);
    }
    if (elements > limits.maxTensorElements) {
      throw new CleaveError("PAYLOAD_TOO_LARGE", `an input of ${elements} elements exceeds the limit of ${limits.maxTensorElements} (http.maxTensorElements)`);
    }
  }
}

/** OIP binary extension: the JSON header length must be a number within the body it claims to start. */
export function checkBinaryHeader(headerValue: string | null, bodyLength: number): number | undefined {
  if (headerValue === null) return undefined;
  if (!/^[0-9]{1,15}$/.test(headerValue.trim())) {
    throw new CleaveError("INVALID_ARGUMENT", "header Inference-Header-Content-Length must be a non-negative integer");
  }
  const n = Number(headerValue);
  if (n > bodyLength) {
    throw new CleaveError("INVALID_ARGUMENT", `header Inference-Header-Content-Length says ${n} bytes, but the body has ${bodyLength}`);
  }
  return n;
}
