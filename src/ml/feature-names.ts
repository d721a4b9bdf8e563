/**
 * The demo fraud model's input: feature-vector names (as the feature module names them: `<entity>.<feature>`,
 * `request.<field>`, transform names) in the column order of its input tensor. The feature definitions that produce
 * them are in configs/monolith.yaml (`modules.feature`); training computes them with the feature module's own engine
 * over the simulated history (src/ml/dataset.ts) and serving with the same engine online, so the two agree.
 */
export const FRAUD_FEATURES = [
  "request.amount",
  "card.count_1h",
  "card.sum_1h",
  "card.count_24h",
  "card.sum_24h",
  "amount_z",
  "card.countries_24h",
  "card.devices_24h",
  "card.merchants_1h",
  "merchant.count_1h",
  "merchant.cards_24h",
  "merchant.amount_mean_7d",
  "device.cards_24h",
] as const;

export type FraudFeature = (typeof FRAUD_FEATURES)[number];
