/**
 * A seeded traffic simulator for monitoring tests: a credit model with two numeric features (amount, age), one
 * categorical (channel), a score, and ids so labels can be joined. `shift` moves one feature's distribution.
 */
import type { Baseline, Observation } from "../../src/modules/monitoring/contract";
import { rng as uniformRng } from "../harness/rng";

/** The shared mulberry32 stream, with the normal and weighted draws these tests need. */
export function rng(seed: number) {
  const uniform = uniformRng(seed);
  const normal = (mean = 0, sd = 1) => {
    const u = 1 - uniform();
    const v = uniform();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const pick = <T>(items: T[], weights: number[]) => {
    let r = uniform() * weights.reduce((a, b) => a + b, 0);
    for (let i = 0; i < items.length; i++) if ((r -= weights[i]) < 0) return items[i];
    return items[items.length - 1];
  };
  return { uniform, normal, pick };
}

export interface Row {
  amount: number;
  age: number;
  channel: string;
  score: number;
  /** The true outcome the simulator knows (fed back later as a label). */
  label: 0 | 1;
}

export function row(r: ReturnType<typeof rng>, shift: { amount?: number } = {}): Row {
  const amount = Math.round(r.normal(500 + (shift.amount ?? 0), 120) * 100) / 100;
  const age = Math.round(r.normal(40, 10));
  const channel = r.pick(["web", "store", "phone"], [0.6, 0.3, 0.1]);
  const label = r.uniform() < 0.3 ? 1 : 0;
  // A useful but imperfect model: positives score higher on average.
  const score = Math.min(1, Math.max(0, r.normal(label ? 0.7 : 0.3, 0.15)));
  return { amount, age, channel, score, label };
}

export function baselineFrom(rows: Row[], model = "credit", version = "1"): Baseline {
  return {
    model,
    version,
    features: {
      amount: { type: "numeric", values: rows.map((x) => x.amount) },
      age: { type: "numeric", values: rows.map((x) => x.age) },
      channel: { type: "categorical", values: rows.map((x) => x.channel) },
    },
    score: { type: "numeric", values: rows.map((x) => x.score) },
  };
}

export function observation(x: Row, id: string, model = "credit", version = "1"): Observation {
  return {
    model,
    version,
    features: { amount: x.amount, age: x.age, channel: x.channel },
    score: x.score,
    decisionId: id,
    latencyMs: 2 + (id.length % 5),
    outcome: x.score >= 0.5 ? "review" : "approve",
  };
}

export async function post(url: string, body: unknown, method = "POST"): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

export async function getJson(url: string): Promise<any> {
  return (await fetch(url)).json();
}
