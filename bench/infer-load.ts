/**
 * Load generator for bench/infer.ts, run as its own process so that it does not share an event loop with the
 * server under test: `concurrency` keep-alive fetch loops POST the same body for `durationMs` (or `maxRequests`),
 * after a short warm-up, then print one JSON line {requests, errors, seconds, p50Us, p99Us}.
 */
export {};

const [url, bodyFile, concurrencyArg, durationArg, maxArg] = process.argv.slice(2);
const body = await Bun.file(bodyFile).text();
const concurrency = Number(concurrencyArg);
const durationMs = Number(durationArg);
const maxRequests = Number(maxArg);

async function run(ms: number, max: number, record: boolean) {
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end && sent < max) {
        sent++;
        const t = performance.now();
        const res = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json" } });
        await res.arrayBuffer();
        if (res.status !== 200) errors++;
        if (record) latencies.push(performance.now() - t);
      }
    }),
  );
  return { latencies, errors, seconds: (performance.now() - start) / 1000 };
}

await run(300, 2000, false);
const { latencies, errors, seconds } = await run(durationMs, maxRequests, true);
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN;
console.log(JSON.stringify({ requests: latencies.length, errors, seconds, p50Us: pct(0.5) * 1000, p99Us: pct(0.99) * 1000 }));
