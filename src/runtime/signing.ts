/**
 * ed25519 signatures of artifact digests. Shared by the registry (which checks a signature when a version is
 * pushed and when it is verified) and by anything that loads an artifact (inference verifies before it loads), so
 * both sides agree byte for byte on what is signed and how keys are written.
 *
 * What is signed: the UTF-8 text of the digest, `sha256:<64 lowercase hex>`. Signing the digest rather than the
 * file lets a signer work on a file of any size and lets a verifier check the signature before it has the bytes.
 *
 * Keys are written as base64 of the raw 32-byte key (the form `ssh`/`minisign`-style tools show), and a key is
 * named by its id: the first 16 hex characters of sha256 of the raw public key.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";

/** DER prefixes that wrap a raw 32-byte ed25519 key as SPKI (public) and PKCS#8 (private). */
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export interface KeyPair {
  /** base64 of the raw 32-byte public key. */
  publicKey: string;
  /** base64 of the raw 32-byte private key (seed). Keep it out of configs and repositories. */
  privateKey: string;
  keyId: string;
}

export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

function rawKey(base64: string, what: string): Buffer {
  const raw = Buffer.from(base64.trim(), "base64");
  if (raw.length !== 32) throw new SigningError(`${what} must be base64 of 32 bytes (an ed25519 key), got ${raw.length} bytes`);
  return raw;
}

export class SigningError extends Error {
  override name = "SigningError";
}

function publicKeyObject(publicKey: string): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, rawKey(publicKey, "public key")]), format: "der", type: "spki" });
}

function privateKeyObject(privateKey: string): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, rawKey(privateKey, "private key")]), format: "der", type: "pkcs8" });
}

export function keyId(publicKey: string): string {
  return createHash("sha256").update(rawKey(publicKey, "public key")).digest("hex").slice(0, 16);
}

export function generateSigningKey(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const pub = publicKey.export({ format: "der", type: "spki" }).subarray(SPKI_PREFIX.length).toString("base64");
  const priv = privateKey.export({ format: "der", type: "pkcs8" }).subarray(PKCS8_PREFIX.length).toString("base64");
  return { publicKey: pub, privateKey: priv, keyId: keyId(pub) };
}

/** The public key of a private key, so a key file needs to hold only the private half. */
export function publicKeyOf(privateKey: string): string {
  const spki = createPublicKey(privateKeyObject(privateKey)).export({ format: "der", type: "spki" });
  return spki.subarray(SPKI_PREFIX.length).toString("base64");
}

/** Signs a digest (`sha256:<hex>`); returns the signature as base64. */
export function signDigest(digest: string, privateKey: string): string {
  if (!DIGEST_PATTERN.test(digest)) throw new SigningError(`not a sha256 digest: "${digest}"`);
  return sign(null, Buffer.from(digest, "utf8"), privateKeyObject(privateKey)).toString("base64");
}

/** True only when `signature` is a valid ed25519 signature of `digest` by `publicKey`; never throws on bad input. */
export function verifyDigest(digest: string, signature: string, publicKey: string): boolean {
  if (!DIGEST_PATTERN.test(digest)) return false;
  try {
    const sig = Buffer.from(signature, "base64");
    if (sig.length !== 64) return false;
    return verify(null, Buffer.from(digest, "utf8"), publicKeyObject(publicKey), sig);
  } catch {
    return false;
  }
}
