/**
 * Structured JSON logs (pino). Secrets are redacted by path wherever they appear, so a config dump, a request's
 * headers or a NATS option object can be logged without leaking credentials.
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
  'headers["x-api-key"]',
  "req.headers.authorization",
  'req.headers["x-api-key"]',
];

export interface LogOptions {
  level: string;
  /** Process name in every line, so the interleaved output of `cleave up` can be told apart. */
  name?: string;
  destination?: pino.DestinationStream;
}

/** Asynchronous stdout destinations, flushed synchronously at exit so the last lines (e.g. "stopped") survive. */
const destinations = new Set<{ flushSync(): void }>();

export function flushLogs(): void {
  for (const d of destinations) {
    try {
      d.flushSync();
    } catch {
      // A destination that is not ready (nothing written yet) has nothing to flush.
    }
  }
}

export function createLogger(opts: LogOptions): Logger {
  let destination = opts.destination;
  if (!destination) {
    const stdout = pino.destination({ fd: 1, sync: false });
    destinations.add(stdout);
    destination = stdout;
  }
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
