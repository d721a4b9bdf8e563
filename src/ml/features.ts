/**
 * Offline feature extraction for training: replays a time-ordered transaction stream and computes, for each
 * transaction, the values an online feature store would serve at that moment (names in feature-names.ts):
 *  - amount: the transaction amount;
 *  - card.count_1h / card.sum_1h / card.count_24h / card.sum_24h: the card's transactions in the trailing window,
 *    INCLUDING the current one (the online store updates, then reads);
 *  - card.amount_zscore_30d: (amount − mean) / max(std, 1) over the card's previous 30 days (0 with < 2 of them);
 *  - card.new_country / card.new_device: 1 when the country / device was not seen on the card in the previous 30 days
 *    (also 1 for a card with no history);
 *  - card.seconds_since_last: seconds since the card's previous transaction (30 days when none);
 *  - merchant.fraud_rate_30d: the merchant's smoothed fraud rate over its previous 30 days of labelled transactions,
 *    (frauds + 0.4) / (count + 20), i.e. a 2% prior worth 20 transactions. The simulator has no label delay, so
 *    this assumes chargebacks are known at once — an online store would lag.
 */
import { FRAUD_FEATURES } from "./feature-names";

export interface FeatureInput {
  timestamp: number;
  card_id: string;
  merchant_id: string;
  amount: number;
  country: string;
  device_id: string;
  label?: 0 | 1;
}

export interface FeatureTable {
  names: readonly string[];
  /** Row-major: rows × names.length. */
  values: Float32Array;
  rows: number;
  labels: Uint8Array;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MONTH = 30 * DAY;

interface CardEvent {
  t: number;
  amount: number;
  country: string;
  device: string;
}

/** Transactions must be in time order; labels are required for merchant.fraud_rate_30d to mean anything. */
export function extractFeatures(txs: readonly FeatureInput[]): FeatureTable {
  const F = FRAUD_FEATURES.length;
  const values = new Float32Array(txs.length * F);
  const labels = new Uint8Array(txs.length);
  const cards = new Map<string, CardEvent[]>();
  const merchants = new Map<string, { t: number; label: number }[]>();

  txs.forEach((tx, row) => {
    const t = tx.timestamp;
    const history = cards.get(tx.card_id) ?? [];
    // Drop events older than 30 days: history stays short and ordered.
    let drop = 0;
    while (drop < history.length && history[drop].t <= t - MONTH) drop++;
    if (drop) history.splice(0, drop);

    let c1 = 1, s1 = tx.amount, c24 = 1, s24 = tx.amount, sum = 0, sumSq = 0;
    let seenCountry = false, seenDevice = false;
    for (const e of history) {
      sum += e.amount;
      sumSq += e.amount * e.amount;
      if (e.country === tx.country) seenCountry = true;
      if (e.device === tx.device_id) seenDevice = true;
      if (e.t > t - DAY) {
        c24++;
        s24 += e.amount;
        if (e.t > t - HOUR) {
          c1++;
          s1 += e.amount;
        }
      }
    }
    const n = history.length;
    const mean = n ? sum / n : 0;
    const std = n ? Math.sqrt(Math.max(0, sumSq / n - mean * mean)) : 0;
    const z = n >= 2 ? (tx.amount - mean) / Math.max(std, 1) : 0;
    const sinceLast = n ? (t - history[n - 1].t) / 1000 : MONTH / 1000;

    const mh = merchants.get(tx.merchant_id) ?? [];
    let mdrop = 0;
    while (mdrop < mh.length && mh[mdrop].t <= t - MONTH) mdrop++;
    if (mdrop) mh.splice(0, mdrop);
    let frauds = 0;
    for (const e of mh) frauds += e.label;
    const fraudRate = (frauds + 0.4) / (mh.length + 20);

    const o = row * F;
    values[o] = tx.amount;
    values[o + 1] = c1;
    values[o + 2] = s1;
    values[o + 3] = c24;
    values[o + 4] = s24;
    values[o + 5] = z;
    values[o + 6] = seenCountry ? 0 : 1;
    values[o + 7] = seenDevice ? 0 : 1;
    values[o + 8] = sinceLast;
    values[o + 9] = fraudRate;
    labels[row] = tx.label ?? 0;

    history.push({ t, amount: tx.amount, country: tx.country, device: tx.device_id });
    cards.set(tx.card_id, history);
    mh.push({ t, label: tx.label ?? 0 });
    merchants.set(tx.merchant_id, mh);
  });
  return { names: FRAUD_FEATURES, values, rows: txs.length, labels };
}

/** One row as a {name: value} map, the shape the decision module and the audit trail use. */
export function featureRow(table: FeatureTable, row: number): Record<string, number> {
  const F = table.names.length;
  const out: Record<string, number> = {};
  for (let f = 0; f < F; f++) out[table.names[f]] = table.values[row * F + f];
  return out;
}
