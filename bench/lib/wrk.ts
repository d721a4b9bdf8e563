/**
 * HTTP load from wrk (Debian package `wrk`; `npm run bench` installs it): a C load generator on its own core
 * drives a server far harder than a JavaScript one — a Bun fetch loop saturated at ~15k req/s on this machine, so
 * comparing two servers through it compared the client with itself. Closed loop: `connections` requests in flight.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface WrkResult {
  requests: number;
  seconds: number;
  p50Us: number;
  p99Us: number;
  /** Socket errors plus non-2xx answers. */
  errors: number;
}

const SCRIPT = join(import.meta.dir, "wrk-post.lua");

export function requireWrk(): void {
  if (!Bun.which("wrk")) {
    console.error("bench: wrk is not installed; `npm run bench -- <name>` installs it (apt-get install wrk)");
    process.exit(2);
  }
}

/** Writes request bodies one per line (JSON text has no raw newline) for `wrk`. */
export function writeBodies(file: string, bodies: unknown[]): string {
  writeFileSync(file, `${bodies.map((b) => JSON.stringify(b)).join("\n")}\n`);
  return file;
}

/**
 * Runs wrk (one thread: the server under test needs the other core) with a Lua `script` whose `done` prints one
 * JSON line, and returns that line parsed. `seconds` is whole (wrk takes no fractions).
 */
export async function runWrk(opts: {
  url: string;
  connections: number;
  seconds: number;
  script: string;
  scriptArgs?: string[];
  extraArgs?: string[];
  env?: Record<string, string>;
  /** Runs wrk on this vCPU only (`taskset`). */
  cpu?: number;
}): Promise<Record<string, any>> {
  const pin = opts.cpu === undefined ? [] : ["taskset", "-c", String(opts.cpu)];
  const args = [...pin, "wrk", "-t1", `-c${opts.connections}`, `-d${Math.max(1, Math.round(opts.seconds))}s`, ...(opts.extraArgs ?? []), "-s", opts.script, opts.url];
  if (opts.scriptArgs) args.push("--", ...opts.scriptArgs);
  const proc = Bun.spawn(args, { stdout: "pipe", stderr: "inherit", env: { ...process.env, ...opts.env } });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(`wrk failed: ${out}`);
  const line = out.trim().split("\n").findLast((l) => l.startsWith("{"));
  if (!line) throw new Error(`wrk printed no result: ${out}`);
  return JSON.parse(line);
}

/** POSTs the bodies of `bodyFile` in turn (bench/lib/wrk-post.lua). */
export async function wrk(opts: { url: string; bodyFile: string; connections: number; seconds: number; headers?: Record<string, string>; cpu?: number }): Promise<WrkResult> {
  const headerArgs = Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}`);
  const r = await runWrk({ ...opts, script: SCRIPT, extraArgs: ["--latency"], scriptArgs: [opts.bodyFile, ...headerArgs] });
  return { requests: r.requests, seconds: r.seconds, p50Us: r.p50Us, p99Us: r.p99Us, errors: r.socketErrors + r.non2xx };
}
