/**
 * The gateway's security: who is calling (API key or JWT → 401), may they (rules → 403), are they within their
 * quota (token buckets → 429), and the audit trail of it all. One object per gateway; `update` applies reloaded
 * rules and limits without a restart.
 */
import { Gauge, type Registry } from "prom-client";
import type { AuditConfig, AuthConfig, RateLimitConfig } from "../config/schema";
import type { Identity } from "../contract";
import { CleaveError } from "../errors";
import type { Logger } from "../log";
import { ApiKeyStore, KEY_PREFIX, keyStorePath } from "../security/api-keys";
import { type AuditRecord, auditPath } from "../security/audit";
import { AuditWriter } from "../security/audit-writer";
import { JwtVerifier } from "../security/jwt";
import { AccessPolicy, forbidden, type Resource, unauthenticated } from "../security/policy";
import { RateLimiter, rateLimitHeaders } from "../security/rate-limit";

export interface SecurityConfig {
  auth: AuthConfig;
  rateLimits: RateLimitConfig;
  audit: AuditConfig;
  /** The deployment's data dir (resolved): keys under auth/, the audit log under audit/. */
  dataDir: string;
  resolvePath: (p: string) => string;
}

/** A refusal with headers of its own (429's RateLimit-*, 401's WWW-Authenticate). */
export class Refusal extends CleaveError {
  constructor(error: CleaveError, readonly headers: Record<string, string>, readonly identity?: Identity) {
    super(error.code, error.message, error.details);
  }
}

/** What the guard learned about a request, for the handler that serves it. */
export interface Admission {
  identity?: Identity;
  /** Rate-limit headers to send with the answer. */
  headers?: Record<string, string>;
}

export class GatewaySecurity {
  readonly enabled: boolean;
  policy?: AccessPolicy;
  private readonly limiter: RateLimiter;
  private publicRoutes: Set<string>;

  private constructor(
    private config: SecurityConfig,
    private readonly keys: ApiKeyStore | undefined,
    private readonly jwt: JwtVerifier | undefined,
    readonly audit: AuditWriter | undefined,
    private readonly log: Logger,
  ) {
    this.enabled = config.auth.mode === "on";
    this.policy = this.enabled ? new AccessPolicy(config.auth) : undefined;
    this.limiter = new RateLimiter(config.rateLimits);
    this.publicRoutes = new Set(config.auth.publicRoutes);
  }

  static async create(config: SecurityConfig, log: Logger, registry?: Registry): Promise<GatewaySecurity> {
    const on = config.auth.mode === "on";
    if (!on) {
      log.warn(
        { auth: "off" },
        "AUTHENTICATION IS OFF: anyone who can reach this gateway may call every route (set auth.mode: on)",
      );
    }
    const keys = on && config.auth.apiKeys.enabled ? new ApiKeyStore(keyStorePath(config.dataDir)) : undefined;
    if (keys && config.auth.apiKeys.bootstrap && keys.count() === 0) bootstrapAdminKey(keys, config.auth, log);
    const jwt = on && config.auth.jwt ? await JwtVerifier.create(config.auth.jwt, config.resolvePath) : undefined;
    const audit = config.audit.enabled
      ? await AuditWriter.start(auditPath(config.dataDir), { flushIntervalMs: config.audit.flushIntervalMs, retentionDays: config.audit.retentionDays }, log)
      : undefined;
    if (audit && registry) {
      new Gauge({
        name: "cleave_audit_records_dropped",
        help: "Audit records lost because the audit file did not accept writes for too long (should stay 0)",
        registers: [registry],
        collect() {
          this.set(audit.dropped);
        },
      });
    }
    return new GatewaySecurity(config, keys, jwt, audit, log);
  }

  /** Applies reloaded rules, public routes and rate limits (keys and JWT settings need a restart). */
  update(config: Pick<SecurityConfig, "auth" | "rateLimits">) {
    this.config = { ...this.config, ...config, auth: { ...this.config.auth, rules: config.auth.rules, adminRoles: config.auth.adminRoles, publicRoutes: config.auth.publicRoutes } };
    if (this.enabled) this.policy = new AccessPolicy(this.config.auth);
    this.publicRoutes = new Set(this.config.auth.publicRoutes);
    this.limiter.update(config.rateLimits);
  }

  isPublic(route: string): boolean {
    return route === "/healthz" || (!this.enabled) || this.publicRoutes.has(route) || (route.startsWith("/openapi") && this.publicRoutes.has("/openapi"));
  }

  /** Who sent this request: undefined when it carries no credentials; a 401 when it carries bad ones. */
  async authenticate(headers: Headers): Promise<Identity | undefined> {
    const auth = headers.get("authorization");
    let token: string | undefined;
    if (auth !== null) {
      const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
      if (!m) throw new CleaveError("UNAUTHENTICATED", "the Authorization header must be `Bearer <API key or JWT>`");
      token = m[1];
    } else token = headers.get("x-api-key") ?? undefined;
    if (token === undefined) return undefined;
    if (token.startsWith(KEY_PREFIX)) {
      const identity = this.keys?.lookup(token);
      if (!identity) throw new CleaveError("UNAUTHENTICATED", "the API key is not valid (unknown or revoked)");
      return identity;
    }
    if (this.jwt && token.split(".").length === 3) {
      const { identity, reason } = await this.jwt.verify(token);
      if (!identity) {
        this.log.debug({ reason }, "JWT refused");
        throw new CleaveError("UNAUTHENTICATED", "the token is not valid (bad signature, expired, or wrong issuer/audience)");
      }
      return identity;
    }
    throw new CleaveError("UNAUTHENTICATED", "the credentials are not valid");
  }

  /** Whether requests need `admit` at all (auth on, or some rate limit set; rate limits can be reloaded). */
  get gates(): boolean {
    return this.enabled || this.limiter.active;
  }

  /** Authenticates, authorizes and rate-limits one request; throws the refusal (401/403/429). */
  async admit(request: Request, resource: Resource, route: string, clientAddress: () => string): Promise<Admission> {
    let identity: Identity | undefined;
    if (this.enabled) {
      identity = await this.authenticate(request.headers);
      if (!this.isPublic(route)) {
        if (!identity) throw unauthenticated();
        if (!this.policy!.allows(identity, resource)) throw new Refusal(forbidden(resource), {}, identity);
      }
    }
    if (!this.limiter.active) return { identity };
    // The client address (asked of the server only when needed) stands for the caller when auth is off.
    const verdict = this.limiter.take(identity?.id ?? `addr:${clientAddress()}`, resource.model);
    if (!verdict) return { identity };
    const headers = rateLimitHeaders(verdict);
    if (!verdict.allowed) {
      const error = new CleaveError("RESOURCE_EXHAUSTED", `rate limit of this ${verdict.scope} exceeded; retry in ${verdict.retryAfterSeconds} s`, {
        retryAfterSeconds: verdict.retryAfterSeconds,
      });
      throw new Refusal(error, headers, identity);
    }
    return { identity, headers };
  }

  get auditReads(): boolean {
    return this.config.audit.reads;
  }

  record(record: AuditRecord) {
    this.audit?.append(record);
  }

  async close(): Promise<void> {
    this.keys?.close();
    await this.audit?.close();
  }
}

function bootstrapAdminKey(keys: ApiKeyStore, auth: AuthConfig, log: Logger) {
  const role = auth.adminRoles[0];
  const chosen = auth.apiKeys.bootstrapKey || undefined;
  const { id, key } = keys.create("admin", [role], chosen);
  log.warn({ keyId: id, roles: [role] }, "no API key existed: created an admin key (printed once on stderr; only its hash is stored)");
  if (!chosen) {
    // stderr, not the log: the key must not end up in log storage. Shown once; lost keys are replaced with the CLI.
    process.stderr.write(`\ncleave: admin API key (shown once, store it now): ${key}\n` +
      `cleave: use it as "Authorization: Bearer ${key.slice(0, 8)}…"; manage keys with \`cleave auth keys\`\n\n`);
  }
}
