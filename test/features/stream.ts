/**
 * A synthetic payment stream, deterministic from a seed: transactions and logins for a few dozen cards, customers and
 * merchants over ~3 days, with bursts, events arriving out of order (within the allowed lateness), some arriving too
 * late, duplicated ids and invalid events — what a real feed contains.
 */
import { rng } from "../harness/rng";

export interface StreamEvent {
  id: string;
  type: string;
  timestamp: number | string;
  data: Record<string, unknown>;
}


export const T0 = Date.parse("2026-03-01T00:00:00Z");

export function syntheticStream(count: number, seed = 7): StreamEvent[] {
  const rand = rng(seed);
  const pick = (n: number) => Math.floor(rand() * n);
  const out: StreamEvent[] = [];
  let t = T0;
  for (let i = 0; out.length < count; i++) {
    // Bursts: mostly seconds to minutes apart, sometimes an hour of silence.
    t += rand() < 0.05 ? 3_600_000 * (1 + rand()) : Math.floor(rand() * 120_000);
    const card = `card-${pick(40)}`;
    const customer = `cust-${pick(25)}`;
    let ts = t;
    const r = rand();
    if (r < 0.05) ts = t - Math.floor(rand() * 500_000); // out of order, within the 600 s lateness
    else if (r < 0.06) ts = t - 900_000 - Math.floor(rand() * 3_600_000); // too late: dropped, counted
    if (rand() < 0.15) {
      out.push({ id: `e${i}`, type: "login", timestamp: ts, data: { customer, device: `dev-${pick(60)}` } });
    } else {
      const data: Record<string, unknown> = {
        card,
        customer,
        merchant: `m-${pick(15)}`,
        amount: Math.round(Math.exp(2 + 2 * rand()) * 100) / 100,
      };
      if (rand() < 0.7) data.channel = rand() < 0.5 ? "web" : "pos";
      // Some timestamps as ISO strings: both forms must give the same event time.
      out.push({ id: `e${i}`, type: "transaction", timestamp: i % 3 ? ts : new Date(ts).toISOString(), data });
    }
    if (rand() < 0.02) out.push({ ...out[out.length - 1] }); // a producer retry: same id again
    if (rand() < 0.01) out.push({ id: `bad${i}`, type: "transaction", timestamp: ts, data: { card, amount: "12" } });
  }
  return out;
}

export const tsOf = (e: StreamEvent) => (typeof e.timestamp === "number" ? e.timestamp : Date.parse(e.timestamp));
