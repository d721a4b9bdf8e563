/**
 * JWT verification with `jose`: HS256 (a shared secret), RS256 and EdDSA (PEM public keys or a JWKS file, chosen by
 * `kid`). `exp` is required; `iss`/`aud` checked when configured; roles come from a configurable claim. Failures
 * become one generic 401: why a token was refused goes to the debug log, never to the caller.
 */
import { readFileSync } from "node:fs";
import { createLocalJWKSet, decodeProtectedHeader, importSPKI, type JWTPayload, jwtVerify } from "jose";
import type { Identity } from "../contract";
import type { AuthConfig } from "../config/schema";

type JwtConfig = NonNullable<AuthConfig["jwt"]>;
type Key = CryptoKey | Uint8Array;

/** Verified tokens are remembered (until their `exp`, at most a minute): a signature check per request costs more
 * than the rest of the security path together. Bounded; only successes are kept. */
const CACHE_MAX = 10_000;
const CACHE_MS = 60_000;

export class JwtVerifier {
  private readonly cache = new Map<string, { identity: Identity; until: number }>();

  private constructor(
    private readonly config: JwtConfig,
    private readonly secret: Uint8Array | undefined,
    private readonly pemKeys: { alg: string; key: Key }[],
    private readonly jwks: ReturnType<typeof createLocalJWKSet> | undefined,
  ) {}

  static async create(config: JwtConfig, resolvePath: (p: string) => string): Promise<JwtVerifier> {
    const secret = config.secret ? new TextEncoder().encode(config.secret) : undefined;
    const pemKeys: { alg: string; key: Key }[] = [];
    for (const file of config.publicKeyFiles) {
      const pem = readFileSync(resolvePath(file), "utf8");
      // A PEM does not say which algorithm it is for: try each asymmetric one configured.
      for (const alg of config.algorithms.filter((a) => a !== "HS256")) {
        try {
          pemKeys.push({ alg, key: await importSPKI(pem, alg) });
        } catch {
          // not a key of this algorithm
        }
      }
      if (!pemKeys.length) throw new Error(`auth.jwt.publicKeyFiles: ${file} is not an RS256 or Ed25519 public key (SPKI PEM)`);
    }
    const jwks = config.jwksFile ? createLocalJWKSet(JSON.parse(readFileSync(resolvePath(config.jwksFile), "utf8"))) : undefined;
    return new JwtVerifier(config, secret, pemKeys, jwks);
  }

  /** The identity a valid token names, or undefined for any invalid one. */
  async verify(token: string): Promise<{ identity?: Identity; reason?: string }> {
    const now = Date.now();
    const hit = this.cache.get(token);
    if (hit && hit.until > now) return { identity: hit.identity };
    const result = await this.verifyUncached(token);
    if (result.identity) {
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      const exp = (result.exp ?? 0) * 1000 + this.config.clockToleranceSeconds * 1000;
      this.cache.set(token, { identity: result.identity, until: Math.min(exp, now + CACHE_MS) });
    }
    return result;
  }

  private async verifyUncached(token: string): Promise<{ identity?: Identity; reason?: string; exp?: number }> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return { reason: "malformed token" };
    }
    if (!alg || !(this.config.algorithms as string[]).includes(alg)) return { reason: `algorithm ${alg} not accepted` };
    const options = {
      algorithms: [alg],
      issuer: this.config.issuer,
      audience: this.config.audience,
      clockTolerance: this.config.clockToleranceSeconds,
      requiredClaims: ["exp"],
    };
    const candidates: (Key | ReturnType<typeof createLocalJWKSet>)[] =
      alg === "HS256" ? (this.secret ? [this.secret] : []) : [...this.pemKeys.filter((k) => k.alg === alg).map((k) => k.key), ...(this.jwks ? [this.jwks] : [])];
    let reason = "no key for this algorithm";
    for (const key of candidates) {
      try {
        const { payload } = await jwtVerify(token, key as any, options);
        return this.identityOf(payload);
      } catch (err) {
        reason = (err as { code?: string }).code ?? "invalid";
      }
    }
    return { reason };
  }

  private identityOf(payload: JWTPayload): { identity?: Identity; reason?: string; exp?: number } {
    if (typeof payload.sub !== "string" || !payload.sub) return { reason: "no sub claim" };
    let claim: unknown = payload;
    for (const part of this.config.rolesClaim.split(".")) claim = (claim as Record<string, unknown> | undefined)?.[part];
    const roles = Array.isArray(claim) ? claim.filter((r): r is string => typeof r === "string") : typeof claim === "string" ? claim.split(" ").filter(Boolean) : [];
    return { identity: { id: `jwt:${payload.sub}`, roles }, exp: payload.exp };
  }
}
