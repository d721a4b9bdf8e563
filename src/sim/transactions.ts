/**
 * A SYNTHETIC card-transaction simulator for demos, tests and training the demo model. Nothing here comes from real
 * payments data: cards, merchants, countries and devices are invented, and so are the fraud patterns, which are
 * labelled so that precision/recall can be measured:
 *  - card_testing: a stolen card probed with a burst of small amounts at online merchants, seconds apart, from a
 *    device the card has never used;
 *  - account_takeover: a card suddenly used from a new country and a new device for large amounts;
 *  - compromised_merchant: for a few days a merchant sees extra, larger transactions from many cards.
 * The stream is a pure function of its options: the same seed gives the identical stream (same ids, times, values).
 */

export type FraudPattern = "card_testing" | "account_takeover" | "compromised_merchant";

export interface SimTransaction {
  id: string;
  /** Milliseconds since the epoch. */
  timestamp: number;
  card_id: string;
  merchant_id: string;
  amount: number;
  currency: "USD";
  country: string;
  device_id: string;
  mcc: string;
  channel: "online" | "pos";
  /** Ground truth: 1 for fraud. */
  label: 0 | 1;
  pattern: FraudPattern | "legit";
}

export interface SimOptions {
  seed: number;
  /** Approximate number of transactions (legit + fraud). */
  transactions?: number;
  days?: number;
  cards?: number;
  merchants?: number;
  /** Start of the simulated period (ms since epoch). */
  start?: number;
}

const COUNTRIES = ["US", "GB", "FR", "DE", "ES", "IT", "NL", "BR", "IN", "CA", "MX", "PL", "NG", "RO", "TH"];
const COUNTRY_WEIGHTS = [30, 12, 10, 10, 6, 6, 4, 5, 5, 4, 3, 2, 1, 1, 1];
const MCCS = ["5411", "5812", "5999", "4111", "5732", "5311", "7995", "5967", "4814", "5912"];
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** sfc32: a small, fast, well-distributed PRNG; seeded through splitmix32 so that nearby seeds diverge at once. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split(), b = split(), c = split(), d = split();
  return () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
}

interface Card {
  id: string;
  home: string;
  devices: string[];
  /** Median amount (lognormal). */
  median: number;
  weight: number;
  favourites: number[];
}

interface Merchant {
  id: string;
  country: string;
  mcc: string;
  online: boolean;
  scale: number;
}

export function simulate(opts: SimOptions): SimTransaction[] {
  const r = rng(opts.seed);
  const total = opts.transactions ?? 20_000;
  const days = opts.days ?? 60;
  const start = opts.start ?? Date.UTC(2026, 0, 1);
  const nCards = opts.cards ?? Math.max(50, Math.round(total / 40));
  const nMerchants = opts.merchants ?? Math.max(20, Math.round(total / 200));
  const span = days * DAY_MS;

  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const weighted = <T>(xs: readonly T[], ws: readonly number[]) => {
    let u = r() * ws.reduce((a, b) => a + b, 0);
    for (let i = 0; i < xs.length; i++) if ((u -= ws[i]) < 0) return xs[i];
    return xs[xs.length - 1];
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const money = (x: number) => Math.max(0.5, Math.round(x * 100) / 100);
  let deviceSeq = 0;
  const newDevice = () => `dev-${(++deviceSeq).toString().padStart(6, "0")}`;
  // Hours weighted like a day of shopping: quiet at night, busy in the afternoon and evening.
  const hourWeights = Array.from({ length: 24 }, (_, h) => (h < 6 ? 1 : h < 9 ? 3 : h < 17 ? 6 : h < 22 ? 8 : 3));
  const hours = Array.from({ length: 24 }, (_, h) => h);
  const randomTime = () => start + Math.floor(r() * days) * DAY_MS + weighted(hours, hourWeights) * HOUR_MS + Math.floor(r() * HOUR_MS);

  const merchants: Merchant[] = Array.from({ length: nMerchants }, (_, i) => ({
    id: `merchant-${(i + 1).toString().padStart(4, "0")}`,
    country: weighted(COUNTRIES, COUNTRY_WEIGHTS),
    mcc: pick(MCCS),
    online: r() < 0.35,
    scale: Math.exp(normal() * 0.5),
  }));
  const byCountry = new Map<string, number[]>();
  merchants.forEach((m, i) => byCountry.set(m.country, [...(byCountry.get(m.country) ?? []), i]));
  const onlineMerchants = merchants.map((m, i) => (m.online ? i : -1)).filter((i) => i >= 0);

  const cards: Card[] = Array.from({ length: nCards }, (_, i) => {
    const home = weighted(COUNTRIES, COUNTRY_WEIGHTS);
    const local = byCountry.get(home) ?? [];
    return {
      id: `card-${(i + 1).toString().padStart(6, "0")}`,
      home,
      devices: Array.from({ length: 1 + Math.floor(r() * 2) }, newDevice),
      median: 15 + r() * 100,
      weight: 0.3 + r() * 3,
      favourites: Array.from({ length: 4 + Math.floor(r() * 6) }, () => (local.length && r() < 0.8 ? pick(local) : Math.floor(r() * nMerchants))),
    };
  });

  const out: Omit<SimTransaction, "id">[] = [];
  const emit = (t: number, card: Card, m: Merchant, amount: number, country: string, device: string, pattern: SimTransaction["pattern"]) =>
    out.push({
      timestamp: t, card_id: card.id, merchant_id: m.id, amount: money(amount), currency: "USD", country, device_id: device,
      mcc: m.mcc, channel: m.online ? "online" : "pos", label: pattern === "legit" ? 0 : 1, pattern,
    });

  // Fraud volumes as shares of the stream: ≈1.2% card testing, ≈0.5% takeover, ≈0.8% compromised merchants.
  const testingBursts = Math.max(1, Math.round((total * 0.012) / 15));
  const takeovers = Math.max(1, Math.round((total * 0.005) / 2));
  const compromised = Math.max(1, Math.round((total * 0.008) / 40));
  const cardWeights = cards.map((c) => c.weight);

  for (let i = 0; i < testingBursts; i++) {
    const card = pick(cards);
    const device = newDevice();
    let t = start + Math.floor(r() * span);
    const n = 8 + Math.floor(r() * 18);
    for (let k = 0; k < n; k++) {
      t += 5_000 + Math.floor(r() * 85_000);
      emit(t, card, merchants[pick(onlineMerchants.length ? onlineMerchants : [0])], 0.5 + r() * 4.5, card.home, device, "card_testing");
    }
  }
  for (let i = 0; i < takeovers; i++) {
    const card = pick(cards);
    const device = newDevice();
    const country = pick(COUNTRIES.filter((c) => c !== card.home));
    const local = byCountry.get(country) ?? [];
    let t = start + Math.floor(r() * span);
    const n = 1 + Math.floor(r() * 3);
    for (let k = 0; k < n; k++) {
      t += 60_000 + Math.floor(r() * 1_800_000);
      const m = merchants[local.length && r() < 0.7 ? pick(local) : Math.floor(r() * nMerchants)];
      emit(t, card, m, Math.min(5000, card.median * (5 + r() * 15)), country, device, "account_takeover");
    }
  }
  for (let i = 0; i < compromised; i++) {
    const m = merchants[Math.floor(r() * nMerchants)];
    const from = start + Math.floor(r() * (span - 5 * DAY_MS));
    const window = (2 + r() * 3) * DAY_MS;
    for (let k = 0; k < 40; k++) {
      const card = weighted(cards, cardWeights);
      const device = r() < 0.5 ? newDevice() : pick(card.devices);
      emit(from + Math.floor(r() * window), card, m, card.median * (2 + r() * 4) * m.scale, card.home, device, "compromised_merchant");
    }
  }

  // Legitimate look-alikes keep the problem honest: commuters tapping small transit fares several times an hour
  // (like card testing, but on the card's own device) and occasional large purchases at home (like a takeover's
  // amount, without the new country and device).
  let legit = Math.max(0, total - out.length);
  const transit = merchants.map((m, i) => (m.mcc === "4111" ? i : -1)).filter((i) => i >= 0);
  const commutes = Math.round((legit * 0.01) / 4.5);
  for (let i = 0; i < commutes && legit > 0; i++) {
    const card = weighted(cards, cardWeights);
    const m = merchants[transit.length ? pick(transit) : Math.floor(r() * nMerchants)];
    let t = randomTime();
    const n = Math.min(legit, 3 + Math.floor(r() * 4));
    for (let k = 0; k < n; k++, legit--) {
      t += 60_000 + Math.floor(r() * 600_000);
      emit(t, card, m, 1 + r() * 3, card.home, pick(card.devices), "legit");
    }
  }
  for (let i = 0; i < legit; i++) {
    const card = weighted(cards, cardWeights);
    const travelling = r() < 0.02;
    const country = travelling ? pick(COUNTRIES) : card.home;
    const local = byCountry.get(country) ?? [];
    const mi = !travelling && r() < 0.75 ? pick(card.favourites) : local.length ? pick(local) : Math.floor(r() * nMerchants);
    const m = merchants[mi];
    const device = r() < 0.03 ? newDevice() : pick(card.devices);
    const amount = card.median * Math.exp(normal() * 0.6) * m.scale * (r() < 0.005 ? 4 + r() * 8 : 1);
    emit(randomTime(), card, m, amount, travelling ? country : m.online ? card.home : m.country, device, "legit");
  }

  // Stable sort by time: equal timestamps keep generation order, so the stream stays deterministic.
  const order = out.map((_, i) => i).sort((a, b) => out[a].timestamp - out[b].timestamp || a - b);
  return order.map((i, k) => ({ id: `tx-${(k + 1).toString().padStart(8, "0")}`, ...out[i] }));
}
