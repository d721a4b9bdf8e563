/**
 * The fraud model's feature names, in the column order of its input tensor. Shared by the offline extractor
 * (src/ml/features.ts), the trainer's sidecar and the decision module's default list of known features; the feature
 * module provides the online equivalents under the same names.
 */
export const FRAUD_FEATURES = [
  "amount",
  "card.count_1h",
  "card.sum_1h",
  "card.count_24h",
  "card.sum_24h",
  "card.amount_zscore_30d",
  "card.new_country",
  "card.new_device",
  "card.seconds_since_last",
  "merchant.fraud_rate_30d",
] as const;

export type FraudFeature = (typeof FRAUD_FEATURES)[number];
