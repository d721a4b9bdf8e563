/**
 * Structured JSON logs (pino). Secrets are redacted by path wherever they appear, so a config dump, a request's
 * headers or a NATS option object can be logged without leaking credentials. API keys and JWTs travel only in
 * headers (never logged by the gateway) and the auth code never puts a key or token in a log line or an error.
 */
import pino from "pino";

export type Logger = pino.Logger;

export const REDACT_PATHS = [
  "password",
  "pass",
  "token",
  "secret",
  "apiKey",
  "authorization",
  "*.password",
  "*.pass",
  "*.token",
  "*.secret",
  "*.apiKey",
  "*.authorization",
  "*.*.password",
  "*.*.pass",
  "*.*.token",
  "*.*.secret",
  "*.*.*.password",
  "*.*.*.pass",
  "*.*.*.token",
  "*.*.*.secret",
  "bootstrapKey",
  "*.bootstrapKey",
  "*.*.bootstrapKey",
  "*.*.*.bootstrapKey",
  "cookie",
  "*.cookie",
  "headers.authorization",
  "headers.cookie",
  'headers["x-api-key"]',
  'headers["set-cookie"]',
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-api-key"]',
];

export interface LogOptions {
  level: string;
  /** Process name in every line, so the interleaved output of `cleave up` can be told apart. */
  name?: string;
  destination?: pino.DestinationStream;
}

export function createLogger(opts: LogOptions): Logger {
  // Synchronous writes: Cleave logs little on its hot paths (per-request lines are debug level), and an
  // asynchronous buffer lost the last lines of processes that exit right after logging them.
  const destination = opts.destination ?? pino.destination({ fd: 1, sync: true });
  return pino(
    {
      level: opts.level,
      name: opts.name,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
