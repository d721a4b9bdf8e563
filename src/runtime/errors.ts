/**
 * Typed errors that cross every boundary intact: a handler throws one, the caller (in this process or another)
 * receives the same code, message and details, and the gateway maps the code to an HTTP status.
 */

export const ERROR_CODES = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorShape {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export class CleaveError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = "CleaveError";
    this.code = code;
    this.details = details;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code];
  }

  toJSON(): ErrorShape {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromShape(shape: ErrorShape): CleaveError {
    const code = shape.code in ERROR_CODES ? shape.code : "INTERNAL";
    return new CleaveError(code, shape.message, shape.details);
  }
}

export const invalidArgument = (message: string, details?: unknown) =>
  new CleaveError("INVALID_ARGUMENT", message, details);
export const notFound = (message: string, details?: unknown) => new CleaveError("NOT_FOUND", message, details);
export const unavailable = (message: string, details?: unknown) => new CleaveError("UNAVAILABLE", message, details);
export const deadlineExceeded = (message: string, details?: unknown) =>
  new CleaveError("DEADLINE_EXCEEDED", message, details);

/** SQLite's and the OS's codes for a full disk or quota: the deployment's state, which frees up, not a fault. */
const STORAGE_FULL = new Set(["SQLITE_FULL", "ENOSPC", "EDQUOT"]);

/**
 * Anything thrown that is not a CleaveError is an internal fault: its message may carry internals (paths, SQL),
 * so only a generic message crosses the boundary; the original is for the log. A full disk is the exception: 503,
 * retry later (what was acknowledged before stays stored; nothing new is acknowledged until space is freed).
 */
export function toCleaveError(err: unknown): CleaveError {
  if (err instanceof CleaveError) return err;
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (typeof code === "string" && STORAGE_FULL.has(code)) {
    return unavailable("storage is full: no space left for the data directory; retry once space is freed", { retryAfterSeconds: 5 });
  }
  return new CleaveError("INTERNAL", "internal error");
}
