/** Signed artifacts: trusted keys, required signatures, verification, tamper detection, size limits. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateSigningKey, sha256Digest, signDigest, verifyDigest } from "../../src/runtime/signing";
import type { TestProcess } from "../harness/deployment";
import { fixture, http, largeModel, push, startRegistry, variant } from "./helpers";

const trusted = generateSigningKey();
const stranger = generateSigningKey();
const sign = (bytes: Uint8Array, key = trusted) => ({ publicKey: key.publicKey, value: signDigest(sha256Digest(bytes), key.privateKey) });

describe("signing helpers", () => {
  test("a signature verifies only for its digest and key", () => {
    const d = sha256Digest(new Uint8Array([1, 2, 3]));
    const s = signDigest(d, trusted.privateKey);
    expect(verifyDigest(d, s, trusted.publicKey)).toBe(true);
    expect(verifyDigest(sha256Digest(new Uint8Array([1, 2, 4])), s, trusted.publicKey)).toBe(false);
    expect(verifyDigest(d, s, stranger.publicKey)).toBe(false);
    expect(verifyDigest(d, "garbage", trusted.publicKey)).toBe(false);
    expect(verifyDigest("sha256:nothex", s, trusted.publicKey)).toBe(false);
  });
});

describe("signatures required", () => {
  let p: TestProcess;
  beforeAll(async () => {
    p = await startRegistry({
      maxArtifactBytes: 200_000,
      signatures: { required: true, trustedKeys: [{ name: "ci", publicKey: trusted.publicKey }] },
    });
  });
  afterAll(() => p.close());

  test("a push signed by a trusted key is stored with its signature and verifies", async () => {
    const bytes = fixture("test_xgb");
    const r = await push(p.url!, "signed", bytes, { signature: sign(bytes) });
    expect(r.status).toBe(201);
    expect(r.body.version.signature).toMatchObject({ algorithm: "ed25519", keyId: trusted.keyId, publicKey: trusted.publicKey });
    const v = await http(p.url!, "POST", `/v1/registry/models/signed/versions/${r.body.version.version}/verify`);
    expect(v.body).toMatchObject({ ok: true, digestMatches: true, signature: "valid", problems: [] });
  });

  test("unsigned, untrusted key, or a signature of other bytes → refused", async () => {
    const bytes = variant(fixture("test_xgb"), "s2");
    const unsigned = await push(p.url!, "signed", bytes);
    expect(unsigned.status).toBe(403);
    expect(unsigned.body.error).toContain("signature is required");
    const untrusted = await push(p.url!, "signed", bytes, { signature: sign(bytes, stranger) });
    expect(untrusted.status).toBe(403);
    expect(untrusted.body.error).toContain(`key ${stranger.keyId}, which is not trusted`);
    const wrong = await push(p.url!, "signed", bytes, { signature: sign(fixture("treecl")) });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toContain("not a valid ed25519 signature");
    const badKey = await push(p.url!, "signed", bytes, { signature: { publicKey: "abc", value: "x" } });
    expect(badKey.status).toBe(400);
  });

  test("a tampered blob is detected by verify", async () => {
    const bytes = variant(fixture("test_xgb"), "tamper");
    const r = await push(p.url!, "tamper", bytes, { signature: sign(bytes) });
    const digest: string = r.body.version.digest;
    const hex = digest.slice(7);
    const blob = join(p.dataDir, "registry", "blobs", "sha256", hex.slice(0, 2), hex);
    const evil = new Uint8Array(bytes);
    evil[evil.length - 1] ^= 0xff;
    writeFileSync(blob, evil);
    const v = await http(p.url!, "POST", `/v1/registry/models/tamper/versions/${r.body.version.version}/verify`);
    expect(v.status).toBe(200);
    expect(v.body.ok).toBe(false);
    expect(v.body.digestMatches).toBe(false);
    expect(v.body.actualDigest).toBe(sha256Digest(evil));
    expect(v.body.problems[0]).toContain("it was modified");

    // Pushing the genuine bytes again (to another model) replaces the modified blob instead of sharing it.
    const again = await push(p.url!, "tamper-copy", bytes, { signature: sign(bytes) });
    expect(again.status).toBe(201);
    const healed = await http(p.url!, "POST", `/v1/registry/models/tamper/versions/${r.body.version.version}/verify`);
    expect(healed.body).toMatchObject({ ok: true, digestMatches: true });
  });

  test("oversized upload → 413 naming the limit; nothing stored", async () => {
    const big = largeModel(300_000);
    const r = await push(p.url!, "huge", big, { signature: sign(big) });
    expect(r.status).toBe(413);
    expect(r.body.error).toContain("modules.registry.maxArtifactBytes");
    expect((await http(p.url!, "GET", "/v1/registry/models/huge")).status).toBe(404);
    const root = join(p.dataDir, "registry", "blobs", "sha256");
    const blobs = readdirSync(root).flatMap((prefix) => readdirSync(join(root, prefix)));
    expect(blobs.length).toBe(2); // the two distinct signed artifacts above, nothing of the refused one
  });

  test("policy reports the trusted keys for loaders", async () => {
    const r = await http(p.url!, "GET", "/v1/registry/policy");
    expect(r.body.signatures).toEqual({ required: true, trustedKeys: [{ keyId: trusted.keyId, publicKey: trusted.publicKey, name: "ci" }] });
  });
});
