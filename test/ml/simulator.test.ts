/** The synthetic transaction simulator: deterministic per seed, labelled patterns present, time-ordered. */
import { describe, expect, test } from "bun:test";
import { simulate } from "../../src/sim/transactions";
import { featureTable } from "../../src/ml/dataset";
import { demoFeaturePlan } from "../../src/ml/demo-plan";

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

  test("patterns look like themselves in the demo features (computed by the feature module's engine)", async () => {
    const txs = simulate({ seed: 3, transactions: 20_000 });
    const plan = await demoFeaturePlan();
    const table = featureTable(plan, txs, plan.names);
    const F = plan.names.length;
    const mean = (pattern: string, name: string) => {
      const col = plan.names.indexOf(name);
      const rows = txs.flatMap((t, i) => (t.pattern === pattern ? [table.values[i * F + col]] : []));
      return rows.reduce((a, b) => a + b, 0) / rows.length;
    };
    expect(mean("card_testing", "card.count_1h")).toBeGreaterThan(4 * mean("legit", "card.count_1h"));
    expect(mean("card_testing", "request.amount")).toBeLessThan(5);
    // A takeover brings a new country and device: the card's distinct counts over 24h go up.
    expect(mean("account_takeover", "card.countries_24h")).toBeGreaterThan(1.2 * mean("legit", "card.countries_24h"));
    expect(mean("account_takeover", "card.devices_24h")).toBeGreaterThan(1.2 * mean("legit", "card.devices_24h"));
    expect(mean("account_takeover", "amount_z")).toBeGreaterThan(2);
    expect(mean("compromised_merchant", "merchant.cards_24h")).toBeGreaterThan(1.2 * mean("legit", "merchant.cards_24h"));
  });
});
