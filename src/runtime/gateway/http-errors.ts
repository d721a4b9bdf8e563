/** One error shape for every HTTP answer that is not a success: `{error, code, details?}` (OIP's `error` key). */
import { CleaveError, type ErrorCode, ERROR_CODES } from "../errors";
import { checkJsonText, type RequestLimits } from "../security/request-limits";

export function jsonError(status: number, message: string, code: ErrorCode, details?: unknown, headers: Record<string, string> = {}): Response {
  const body = details === undefined ? { error: message, code } : { error: message, code, details };
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

export function errorResponse(err: CleaveError): Response {
  const headers: Record<string, string> = {};
  const retryAfter = (err.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
  if (retryAfter !== undefined) headers["retry-after"] = String(retryAfter);
  return jsonError(ERROR_CODES[err.code], err.message, err.code, err.details, headers);
}

/** Reads a request body as the route declares it; malformed JSON is a 400 that says where it broke. */
export async function readBody(
  request: Request,
  kind: "json" | "raw" | "none",
  limits?: RequestLimits,
  maxBytes = Infinity,
): Promise<unknown> {
  if (kind === "none") return undefined;
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > maxBytes) {
    throw new CleaveError("PAYLOAD_TOO_LARGE", `request body of ${bytes.byteLength} bytes exceeds the limit of ${maxBytes}`);
  }
  if (kind === "raw") return bytes;
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") return undefined;
  if (limits) checkJsonText(text, limits);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CleaveError("INVALID_ARGUMENT", `request body is not valid JSON: ${(err as Error).message}`);
  }
}
