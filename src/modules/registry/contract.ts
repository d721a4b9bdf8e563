/**
 * The registry module's public contract: the only part of it other modules and the gateway may import.
 * Inference follows `alias.moved` / `version.created`, calls `resolve` to learn what a ref points at, pulls the bytes
 * with `downloadArtifact` (chunked `fetchArtifact` calls, digest-checked) and verifies the signature with
 * `src/runtime/signing.ts` before it loads. See docs/registry.md.
 */
import { createHash } from "node:crypto";
import { Type as T } from "@sinclair/typebox";
import type { Bus } from "../../runtime/bus/bus";
import { defineContract } from "../../runtime/contract";
import { CleaveError } from "../../runtime/errors";
import { pingOperation, pingRoute } from "../../runtime/ping";
import { registryRoutes } from "./routes";
import {
  Actor, AliasMove, AliasName, Digest, Metadata, ModelName, ModelSummary, Ref, VerifyResult, VersionNumber, VersionRecord,
} from "./schemas";

export * from "./schemas";

const strict = { additionalProperties: false } as const;
const MiB = 1024 * 1024;
const actor = T.Optional(Actor);
const reason = T.Optional(T.String({ maxLength: 2000 }));

export const UploadId = T.String({ pattern: "^[A-Za-z0-9_-]{8,64}$", description: "Client-chosen id of an upload (e.g. a UUID)." });

export const RegistryConfig = T.Object(
  {
    maxArtifactBytes: T.Integer({ minimum: 1, default: 64 * MiB, description: "Largest artifact accepted (larger: 413)." }),
    fetchChunkBytes: T.Integer({
      minimum: 4096,
      maximum: 64 * MiB,
      default: 768 * 1024,
      description: "Largest chunk `fetchArtifact` returns per call; keep under the NATS max_payload (1 MB by default).",
    }),
    uploadTtlSeconds: T.Integer({ minimum: 60, default: 86_400, description: "Unfinished chunked uploads older than this are removed at start." }),
    approval: T.Object(
      {
        aliases: T.Array(AliasName, { default: ["champion"], description: "Aliases that only an approved version may take." }),
        approverRoles: T.Array(T.String(), { default: ["approver"], description: "Roles allowed to approve a version." }),
        allowSelfApproval: T.Boolean({ default: true, description: "false: the creator of a version cannot approve it (four eyes)." }),
      },
      { ...strict, default: {} },
    ),
    signatures: T.Object(
      {
        required: T.Boolean({ default: false, description: "Refuse pushes without a valid signature by a trusted key." }),
        trustedKeys: T.Array(
          T.Object(
            {
              name: T.Optional(T.String({ description: "Who holds the key (for people; not checked)." })),
              publicKey: T.String({ pattern: "^[A-Za-z0-9+/]{43}=$", description: "base64 raw ed25519 public key (`cleave models keygen`)." }),
            },
            strict,
          ),
          { default: [], description: "Public keys whose signatures are accepted." },
        ),
      },
      { ...strict, default: {} },
    ),
  },
  strict,
);

const model = ModelName;

export const registryContract = defineContract({
  name: "registry",
  description: "Model versions, artifacts, aliases, approvals, signatures and rollback.",
  operations: {
    ping: pingOperation,
    upload: {
      input: T.Object({ upload: UploadId, offset: T.Integer({ minimum: 0 }), bytes: T.Uint8Array() }, strict),
      output: T.Object({ upload: T.String(), received: T.Integer() }),
      summary: "Appends a chunk to an upload (for artifacts larger than one bus message); push it with `upload`",
    },
    push: {
      input: T.Object(
        {
          model,
          bytes: T.Optional(T.Uint8Array({ description: "The ONNX file, in one piece." })),
          upload: T.Optional(UploadId),
          signature: T.Optional(
            T.Object({ publicKey: T.String(), value: T.String() }, { ...strict, description: "ed25519 signature of the digest." }),
          ),
          actor,
          ...Metadata,
        },
        strict,
      ),
      output: T.Object({ created: T.Boolean({ description: "false: these bytes were already a version of the model." }), version: VersionRecord }),
      summary: "Registers a new version of a model from an ONNX file (the same bytes again answer with the existing version)",
    },
    listModels: {
      input: T.Object({}, strict),
      output: T.Object({ models: T.Array(ModelSummary) }),
      summary: "Lists registered models with their aliases",
    },
    getModel: {
      input: T.Object({ model }, strict),
      output: T.Object({ model: ModelSummary, versions: T.Array(VersionRecord) }),
      summary: "A model with all its versions",
    },
    resolve: {
      input: T.Object({ model, ref: Ref }, strict),
      output: VersionRecord,
      summary: "The version a ref (version number or alias) points at",
    },
    fetchArtifact: {
      input: T.Object(
        { digest: Digest, offset: T.Optional(T.Integer({ minimum: 0 })), length: T.Optional(T.Integer({ minimum: 1 })) },
        strict,
      ),
      output: T.Object({ digest: T.String(), size: T.Integer(), offset: T.Integer(), bytes: T.Uint8Array() }),
      summary:
        "An artifact's bytes: the whole artifact when no offset is given (413 if larger than fetchChunkBytes), else " +
        "the chunk at offset (at most fetchChunkBytes); downloadArtifact() fetches any size in chunks",
    },
    approve: {
      input: T.Object({ model, version: VersionNumber, reason, actor }, strict),
      output: VersionRecord,
      summary: "Approves a version (needs an approver role), so it may take aliases the approval policy guards",
    },
    setAlias: {
      input: T.Object({ model, alias: AliasName, version: VersionNumber, reason, actor }, strict),
      output: AliasMove,
      summary: "Points an alias (e.g. champion) at a version: a promotion, recorded in the alias history",
    },
    deleteAlias: {
      input: T.Object({ model, alias: AliasName, reason, actor }, strict),
      output: AliasMove,
      summary: "Removes an alias, recorded in the alias history",
    },
    rollbackAlias: {
      input: T.Object({ model, alias: AliasName, reason, actor }, strict),
      output: AliasMove,
      summary: "Undoes the alias's last move: points it back at the version it pointed at before",
    },
    aliasHistory: {
      input: T.Object({ model, alias: AliasName, limit: T.Optional(T.Integer({ minimum: 1, maximum: 10_000 })) }, strict),
      output: T.Object({ history: T.Array(AliasMove, { description: "Newest first." }) }),
      summary: "Every move of an alias: who, when, why, from which version to which",
    },
    verify: {
      input: T.Object({ model, version: VersionNumber }, strict),
      output: VerifyResult,
      summary: "Recomputes the stored artifact's sha256 and checks its signature against the trusted keys",
    },
    policy: {
      input: T.Object({}, strict),
      output: T.Object({
        approval: T.Object({ aliases: T.Array(T.String()), approverRoles: T.Array(T.String()), allowSelfApproval: T.Boolean() }),
        signatures: T.Object({
          required: T.Boolean(),
          trustedKeys: T.Array(T.Object({ keyId: T.String(), publicKey: T.String(), name: T.Optional(T.String()) })),
        }),
        maxArtifactBytes: T.Integer(),
        fetchChunkBytes: T.Integer(),
      }),
      summary: "The registry's approval and signature policy (what a loader must enforce)",
    },
  },
  events: {
    "version.created": T.Object({
      model: T.String(), version: T.Integer(), digest: T.String(), size: T.Integer(), signed: T.Boolean(), actor: T.String(), at: T.String(),
    }),
    "version.approved": T.Object({
      model: T.String(), version: T.Integer(), digest: T.String(), actor: T.String(), reason: T.String(), at: T.String(),
    }),
    "alias.moved": T.Object({
      model: T.String(),
      alias: T.String(),
      version: T.Union([T.Integer(), T.Null()], { description: "null: the alias was removed." }),
      previousVersion: T.Union([T.Integer(), T.Null()]),
      digest: T.Union([T.String(), T.Null()], { description: "Digest of `version`'s artifact." }),
      action: T.Union([T.Literal("set"), T.Literal("delete"), T.Literal("rollback")]),
      actor: T.String(),
      reason: T.String(),
      at: T.String(),
      historyId: T.Integer({ description: "Id of the alias-history entry; events of one alias come in this order." }),
    }),
  },
  routes: [pingRoute("registry"), ...registryRoutes],
  config: RegistryConfig,
});

/**
 * Downloads a whole artifact over the bus in chunks (each one bus message, so any placement carries it) and checks
 * that the bytes hash to `digest`. Throws CONFLICT on a mismatch: the caller must not load those bytes.
 */
export async function downloadArtifact(bus: Bus, digest: string, opts: { timeoutMs?: number } = {}): Promise<Uint8Array> {
  const first = await bus.call(registryContract, "fetchArtifact", { digest, offset: 0 }, opts);
  const out = new Uint8Array(first.size);
  out.set(first.bytes, 0);
  let offset = first.bytes.byteLength;
  while (offset < first.size) {
    const chunk = await bus.call(registryContract, "fetchArtifact", { digest, offset }, opts);
    if (!chunk.bytes.byteLength) break;
    out.set(chunk.bytes, offset);
    offset += chunk.bytes.byteLength;
  }
  const actual = `sha256:${createHash("sha256").update(out).digest("hex")}`;
  if (offset !== first.size || actual !== digest) {
    throw new CleaveError("CONFLICT", `artifact ${digest} arrived corrupted (got ${offset} bytes hashing to ${actual})`, {
      digest,
      actualDigest: actual,
    });
  }
  return out;
}
