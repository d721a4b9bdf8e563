/**
 * Token buckets per identity and per model. A request takes one token from its caller's bucket and one from its
 * model's; if either is empty it is refused with the time until a token is back. Buckets live in this process's
 * memory: with N gateway processes the effective quota is N× (documented). Idle full buckets are forgotten so a
 * flood of distinct callers cannot grow memory without bound.
 */
import type { BucketConfig, RateLimitConfig } from "../config/schema";

export interface RateVerdict {
  allowed: boolean;
  /** The tightest bucket involved, for the RateLimit-* headers. */
  limit: number;
  remaining: number;
  /** Seconds until that bucket is full again (allowed) or has a token (refused). */
  resetSeconds: number;
  retryAfterSeconds?: number;
  scope?: "identity" | "model";
}

interface Bucket {
  tokens: number;
  at: number;
}

const MAX_BUCKETS = 100_000;

export class RateLimiter {
  private config: RateLimitConfig;
  private readonly buckets = new Map<string, Bucket>();

  constructor(config: RateLimitConfig) {
    this.config = config;
  }

  /** New limits apply at once; current bucket levels are kept (capped by the new bursts). */
  update(config: RateLimitConfig) {
    this.config = config;
  }

  get active(): boolean {
    const c = this.config;
    return !!(c.perIdentity || c.perModel || Object.keys(c.identities).length || Object.keys(c.models).length);
  }

  take(identity: string, model: string | undefined, now = performance.now()): RateVerdict | undefined {
    const who = this.config.identities[identity] ?? this.config.perIdentity;
    const what = model === undefined ? undefined : (this.config.models[model] ?? this.config.perModel);
    if (!who && !what) return undefined;
    const a = who ? this.peek(`i:${identity}`, who, now) : undefined;
    const b = what ? this.peek(`m:${model}`, what, now) : undefined;
    const blocked = [a && a.bucket.tokens < 1 ? { ...a, scope: "identity" as const } : undefined, b && b.bucket.tokens < 1 ? { ...b, scope: "model" as const } : undefined].find(Boolean);
    if (blocked) {
      const wait = (1 - blocked.bucket.tokens) / blocked.cfg.rate;
      return { allowed: false, limit: blocked.cfg.burst, remaining: 0, resetSeconds: Math.ceil(wait), retryAfterSeconds: Math.max(1, Math.ceil(wait)), scope: blocked.scope };
    }
    let tightest: { bucket: Bucket; cfg: BucketConfig } | undefined;
    for (const x of [a, b]) {
      if (!x) continue;
      x.bucket.tokens -= 1;
      if (!tightest || x.bucket.tokens < tightest.bucket.tokens) tightest = x;
    }
    const t = tightest!;
    return { allowed: true, limit: t.cfg.burst, remaining: Math.floor(t.bucket.tokens), resetSeconds: Math.ceil((t.cfg.burst - t.bucket.tokens) / t.cfg.rate) };
  }

  private peek(key: string, cfg: BucketConfig, now: number) {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_BUCKETS) this.sweep(now);
      bucket = { tokens: cfg.burst, at: now };
      this.buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(cfg.burst, bucket.tokens + ((now - bucket.at) / 1000) * cfg.rate);
      bucket.at = now;
    }
    return { bucket, cfg };
  }

  /** Forgets buckets idle for a minute, or the oldest half when that is not enough (a flood of distinct callers). */
  private sweep(now: number) {
    for (const [k, b] of this.buckets) if (now - b.at > 60_000) this.buckets.delete(k);
    if (this.buckets.size < MAX_BUCKETS) return;
    let n = 0;
    for (const k of this.buckets.keys()) if (n++ < MAX_BUCKETS / 2) this.buckets.delete(k);
  }
}

export function rateLimitHeaders(v: RateVerdict): Record<string, string> {
  const h: Record<string, string> = {
    "ratelimit-limit": String(v.limit),
    "ratelimit-remaining": String(v.remaining),
    "ratelimit-reset": String(v.resetSeconds),
  };
  if (v.retryAfterSeconds !== undefined) h["retry-after"] = String(v.retryAfterSeconds);
  return h;
}
