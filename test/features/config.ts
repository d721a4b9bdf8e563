/** The module settings the ingestion and feature tests share: card/customer/merchant features of a payment stream. */
export const eventTypes = {
  transaction: {
    fields: {
      card: { type: "string" },
      customer: { type: "string" },
      merchant: { type: "string" },
      amount: { type: "number" },
      channel: { type: "string", required: false },
    },
  },
  login: { fields: { customer: { type: "string" }, device: { type: "string" } } },
};

export const featureConfig = {
  allowedLatenessSeconds: 600,
  checkpointMs: 50,
  entities: {
    card: {
      key: "card",
      staleAfter: "7d",
      features: {
        txn_count_10m: { agg: "count", window: "10m" },
        txn_count_1h: { agg: "count", window: "1h" },
        txn_count_24h: { agg: "count", window: "24h" },
        amount_sum_24h: { agg: "sum", field: "amount", window: "24h" },
        amount_mean_30d: { agg: "mean", field: "amount", window: "30d" },
        amount_std_30d: { agg: "stddev", field: "amount", window: "30d" },
        amount_min_7d: { agg: "min", field: "amount", window: "7d" },
        amount_max_7d: { agg: "max", field: "amount", window: "7d" },
        merchant_distinct_7d: { agg: "distinct_count", field: "merchant", window: "7d" },
        last_merchant: { agg: "last", field: "merchant" },
        since_last: { agg: "time_since_last" },
      },
    },
    customer: {
      key: "customer",
      features: {
        events_1h: { agg: "count", window: "1h" },
        device_distinct_30d: { agg: "distinct_count", field: "device", window: "30d" },
        last_channel: { agg: "last", field: "channel", window: "24h" },
      },
    },
    merchant: {
      key: "merchant",
      features: {
        txn_count_1h: { agg: "count", window: "1h" },
        amount_mean_24h: { agg: "mean", field: "amount", window: "24h" },
      },
    },
  },
  request: { amount: { type: "number" }, channel: { type: "string" } },
  transforms: {
    amount_log: { op: "log1p", input: "request.amount" },
    amount_z: { op: "zscore", input: "request.amount", mean: "card.amount_mean_30d", std: "card.amount_std_30d" },
    velocity_ratio: { op: "ratio", num: "card.txn_count_1h", den: "card.txn_count_24h" },
    amount_bucket: { op: "bucket", input: "request.amount", boundaries: [10, 100, 1000] },
    hour: { op: "hour_of_day" },
  },
};

export const modules = { ingestion: { eventTypes }, feature: featureConfig };
