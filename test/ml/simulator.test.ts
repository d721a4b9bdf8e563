/** The synthetic transaction simulator: deterministic per seed, labelled patterns present, time-ordered. */
import { describe, expect, test } from "bun:test";
import { simulate } from "../../src/sim/transactions";
import { extractFeatures, featureRow } from "../../src/ml/features";

describe("transaction simulator", () => {
  test("same seed → identical stream; different seeds → different streams", () => {
    const a = simulate({ seed: 42, transactions: 5000 });
    const b = simulate({ seed: 42, transactions: 5000 });
    const c = simulate({ seed: 43, transactions: 5000 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a)).not.toBe(JSON.stringify(c));
    expect(a.length).toBe(5000);
  });

  test("time-ordered, unique ids, every pattern labelled, fraud a small minority", () => {
    const txs = simulate({ seed: 1, transactions: 20_000 });
    for (let i = 1; i < txs.length; i++) expect(txs[i].timestamp).toBeGreaterThanOrEqual(txs[i - 1].timestamp);
    expect(new Set(txs.map((t) => t.id)).size).toBe(txs.length);
    const patterns = new Map<string, number>();
    for (const t of txs) {
      patterns.set(t.pattern, (patterns.get(t.pattern) ?? 0) + 1);
      expect(t.label).toBe(t.pattern === "legit" ? 0 : 1);
    }
    expect([...patterns.keys()].sort()).toEqual(["account_takeover", "card_testing", "compromised_merchant", "legit"]);
    const fraudRate = (txs.length - patterns.get("legit")!) / txs.length;
    expect(fraudRate).toBeGreaterThan(0.01);
    expect(fraudRate).toBeLessThan(0.05);
  });

  test("patterns look like themselves in the features: bursts of small amounts, new country and device", () => {
    const txs = simulate({ seed: 3, transactions: 20_000 });
    const table = extractFeatures(txs);
    const mean = (pattern: string, name: string) => {
      const rows = txs.flatMap((t, i) => (t.pattern === pattern ? [featureRow(table, i)[name]] : []));
      return rows.reduce((a, b) => a + b, 0) / rows.length;
    };
    expect(mean("card_testing", "card.count_1h")).toBeGreaterThan(4 * mean("legit", "card.count_1h"));
    expect(mean("card_testing", "amount")).toBeLessThan(5);
    // Only the first transaction of a takeover sees the country and device as new; the next ones have seen them.
    expect(mean("account_takeover", "card.new_country")).toBeGreaterThan(5 * mean("legit", "card.new_country"));
    expect(mean("account_takeover", "card.new_device")).toBeGreaterThan(5 * mean("legit", "card.new_device"));
    expect(mean("account_takeover", "card.amount_zscore_30d")).toBeGreaterThan(3);
    expect(mean("compromised_merchant", "merchant.fraud_rate_30d")).toBeGreaterThan(3 * mean("legit", "merchant.fraud_rate_30d"));
  });
});
