/**
 * The registry's data shapes (TypeBox), shared by its contract, its handlers and its callers. Part of the public
 * contract: other modules see these through `contract.ts`.
 */
import { type Static, Type as T } from "@sinclair/typebox";

const strict = { additionalProperties: false } as const;

/** Model names: usable in a URL path and a file name, and distinct from version numbers. */
export const ModelName = T.String({
  pattern: "^[A-Za-z][A-Za-z0-9._-]{0,127}$",
  description: "Model name: a letter, then letters, digits, `.`, `_` or `-` (at most 128 characters).",
});
/** Alias names start with a letter, so a ref is unambiguous: digits are a version, anything else an alias. */
export const AliasName = T.String({
  pattern: "^[A-Za-z][A-Za-z0-9_-]{0,63}$",
  description: "Alias name: a letter, then letters, digits, `_` or `-` (at most 64 characters), e.g. `champion`.",
});
export const VersionNumber = T.Integer({ minimum: 1, description: "Version number: 1, 2, 3… per model." });
export const Digest = T.String({ pattern: "^sha256:[0-9a-f]{64}$", description: "`sha256:<hex>` of the artifact." });
export const Ref = T.String({
  pattern: "^([1-9][0-9]{0,9}|[A-Za-z][A-Za-z0-9_-]{0,63})$",
  description: "A version number (`3`) or an alias name (`champion`).",
});
const Reason = T.String({ maxLength: 2000, description: "Why: kept in the alias history / approval record." });

/**
 * Who acts. With authentication (another module) the caller's verified identity is used and this is ignored; before
 * it exists, callers state it here (REST: `x-cleave-actor` / `x-cleave-roles` headers).
 */
export const Actor = T.Object(
  { id: T.String({ minLength: 1, maxLength: 200 }), roles: T.Array(T.String({ maxLength: 100 }), { maxItems: 50, default: [] }) },
  strict,
);
export type Actor = Static<typeof Actor>;

export const TensorSpec = T.Object({
  name: T.String(),
  kind: T.Union([T.Literal("tensor"), T.Literal("other")], { description: "`other`: sequence/map/optional values." }),
  dtype: T.Union([T.String(), T.Null()], { description: "Element type (`float32`, `int64`…) of a tensor." }),
  shape: T.Union([T.Array(T.Union([T.Integer(), T.String(), T.Null()])), T.Null()], {
    description: "Dimensions: a number, a symbolic name, or null when unknown; null when the rank is unknown.",
  }),
  type: T.String({ description: "The full type, e.g. `tensor(float32)` or `seq(map(int64,tensor(float32)))`." }),
});
export type TensorSpec = Static<typeof TensorSpec>;

export const TensorSignature = T.Object({
  irVersion: T.Integer(),
  producer: T.String(),
  opsets: T.Array(T.Object({ domain: T.String(), version: T.Integer() })),
  inputs: T.Array(TensorSpec),
  outputs: T.Array(TensorSpec),
});
export type TensorSignature = Static<typeof TensorSignature>;

/** A named column of a tabular model and where it goes: `tensor[…, index]` (index omitted: a tensor of its own). */
export const Column = T.Object(
  {
    name: T.String({ minLength: 1, maxLength: 200 }),
    tensor: T.String({ minLength: 1, description: "Name of a graph input." }),
    index: T.Optional(T.Integer({ minimum: 0, description: "Position along the tensor's last dimension." })),
  },
  strict,
);
export type Column = Static<typeof Column>;

export const Lineage = T.Object(
  {
    dataRef: T.Optional(T.String({ maxLength: 2000, description: "Training data reference (URI, table, snapshot)." })),
    dataHash: T.Optional(T.String({ maxLength: 200, description: "Hash of that data, e.g. `sha256:…`." })),
    codeVersion: T.Optional(T.String({ maxLength: 200, description: "Commit or build of the training code." })),
    params: T.Optional(T.Record(T.String(), T.Union([T.String(), T.Number(), T.Boolean(), T.Null()]))),
  },
  strict,
);

/** One feature's distribution in the training data: what monitoring compares live traffic against. */
export const FeatureSummary = T.Object(
  {
    type: T.Union([T.Literal("numeric"), T.Literal("categorical")]),
    count: T.Integer({ minimum: 0 }),
    nullFraction: T.Optional(T.Number({ minimum: 0, maximum: 1 })),
    mean: T.Optional(T.Number()),
    std: T.Optional(T.Number({ minimum: 0 })),
    min: T.Optional(T.Number()),
    max: T.Optional(T.Number()),
    quantiles: T.Optional(T.Record(T.String(), T.Number(), { description: "e.g. {\"0.5\": 12.3, \"0.99\": 80}" })),
    histogram: T.Optional(
      T.Object({ edges: T.Array(T.Number(), { minItems: 2 }), counts: T.Array(T.Integer({ minimum: 0 })) }, strict),
    ),
    categories: T.Optional(T.Record(T.String(), T.Number({ minimum: 0 }), { description: "Category → frequency." })),
  },
  strict,
);
export const Baseline = T.Record(T.String(), FeatureSummary, { description: "Feature name → summary." });

export const Metadata = {
  metrics: T.Optional(T.Record(T.String(), T.Number(), { description: "e.g. {\"auc\": 0.91}" })),
  tags: T.Optional(T.Record(T.String(), T.String({ maxLength: 1000 }))),
  lineage: T.Optional(Lineage),
  baseline: T.Optional(Baseline),
  columns: T.Optional(T.Array(Column, { maxItems: 10_000 })),
  description: T.Optional(T.String({ maxLength: 10_000 })),
};

export const ArtifactSignature = T.Object({
  algorithm: T.Literal("ed25519"),
  keyId: T.String({ description: "First 16 hex of sha256 of the public key." }),
  publicKey: T.String({ description: "base64 of the raw 32-byte ed25519 public key." }),
  value: T.String({ description: "base64 signature of the UTF-8 digest text `sha256:<hex>`." }),
});

export const VersionRecord = T.Object({
  name: T.String(),
  version: T.Integer(),
  digest: T.String(),
  size: T.Integer(),
  createdAt: T.String({ description: "ISO 8601 UTC." }),
  createdBy: T.String(),
  approved: T.Boolean(),
  approvedBy: T.Union([T.String(), T.Null()]),
  approvedAt: T.Union([T.String(), T.Null()]),
  signature: T.Union([ArtifactSignature, T.Null()]),
  tensors: TensorSignature,
  columns: T.Array(Column),
  aliases: T.Array(T.String(), { description: "Aliases pointing at this version now." }),
  metrics: T.Record(T.String(), T.Number()),
  tags: T.Record(T.String(), T.String()),
  lineage: Lineage,
  baseline: T.Union([Baseline, T.Null()]),
  description: T.String(),
});
export type VersionRecord = Static<typeof VersionRecord>;

export const AliasMove = T.Object({
  id: T.Integer(),
  model: T.String(),
  alias: T.String(),
  action: T.Union([T.Literal("set"), T.Literal("delete"), T.Literal("rollback")]),
  fromVersion: T.Union([T.Integer(), T.Null()]),
  toVersion: T.Union([T.Integer(), T.Null()], { description: "null: the alias was removed." }),
  actor: T.String(),
  reason: T.String(),
  at: T.String(),
});
export type AliasMove = Static<typeof AliasMove>;

export const ModelSummary = T.Object({
  name: T.String(),
  createdAt: T.String(),
  latestVersion: T.Integer(),
  versions: T.Integer(),
  aliases: T.Record(T.String(), T.Integer(), { description: "Alias → version." }),
});
export type ModelSummary = Static<typeof ModelSummary>;

export const VerifyResult = T.Object({
  name: T.String(),
  version: T.Integer(),
  ok: T.Boolean({ description: "Digest matches and the signature is valid (or not required and absent)." }),
  digest: T.String({ description: "Recorded digest." }),
  actualDigest: T.Union([T.String(), T.Null()], { description: "sha256 of the stored blob now (null: blob missing)." }),
  digestMatches: T.Boolean(),
  signature: T.Union([T.Literal("valid"), T.Literal("invalid"), T.Literal("untrusted"), T.Literal("missing")]),
  problems: T.Array(T.String()),
});
