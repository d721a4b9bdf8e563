/** Shared benchmark plumbing: percentiles, a fixed-width table, and the machine details every result carries. */
import { cpus, totalmem } from "node:os";
import { percentile } from "../../src/ml/metrics";

export { percentile };

export interface LatencySummary {
  n: number;
  p50: number;
  p99: number;
  perSecond: number;
}

/** Summarises per-operation latencies (any unit) measured over `elapsedSeconds` of wall time. */
export function summarize(latencies: number[], elapsedSeconds: number): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  const arr = Array.from(sorted);
  return { n: arr.length, p50: percentile(arr, 50), p99: percentile(arr, 99), perSecond: arr.length / elapsedSeconds };
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === "number" ? formatNumber(c) : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(headers), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.map(line)].join("\n");
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString("en-US");
  return n.toFixed(2);
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${process.platform} ${process.arch}, Bun ${Bun.version}, ${new Date().toISOString()}`;
}

/** Per-call latencies in µs of `call`, one at a time for `seconds`, after `warmup` untimed calls (JIT, pools). */
export async function sequentialLatencies(call: () => Promise<unknown>, seconds: number, warmup: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await call();
  const out: number[] = [];
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    const t = performance.now();
    await call();
    out.push((performance.now() - t) * 1000);
  }
  return out;
}

/** Calls per second with `concurrency` loops calling back to back for `seconds`. */
export async function closedLoopRate(call: () => Promise<unknown>, concurrency: number, seconds: number): Promise<number> {
  let count = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        await call();
        count++;
      }
    }),
  );
  return count / ((performance.now() - started) / 1000);
}
