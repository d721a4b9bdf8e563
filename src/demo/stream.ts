/**
 * The demo's simulated world (SYNTHETIC): one seeded simulation, split in time. The first HISTORY_DAYS are the
 * history the demo model is trained on and the deployment is bootstrapped with; the days after are the "live"
 * transactions `cleave demo` sends to /v1/score — same cards, merchants and habits, so their features continue the
 * history instead of starting cold.
 */
import { type SimTransaction, simulate } from "../sim/transactions";

export const DEMO_DAYS = 60;
export const HISTORY_DAYS = 50;
const START = Date.UTC(2026, 0, 1);
const DAY_MS = 86_400_000;

export function demoWorld(seed: number, transactions: number): { history: SimTransaction[]; live: SimTransaction[] } {
  const all = simulate({ seed, transactions, days: DEMO_DAYS, start: START });
  const cut = START + HISTORY_DAYS * DAY_MS;
  return { history: all.filter((t) => t.timestamp < cut), live: all.filter((t) => t.timestamp >= cut) };
}
