/**
 * Load generator for bench/score.ts, in its own process so it does not share an event loop with the server:
 * POSTs distinct transactions (unique ids: the ingestion dedup must not short-cut anything) to /v1/score, either
 * open-loop at a fixed rate (latency measured from each request's scheduled time, so a stall is not hidden by
 * waiting for it) or closed-loop at a concurrency (saturation). Prints one JSON line.
 *
 *   [CLEAVE_API_KEY=…] bun bench/lib/score-load.ts URL rate|concurrency N SECONDS PREFIX
 */
export {};

const [url, mode, nArg, secondsArg, prefix] = process.argv.slice(2);
const headers: Record<string, string> = { "content-type": "application/json" };
if (process.env.CLEAVE_API_KEY) headers.authorization = `Bearer ${process.env.CLEAVE_API_KEY}`;
const n = Number(nArg);
const seconds = Number(secondsArg);
const COUNTRIES = ["US", "GB", "FR", "DE", "ES", "IT"];
let seq = 0;

function body(): string {
  const i = seq++;
  return JSON.stringify({
    id: `${prefix}-${i}`,
    card_id: `card-${(i * 7919) % 5000}`,
    merchant_id: `merchant-${(i * 104729) % 300}`,
    amount: 5 + ((i * 2654435761) % 50000) / 100,
    country: COUNTRIES[i % COUNTRIES.length],
    device_id: `device-${(i * 31) % 6000}`,
  });
}

const latencies: number[] = [];
/** From the moment the request was actually sent: without the generator's own scheduling lag. */
const serviceTimes: number[] = [];
let errors = 0;
const statuses: Record<string, number> = {};

async function send(scheduled: number, record: boolean) {
  const sentAt = performance.now();
  try {
    const res = await fetch(url, { method: "POST", body: body(), headers });
    await res.arrayBuffer();
    if (res.status !== 200) {
      errors++;
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    }
  } catch {
    errors++;
    statuses.network = (statuses.network ?? 0) + 1;
  }
  if (record) {
    const now = performance.now();
    latencies.push(now - scheduled);
    serviceTimes.push(now - sentAt);
  }
}

async function openLoop(rate: number, ms: number, record: boolean) {
  const start = performance.now();
  const pending: Promise<void>[] = [];
  let sent = 0;
  while (performance.now() - start < ms) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    for (; sent < due; sent++) pending.push(send(start + (sent / rate) * 1000, record));
    // Sleep until the next request is due, not a fixed tick: a coarse tick sends bursts and charges their wait
    // to the server.
    await Bun.sleep(Math.max(0, start + ((sent + 1) / rate) * 1000 - performance.now()));
  }
  await Promise.all(pending);
  return (performance.now() - start) / 1000;
}

async function closedLoop(concurrency: number, ms: number, record: boolean) {
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() - start < ms) await send(performance.now(), record);
    }),
  );
  return (performance.now() - start) / 1000;
}

const run = mode === "rate" ? openLoop : closedLoop;
await run(mode === "rate" ? Math.min(n, 1000) : n, 1000, false); // warm-up
const elapsed = await run(n, seconds * 1000, true);
latencies.sort((a, b) => a - b);
serviceTimes.sort((a, b) => a - b);
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? Number.NaN;
console.log(
  JSON.stringify({
    requests: latencies.length,
    errors,
    statuses,
    seconds: elapsed,
    perSecond: latencies.length / elapsed,
    p50Ms: pct(latencies, 0.5),
    p99Ms: pct(latencies, 0.99),
    serviceP50Ms: pct(serviceTimes, 0.5),
    serviceP99Ms: pct(serviceTimes, 0.99),
  }),
);
