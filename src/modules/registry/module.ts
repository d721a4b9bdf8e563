/** The registry module's implementation, started by the runtime in whichever process the config places it. */
import { join } from "node:path";
import type { Static } from "@sinclair/typebox";
import { defineModule } from "../../runtime/contract";
import { CleaveError, invalidArgument, notFound } from "../../runtime/errors";
import { ping } from "../../runtime/ping";
import { sha256Digest, verifyDigest } from "../../runtime/signing";
import { BlobStore } from "./blobs";
import { RegistryConfig, registryContract } from "./contract";
import { readTensorSignature } from "./onnx-graph";
import { Outbox } from "./outbox";
import { RegistryPolicy } from "./policy";
import type { AliasMove, Column, TensorSignature, VersionRecord } from "./schemas";
import { conflict, RegistryStore } from "./store";
import { Uploads } from "./uploads";

/** Every column must name a graph input, and an index must fit that input's last dimension when it is known. */
function checkColumns(columns: Column[], tensors: TensorSignature) {
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c.name)) throw invalidArgument(`columns: "${c.name}" appears twice`);
    seen.add(c.name);
    const input = tensors.inputs.find((i) => i.name === c.tensor);
    if (!input) {
      throw invalidArgument(`columns: "${c.name}" maps to tensor "${c.tensor}", which is not an input of the graph (inputs: ${tensors.inputs.map((i) => i.name).join(", ")})`);
    }
    const last = input.shape?.[input.shape.length - 1];
    if (c.index !== undefined && typeof last === "number" && c.index >= last) {
      throw invalidArgument(`columns: "${c.name}" index ${c.index} is outside "${c.tensor}" whose last dimension is ${last}`);
    }
  }
}

export default defineModule(registryContract, (ctx) => {
  // The contract type keeps `config` as a plain TSchema, so its static type is restored here.
  const config = ctx.config as Static<typeof RegistryConfig>;
  const { dataDir, bus, log } = ctx;
  const store = new RegistryStore(join(dataDir, "registry.db"));
  const blobs = new BlobStore(join(dataDir, "blobs"));
  const uploads = new Uploads(join(dataDir, "uploads"), config.maxArtifactBytes);
  const policy = new RegistryPolicy(config);
  const swept = store.withReferencedDigests((referenced) => blobs.sweep(referenced));
  const expired = uploads.sweep(config.uploadTtlSeconds);
  if (swept.temps || swept.orphans || expired) log.info({ ...swept, expiredUploads: expired }, "removed leftovers of interrupted uploads");

  const outbox = new Outbox(store.db, bus, log);
  // Events left by a crash or an unreachable bus go out now.
  void outbox.flush();

  /** Records an alias move and its event in one transaction. */
  const move = (run: () => AliasMove): AliasMove => {
    const m = store.atomically(() => {
      const done = run();
      outbox.enqueue("alias.moved", {
        model: done.model,
        alias: done.alias,
        version: done.toVersion,
        previousVersion: done.fromVersion,
        digest: done.toVersion === null ? null : store.version(done.model, done.toVersion).digest,
        action: done.action,
        actor: done.actor,
        reason: done.reason,
        at: done.at,
        historyId: done.id,
      });
      return done;
    });
    // Not awaited: a slow or unreachable bus must not fail a committed change; the outbox retries.
    void outbox.flush();
    return m;
  };

  const targetFor = (model: string, alias: string, version: number): number => {
    const record = store.version(model, version);
    policy.checkAliasTarget(alias, record);
    return version;
  };

  return {
    handlers: {
      ping: ping("registry"),

      upload: (input) => ({ upload: input.upload, received: uploads.append(input.upload, input.offset, input.bytes) }),

      push: (input, ctx) => {
        const actor = policy.actor(input.actor, ctx);
        if ((input.bytes === undefined) === (input.upload === undefined)) {
          throw invalidArgument("push needs exactly one of `bytes` (the ONNX file) or `upload` (the id of a chunked upload)");
        }
        const bytes = input.bytes ?? uploads.read(input.upload!);
        if (bytes.byteLength === 0) throw invalidArgument("the upload is empty: send the ONNX file as the body");
        if (bytes.byteLength > config.maxArtifactBytes) {
          throw new CleaveError("PAYLOAD_TOO_LARGE", `the artifact is ${bytes.byteLength} bytes; the limit is ${config.maxArtifactBytes} (modules.registry.maxArtifactBytes)`, {
            size: bytes.byteLength,
            limit: config.maxArtifactBytes,
          });
        }
        const tensors = readTensorSignature(bytes);
        const columns = input.columns ?? [];
        checkColumns(columns, tensors);
        const digest = sha256Digest(bytes);
        const signature = policy.checkPushSignature(digest, input.signature);
        // Blob first (temp, fsync, rename), then the row, in one transaction: a crash between them leaves an
        // unreferenced blob, removed at the next start, never a version without its bytes.
        const { record, created } = store.atomically(() => {
          const added = store.addVersion(input.model, {
            digest,
            size: bytes.byteLength,
            createdBy: actor.id,
            signature,
            tensors,
            columns,
            metrics: input.metrics ?? {},
            tags: input.tags ?? {},
            lineage: input.lineage ?? {},
            baseline: input.baseline ?? null,
            description: input.description ?? "",
          }, () => blobs.put(digest, bytes));
          const r = added.record;
          if (added.created) {
            outbox.enqueue("version.created", {
              model: r.name, version: r.version, digest, size: r.size, signed: !!signature, actor: actor.id, at: r.createdAt,
            });
          }
          return added;
        });
        if (input.upload) uploads.remove(input.upload);
        if (created) {
          log.info({ model: input.model, version: record.version, digest, actor: actor.id }, "version created");
          void outbox.flush();
        }
        return { created, version: record };
      },

      listModels: () => ({ models: store.listModels() }),

      getModel: (input) => ({ model: store.model(input.model), versions: store.versions(input.model) }),

      resolve: (input) => store.resolve(input.model, input.ref),

      fetchArtifact: (input) => {
        if (!blobs.has(input.digest)) throw notFound(`no artifact with digest ${input.digest}`, { digest: input.digest });
        const size = blobs.size(input.digest);
        if (input.offset === undefined && size > config.fetchChunkBytes) {
          // Without an offset the caller expects the whole artifact: never hand it a silently truncated one.
          throw new CleaveError("PAYLOAD_TOO_LARGE", `artifact ${input.digest} is ${size} bytes, more than one fetch (${config.fetchChunkBytes}, modules.registry.fetchChunkBytes): fetch it in chunks with offset, or use downloadArtifact()`, {
            size,
            chunk: config.fetchChunkBytes,
          });
        }
        const offset = input.offset ?? 0;
        if (offset > size) throw invalidArgument(`offset ${offset} is past the end of the artifact (${size} bytes)`);
        const length = Math.min(input.length ?? config.fetchChunkBytes, config.fetchChunkBytes);
        return { digest: input.digest, size, offset, bytes: blobs.readRange(input.digest, offset, length) };
      },

      approve: (input, ctx) => {
        const actor = policy.actor(input.actor, ctx);
        policy.checkApprover(actor, store.version(input.model, input.version));
        const reason = input.reason ?? "";
        const { record, changed } = store.atomically(() => {
          const approved = store.approve(input.model, input.version, actor.id, reason);
          const r = approved.record;
          if (approved.changed) {
            outbox.enqueue("version.approved", { model: r.name, version: r.version, digest: r.digest, actor: actor.id, reason, at: r.approvedAt! });
          }
          return approved;
        });
        if (changed) {
          log.info({ model: input.model, version: input.version, actor: actor.id }, "version approved");
          void outbox.flush();
        }
        return record;
      },

      setAlias: (input, ctx) => {
        const actor = policy.actor(input.actor, ctx);
        return move(() =>
          store.moveAlias(input.model, input.alias, "set", actor.id, input.reason ?? "", () => targetFor(input.model, input.alias, input.version)),
        );
      },

      deleteAlias: (input, ctx) => {
        const actor = policy.actor(input.actor, ctx);
        return move(() =>
          store.moveAlias(input.model, input.alias, "delete", actor.id, input.reason ?? "", (current) => {
            if (current === null) throw notFound(`model "${input.model}" has no alias "${input.alias}"`, { model: input.model, alias: input.alias });
            return null;
          }),
        );
      },

      rollbackAlias: (input, ctx) => {
        const actor = policy.actor(input.actor, ctx);
        return move(() =>
          store.moveAlias(input.model, input.alias, "rollback", actor.id, input.reason ?? "", () => {
            const last = store.lastMove(input.model, input.alias);
            if (!last) throw notFound(`model "${input.model}" has no alias "${input.alias}" and never had one`, { model: input.model, alias: input.alias });
            if (last.fromVersion === null) {
              throw conflict(`alias "${input.alias}" pointed at no version before its last move; there is nothing to roll back to`, {
                model: input.model,
                alias: input.alias,
              });
            }
            return targetFor(input.model, input.alias, last.fromVersion);
          }),
        );
      },

      aliasHistory: (input) => ({ history: store.history(input.model, input.alias, input.limit ?? 100) }),

      verify: (input) => verify(store.version(input.model, input.version)),

      policy: () => policy.describe(),
    },
    health: () => ({ status: "ok" as const, details: { models: store.listModels().length, pendingEvents: outbox.pending() } }),
    stop: async () => {
      await outbox.stop();
      store.close();
    },
  };

  function verify(record: VersionRecord) {
    const problems: string[] = [];
    const actualDigest = blobs.actualDigest(record.digest);
    const digestMatches = actualDigest === record.digest;
    if (actualDigest === null) problems.push(`the artifact blob of ${record.digest} is missing`);
    else if (!digestMatches) problems.push(`the stored artifact hashes to ${actualDigest}, not the recorded ${record.digest}: it was modified`);
    let signature: "valid" | "invalid" | "untrusted" | "missing" = "missing";
    const sig = record.signature;
    if (!sig) {
      if (policy.describe().signatures.required) problems.push("the version is unsigned and signatures are required");
    } else if (!policy.isTrusted(sig.keyId)) {
      signature = "untrusted";
      problems.push(`signing key ${sig.keyId} is no longer trusted`);
    } else {
      signature = verifyDigest(record.digest, sig.value, sig.publicKey) ? "valid" : "invalid";
      if (signature === "invalid") problems.push("the signature does not match the recorded digest");
    }
    return {
      name: record.name,
      version: record.version,
      ok: problems.length === 0,
      digest: record.digest,
      actualDigest,
      digestMatches,
      signature,
      problems,
    };
  }
});
