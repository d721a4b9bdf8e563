/** Rule sets: both policies, reasons with the actual values, and refused rule sets with located errors. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { compileRuleSet, parseRuleSetText, RuleSetError } from "../../src/modules/decision/rules";
import { FRAUD_FEATURES } from "../../src/ml/feature-names";

const known = new Set<string>(FRAUD_FEATURES);
const tx = (over: Record<string, string | number> = {}) => ({ id: "t1", card_id: "c1", merchant_id: "m1", country: "FR", amount: 20, ...over });

function refused(raw: unknown): RuleSetError {
  try {
    compileRuleSet(raw, known);
  } catch (err) {
    expect(err).toBeInstanceOf(RuleSetError);
    return err as RuleSetError;
  }
  throw new Error("the rule set was accepted");
}

describe("first-match policy", () => {
  const rs = compileRuleSet(
    {
      version: 7,
      policy: "first-match",
      lists: { vip: ["c-vip"], bad_countries: ["KP"] },
      rules: [
        { id: "score-review", when: { score: { gte: 0.6 } }, outcome: "review", priority: 60 },
        { id: "score-block", description: "Very likely fraud", when: { score: { gte: 0.9 } }, outcome: "block", priority: 30 },
        { id: "vip", when: { field: "card_id", inList: "vip" }, outcome: "approve", priority: 1 },
        { id: "country", when: { field: "country", inList: "bad_countries" }, outcome: "block", priority: 30 },
        { id: "velocity", when: { feature: "card.count_1h", gt: 10 }, outcome: "review", priority: 50 },
      ],
    },
    known,
  );

  test("rules run in priority order; the first that holds decides and says why with the values", () => {
    const r = rs.evaluate({ transaction: tx(), score: 0.95, features: {} });
    expect(r.decision).toBe("block");
    expect(r.rulesFired).toEqual([{ id: "score-block", outcome: "block", reason: "score-block: Very likely fraud — score = 0.95 ≥ 0.9" }]);
    expect(rs.version).toBe("7");
  });

  test("an allow list with a higher priority wins over the score band", () => {
    const r = rs.evaluate({ transaction: tx({ card_id: "c-vip" }), score: 0.99, features: {} });
    expect(r.decision).toBe("approve");
    expect(r.reasons).toEqual(['vip: field card_id = "c-vip" in list vip']);
  });

  test("velocity from a feature value; score band review; default approve with no rule fired", () => {
    const v = rs.evaluate({ transaction: tx(), score: 0.1, features: { "card.count_1h": 14 } });
    expect(v.decision).toBe("review");
    expect(v.reasons[0]).toBe("velocity: feature card.count_1h = 14 > 10");
    expect(rs.evaluate({ transaction: tx(), score: 0.7 }).rulesFired[0].id).toBe("score-review");
    expect(rs.evaluate({ transaction: tx(), score: 0.1, features: { "card.count_1h": 3 } })).toEqual({
      decision: "approve",
      rulesFired: [],
      reasons: [],
    });
  });

  test("a missing field or feature never satisfies a condition", () => {
    const r = compileRuleSet({ version: 1, rules: [{ id: "x", when: { field: "country", notIn: ["FR"] }, outcome: "block" }] }, known);
    expect(r.evaluate({ transaction: { id: "t" }, score: 0 }).decision).toBe("approve");
    expect(r.evaluate({ transaction: { country: "DE" }, score: 0 }).decision).toBe("block");
  });

  test("all / any / not combine conditions and explain the parts that held", () => {
    const r = compileRuleSet(
      {
        version: "c",
        rules: [
          {
            id: "ato",
            when: {
              all: [
                { any: [{ feature: "card.countries_24h", gte: 2 }, { feature: "card.devices_24h", gte: 2 }] },
                { field: "amount", gte: 500, lt: 10000 },
                { not: { field: "country", in: ["FR"] } },
              ],
            },
            outcome: "review",
          },
        ],
      },
      known,
    );
    const hit = r.evaluate({ transaction: tx({ amount: 900, country: "BR" }), score: 0, features: { "card.countries_24h": 1, "card.devices_24h": 2 } });
    expect(hit.reasons).toEqual(['ato: feature card.devices_24h = 2 ≥ 2 and field amount = 900 ≥ 500, < 10000 and not field country in ["FR"]']);
    expect(r.evaluate({ transaction: tx({ amount: 900, country: "FR" }), score: 0, features: { "card.devices_24h": 2 } }).decision).toBe("approve");
  });
});

describe("score-sum policy", () => {
  const rs = compileRuleSet(
    {
      version: "sum-1",
      policy: "score-sum",
      thresholds: { review: 50, block: 100 },
      rules: [
        { id: "high-score", when: { score: { gte: 0.8 } }, score: 60 },
        { id: "velocity", when: { feature: "card.count_24h", gt: 20 }, score: 30 },
        { id: "big", when: { field: "amount", gt: 1000 }, score: 20 },
        { id: "known-good-merchant", when: { field: "merchant_id", in: ["m-good"] }, score: -100 },
      ],
    },
    known,
  );

  test("every rule that holds adds its score; the total maps to an outcome", () => {
    const r = rs.evaluate({ transaction: tx({ amount: 2000 }), score: 0.85, features: { "card.count_24h": 25 } });
    expect(r.ruleScore).toBe(110);
    expect(r.decision).toBe("block");
    expect(r.rulesFired.map((f) => [f.id, f.score])).toEqual([["high-score", 60], ["velocity", 30], ["big", 20]]);
    expect(r.reasons[1]).toBe("velocity: feature card.count_24h = 25 > 20 (+30)");
    expect(rs.evaluate({ transaction: tx(), score: 0.85 }).decision).toBe("review");
    expect(rs.evaluate({ transaction: tx(), score: 0.1 }).decision).toBe("approve");
  });

  test("a negative score (allow list) pulls the total down", () => {
    const r = rs.evaluate({ transaction: tx({ merchant_id: "m-good", amount: 2000 }), score: 0.9, features: { "card.count_24h": 25 } });
    expect(r.ruleScore).toBe(10);
    expect(r.decision).toBe("approve");
    expect(r.reasons).toContain("known-good-merchant: field merchant_id = \"m-good\" in [\"m-good\"] (-100)");
  });
});

describe("refused rule sets name the rule and the key path", () => {
  test("unknown feature", () => {
    const err = refused({ version: 1, rules: [{ id: "v", when: { all: [{ field: "amount", gt: 1 }, { feature: "card.cnt_1h", gt: 3 }] }, outcome: "review" }] });
    expect(err.errors[0]).toMatchObject({ rule: "v", path: "rules.0.when.all.1.feature" });
    expect(err.message).toContain('rule "v" at rules.0.when.all.1.feature: unknown feature "card.cnt_1h"');
    expect(err.code).toBe("INVALID_ARGUMENT");
  });

  test("several problems are all reported", () => {
    const err = refused({
      version: 1,
      policy: "score-sum",
      thresholds: { review: 10, block: 5 },
      rules: [
        { id: "a", when: { score: { gte: "high" } }, score: 1 },
        { id: "a", when: { field: "x", between: 3 } },
        { id: "c", when: { field: "card_id", inList: "nope" }, score: 2, colour: "red" },
      ],
    });
    const got = err.errors.map((e) => e.path);
    expect(got).toEqual(
      expect.arrayContaining(["thresholds", "rules.0.when.score.gte", "rules.1.id", "rules.1.score", "rules.1.when.between", "rules.2.colour", "rules.2.when.inList"]),
    );
  });

  test("missing version, bad policy, first-match rule without an outcome, not a mapping", () => {
    expect(refused({ rules: [] }).errors[0].path).toBe("version");
    expect(refused({ version: 1, policy: "vote", rules: [] }).errors[0].path).toBe("policy");
    expect(refused({ version: 1, rules: [{ id: "r", when: { score: { gte: 0.5 } } }] }).errors[0]).toMatchObject({ path: "rules.0.outcome", rule: "r" });
    expect(refused("block everything").errors[0].path).toBe("(root)");
  });

  test("text that does not parse is located by line and column", () => {
    let err: RuleSetError | undefined;
    try {
      parseRuleSetText("version: 1\nrules:\n  - id: a\n    when: { score: { gte: 0.9 }\n");
    } catch (e) {
      err = e as RuleSetError;
    }
    expect(err).toBeInstanceOf(RuleSetError);
    expect(err!.errors[0].path).toMatch(/^line \d+, column \d+$/);
  });

  test("the example rule set in configs/rules parses against the default feature names", () => {
    const rs = compileRuleSet(parseRuleSetText(readFileSync("configs/rules/fraud-rules.yaml", "utf8")), known);
    expect(rs.rules.length).toBeGreaterThan(5);
    expect(rs.evaluate({ transaction: tx({ country: "KP" }), score: 0 }).rulesFired[0].id).toBe("deny-country");
  });
});
