/**
 * The registry's rules from config: who acts, who may approve, which aliases need an approved version, which
 * signing keys are trusted. Kept apart from the handlers so every rule is in one place and says which config key
 * sets it.
 */
import type { Static } from "@sinclair/typebox";
import type { CallContext } from "../../runtime/contract";
import { CleaveError, invalidArgument } from "../../runtime/errors";
import { keyId, SigningError, verifyDigest } from "../../runtime/signing";
import type { RegistryConfig } from "./contract";
import type { Actor, VersionRecord } from "./schemas";

type Config = Static<typeof RegistryConfig>;

const denied = (message: string, details?: unknown) => new CleaveError("PERMISSION_DENIED", message, details);

export class RegistryPolicy {
  private readonly trusted: Map<string, { publicKey: string; name?: string }>;

  constructor(private readonly config: Config) {
    this.trusted = new Map(config.signatures.trustedKeys.map((k) => [keyId(k.publicKey), k]));
  }

  /**
   * The verified identity when the call carries one (authentication); otherwise, before authentication exists, the
   * actor the caller states. Nobody stated: "anonymous" with no roles.
   */
  actor(stated: Actor | undefined, ctx: CallContext): Actor {
    return ctx.identity ?? stated ?? { id: "anonymous", roles: [] };
  }

  needsApproval(alias: string): boolean {
    const guarded = this.config.approval.aliases;
    return guarded.includes(alias) || guarded.includes("*");
  }

  checkApprover(actor: Actor, version: VersionRecord) {
    const roles = this.config.approval.approverRoles;
    if (!actor.roles.some((r) => roles.includes(r))) {
      throw denied(`${actor.id} may not approve: approving needs one of the roles ${roles.join(", ")} (modules.registry.approval.approverRoles)`, {
        actor: actor.id,
        required: roles,
      });
    }
    if (!this.config.approval.allowSelfApproval && actor.id === version.createdBy) {
      throw denied(`${actor.id} created ${version.name} version ${version.version} and may not approve it (modules.registry.approval.allowSelfApproval)`);
    }
  }

  checkAliasTarget(alias: string, version: VersionRecord) {
    if (this.needsApproval(alias) && !version.approved) {
      throw denied(
        `${version.name} version ${version.version} is not approved; alias "${alias}" takes only approved versions (modules.registry.approval.aliases)`,
        { model: version.name, version: version.version, alias },
      );
    }
  }

  isTrusted(id: string): boolean {
    return this.trusted.has(id);
  }

  /** Checks a push's signature; returns what to store, or null for an unsigned push the policy allows. */
  checkPushSignature(digest: string, signature: { publicKey: string; value: string } | undefined) {
    if (!signature) {
      if (this.config.signatures.required) {
        throw denied("a signature is required (modules.registry.signatures.required): push with --sign KEYFILE");
      }
      return null;
    }
    let id: string;
    try {
      id = keyId(signature.publicKey);
    } catch (err) {
      if (err instanceof SigningError) throw invalidArgument(`signature.publicKey: ${err.message}`);
      throw err;
    }
    if (!this.trusted.has(id)) {
      throw denied(`the artifact is signed with key ${id}, which is not trusted (modules.registry.signatures.trustedKeys)`, { keyId: id });
    }
    if (!verifyDigest(digest, signature.value, signature.publicKey)) {
      throw invalidArgument(`the signature is not a valid ed25519 signature of ${digest} by key ${id}`, { keyId: id, digest });
    }
    return { keyId: id, publicKey: signature.publicKey, value: signature.value };
  }

  describe() {
    return {
      approval: { ...this.config.approval },
      signatures: {
        required: this.config.signatures.required,
        trustedKeys: [...this.trusted].map(([id, k]) => ({ keyId: id, publicKey: k.publicKey, ...(k.name ? { name: k.name } : {}) })),
      },
      maxArtifactBytes: this.config.maxArtifactBytes,
      fetchChunkBytes: this.config.fetchChunkBytes,
    };
  }
}
