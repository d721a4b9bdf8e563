/**
 * Credentials for security tests: a real key store in the deployment's data dir, real HS256/RS256/EdDSA keys
 * (jose), a JWKS file, and tokens — valid, expired, forged — signed with them.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { ApiKeyStore, keyStorePath } from "../../src/runtime/security/api-keys";

export const ISSUER = "https://idp.test";
export const AUDIENCE = "cleave-test";
export const SECRET = "an-hs256-shared-secret-of-at-least-32-bytes!";

export interface Credentials {
  dir: string;
  rsa: CryptoKeyPair;
  ed: CryptoKeyPair;
  /** A key pair the deployment does not trust. */
  stranger: CryptoKeyPair;
  /** `auth.jwt` section using all three algorithms (RS256 from a PEM file, EdDSA from a JWKS file). */
  jwtConfig: Record<string, unknown>;
}

export async function makeCredentials(): Promise<Credentials> {
  const dir = mkdtempSync(join(tmpdir(), "cleave-creds-"));
  const rsa = await generateKeyPair("RS256", { extractable: true });
  const ed = await generateKeyPair("EdDSA", { extractable: true });
  const stranger = await generateKeyPair("RS256", { extractable: true });
  writeFileSync(join(dir, "rsa.pub.pem"), await exportSPKI(rsa.publicKey));
  const edJwk = { ...(await exportJWK(ed.publicKey)), kid: "ed-1", alg: "EdDSA", use: "sig" };
  writeFileSync(join(dir, "jwks.json"), JSON.stringify({ keys: [edJwk] }));
  return {
    dir,
    rsa,
    ed,
    stranger,
    jwtConfig: {
      secret: SECRET,
      publicKeyFiles: [join(dir, "rsa.pub.pem")],
      jwksFile: join(dir, "jwks.json"),
      issuer: ISSUER,
      audience: AUDIENCE,
      rolesClaim: "realm.roles",
    },
  };
}

export interface TokenOptions {
  alg: "HS256" | "RS256" | "EdDSA";
  sub: string;
  roles: string[];
  /** Seconds from now; negative: already expired. */
  expiresIn?: number;
  key?: CryptoKey | Uint8Array;
  issuer?: string;
  audience?: string;
}

export async function token(creds: Credentials, o: TokenOptions): Promise<string> {
  const key = o.key ?? (o.alg === "HS256" ? new TextEncoder().encode(SECRET) : o.alg === "RS256" ? creds.rsa.privateKey : creds.ed.privateKey);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ realm: { roles: o.roles } })
    .setProtectedHeader({ alg: o.alg, ...(o.alg === "EdDSA" ? { kid: "ed-1" } : {}) })
    .setSubject(o.sub)
    .setIssuer(o.issuer ?? ISSUER)
    .setAudience(o.audience ?? AUDIENCE)
    .setIssuedAt(now - 10)
    .setExpirationTime(now + (o.expiresIn ?? 300))
    .sign(key);
}

/** Creates API keys in the deployment's key store (as `cleave auth keys create` does); returns name → key. */
export function seedKeys(dataDir: string, keys: Record<string, string[]>): Record<string, string> {
  const store = new ApiKeyStore(keyStorePath(dataDir));
  try {
    return Object.fromEntries(Object.entries(keys).map(([name, roles]) => [name, store.create(name, roles).key]));
  } finally {
    store.close();
  }
}

export const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

/** Every built-in module with default settings: the deployment the route table runs against. */
export const ALL_MODULES = { ingestion: {}, feature: {}, inference: {}, decision: {}, registry: {}, monitoring: {} };
