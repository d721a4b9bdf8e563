/**
 * Example plugin: a "georisk" module a payments team might add — a country risk lookup that decision rules or
 * legacy apps can call (`georisk.score`, `POST /v1/georisk/score`). Enable it in a config with:
 *
 *   plugins: [{ path: plugins/geo-risk/module.ts }]
 *   modules: { georisk: { high: [NG, RU], elevated: [BR] } }
 *
 * Like a built-in module it declares a contract, is placed by config, and is reached only through the bus.
 */
import { Type as T } from "@sinclair/typebox";
import { defineContract, defineModule } from "../../src/runtime/contract";

const Country = T.String({ pattern: "^[A-Z]{2}$", description: "ISO 3166-1 alpha-2 code" });

export const geoRiskContract = defineContract({
  name: "georisk",
  description: "Country risk lookup (example plugin)",
  operations: {
    score: {
      summary: "Risk of a transaction's countries: card issuing country vs where it is used",
      input: T.Object({ cardCountry: Country, ipCountry: T.Optional(Country) }, { additionalProperties: false }),
      output: T.Object({ risk: T.Number({ minimum: 0, maximum: 1 }), reasons: T.Array(T.String()) }),
    },
  },
  events: {},
  routes: [{ method: "POST", path: "/v1/georisk/score", operation: "score" }],
  config: T.Object(
    {
      high: T.Array(Country, { default: [], description: "Countries whose transactions are high risk." }),
      elevated: T.Array(Country, { default: [], description: "Countries with elevated risk." }),
      mismatchRisk: T.Number({ minimum: 0, maximum: 1, default: 0.3, description: "Added when IP and card countries differ." }),
    },
    { additionalProperties: false },
  ),
});

export default defineModule(geoRiskContract, ({ config }) => {
  const high = new Set(config.high);
  const elevated = new Set(config.elevated);
  return {
    handlers: {
      score: ({ cardCountry, ipCountry }) => {
        const reasons: string[] = [];
        let risk = 0;
        for (const c of new Set([cardCountry, ipCountry ?? cardCountry])) {
          if (high.has(c)) (risk += 0.6), reasons.push(`${c} is a high-risk country`);
          else if (elevated.has(c)) (risk += 0.3), reasons.push(`${c} has elevated risk`);
        }
        if (ipCountry && ipCountry !== cardCountry) {
          risk += config.mismatchRisk;
          reasons.push(`card from ${cardCountry} used from ${ipCountry}`);
        }
        return { risk: Math.min(1, Math.round(risk * 1000) / 1000), reasons };
      },
    },
  };
});
