/**
 * Serves models from the registry by alias: resolves each followed `model@alias`, checks the artifact (signature
 * against the trusted keys, bytes against the digest), loads and warms it up, makes it the model's default version,
 * then retires the version it replaced once that one's in-flight requests finish. Follows `registry.alias.moved`
 * so an alias move, a rollback or a delete takes effect without a restart, in every placement.
 *
 * Every replica must react to every move, so the subscription's group is unique to this process (a shared queue
 * group would hand each event to one replica only). Events are not durable; a periodic re-read of the alias
 * (`resyncSeconds`) catches any missed while disconnected, and the alias-history id orders everything: a move is
 * applied only if its history id is newer than the last one applied.
 */
import { randomUUID } from "node:crypto";
import type { Bus } from "../../runtime/bus/bus";
import { CleaveError } from "../../runtime/errors";
import type { Logger } from "../../runtime/log";
import { keyId, verifyDigest } from "../../runtime/signing";
import { downloadArtifact, registryContract, type VersionRecord } from "../registry/contract";
import type { ModelOptions, RegistryFollowConfig } from "./contract";
import type { Repository } from "./repository";

type Follow = RegistryFollowConfig["follow"][number];

/** A version that must not be loaded (tampered, unsigned, untrusted, unservable): retrying will not help. */
class Refused extends Error {
  override name = "Refused";
}

/** Registry errors worth retrying: nobody serves the registry yet, a deadline, a model or alias not there yet. */
const transient = (err: unknown) =>
  err instanceof CleaveError && ["UNAVAILABLE", "DEADLINE_EXCEEDED", "NOT_FOUND", "RESOURCE_EXHAUSTED"].includes(err.code);

interface Serving {
  version: number;
  digest: string;
  signedBy: string | null;
  historyId: number;
}

export interface FollowReport {
  model: string;
  alias: string;
  state: "waiting" | "loading" | "serving";
  version: number | null;
  digest: string | null;
  signedBy: string | null;
  historyId: number | null;
  problem: string | null;
}

class AliasFollower {
  serving: Serving | undefined;
  /** Passing trouble (registry not reachable, alias not set yet): cleared by the next successful read. */
  trouble: string | null = "waiting for the registry";
  /** A refused version or a removed alias: stands until the alias moves again. */
  private refusal: string | null = null;
  loading = false;
  /** Highest alias-history id applied (or refused for good): older or repeated events are ignored. */
  applied = 0;
  lastSync = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly follow: Follow,
    /** Whether this alias decides the model's default version (the first follow of each model does). */
    readonly isDefault: boolean,
    private readonly follower: RegistryFollower,
  ) {}

  get label(): string {
    return `${this.follow.model}@${this.follow.alias}`;
  }

  /** Syncs with the registry; calls for one alias run one after another, never overlapping. */
  sync(): Promise<void> {
    this.chain = this.chain.then(() => (this.follower.stopped ? undefined : this.syncNow())).catch((err) =>
      this.follower.log.error({ err, alias: this.label }, "registry sync failed"),
    );
    return this.chain;
  }

  /** Resolves once the sync under way (if any) is over. */
  idle(): Promise<void> {
    return this.chain;
  }

  private async syncNow(): Promise<void> {
    const { bus, log, timeoutMs } = this.follower;
    const { model, alias } = this.follow;
    this.lastSync = Date.now();
    let latest;
    try {
      [latest] = (await bus.call(registryContract, "aliasHistory", { model, alias, limit: 1 }, { timeoutMs })).history;
    } catch (err) {
      return this.update(`registry not reachable or model unknown: ${(err as Error).message}`, this.refusal);
    }
    if (!latest) return this.update(`alias ${this.label} is not set in the registry`, this.refusal);
    if (latest.id <= this.applied) return this.update(null, this.refusal);
    if (latest.toVersion === null) {
      this.applied = latest.id;
      // Keep serving: removing an alias is not a request to stop inference, and nothing says what should replace it.
      const still = this.serving ? `; still serving version ${this.serving.version}` : "";
      return this.update(null, `alias ${this.label} was removed by ${latest.actor} at ${latest.at}${still}`);
    }
    if (this.serving?.version === latest.toVersion) {
      this.applied = latest.id;
      this.serving.historyId = latest.id;
      return this.update(null, null);
    }
    this.loading = true;
    try {
      await this.install(latest.toVersion, latest.id);
      this.applied = latest.id;
      this.update(null, null);
    } catch (err) {
      const still = this.serving ? `; still serving version ${this.serving.version}` : "";
      if (err instanceof Refused || (err instanceof CleaveError && !transient(err))) {
        this.applied = latest.id;
        log.error({ model, alias, version: latest.toVersion, reason: (err as Error).message }, "registry version refused: not loaded");
        this.update(null, `version ${latest.toVersion} refused: ${(err as Error).message}${still}`);
      } else {
        this.update(`version ${latest.toVersion} not loaded yet: ${(err as Error).message}${still}`, this.refusal);
      }
    } finally {
      this.loading = false;
    }
  }

  private update(trouble: string | null, refusal: string | null): void {
    if (refusal !== null && refusal !== this.refusal) this.follower.log.warn({ model: this.follow.model, alias: this.follow.alias, problem: refusal }, "registry alias");
    this.trouble = trouble;
    this.refusal = refusal;
    this.follower.published(this);
  }

  /** Why this alias is not (fully) as it should be; null when it serves what the registry says. */
  get problem(): string | null {
    return [this.trouble, this.refusal].filter((p) => p !== null).join("; ") || null;
  }

  private async install(version: number, historyId: number): Promise<void> {
    const { bus, repository, timeoutMs, log } = this.follower;
    const { model, alias, ...own } = this.follow;
    const record = await bus.call(registryContract, "resolve", { model, ref: String(version) }, { timeoutMs });
    const signedBy = await this.follower.checkSignature(record);
    const tag = String(version);
    if (!repository.has(model, tag)) {
      let bytes: Uint8Array;
      try {
        bytes = await downloadArtifact(bus, record.digest, { timeoutMs });
      } catch (err) {
        if (err instanceof CleaveError && err.code === "CONFLICT") throw new Refused(`artifact does not match its digest: ${err.message}`);
        throw err;
      }
      // Only keys the follow sets: an undefined one would hide `defaults` when the repository merges them.
      const columns = own.columns ?? columnsOf(record);
      const options: NonNullable<ModelOptions> = { ...own, ...(columns && { columns }) };
      try {
        await repository.load(model, tag, bytes, options);
      } catch (err) {
        repository.forgetFailure(model, tag);
        throw new Refused((err as Error).message);
      }
    }
    const previous = this.serving;
    this.serving = { version, digest: record.digest, signedBy, historyId };
    if (this.isDefault) repository.setDefault(model, tag);
    log.info({ model, alias, version, digest: record.digest, signedBy, previous: previous?.version ?? null }, "registry version serving");
    if (previous && previous.version !== version) await this.follower.release(model, previous.version);
  }

  report(): FollowReport {
    const s = this.serving;
    return {
      model: this.follow.model,
      alias: this.follow.alias,
      state: s ? "serving" : this.loading ? "loading" : "waiting",
      version: s?.version ?? null,
      digest: s?.digest ?? null,
      signedBy: s?.signedBy ?? null,
      historyId: s?.historyId ?? null,
      problem: this.problem,
    };
  }
}

/** The registry's named columns, when they all feed one input, in order along its last dimension. */
function columnsOf(record: VersionRecord): string[] | undefined {
  const cols = record.columns;
  if (!cols.length || new Set(cols.map((c) => c.tensor)).size !== 1) return undefined;
  return cols.map((c, i) => ({ name: c.name, at: c.index ?? i })).sort((a, b) => a.at - b.at).map((c) => c.name);
}

export class RegistryFollower {
  private readonly followers: AliasFollower[];
  private timer: ReturnType<typeof setTimeout> | undefined;
  stopped = false;
  readonly timeoutMs: number;

  constructor(
    private readonly config: RegistryFollowConfig,
    readonly bus: Bus,
    readonly repository: Repository,
    readonly log: Logger,
  ) {
    const seen = new Set<string>();
    this.followers = config.follow.map((f) => {
      const first = !seen.has(f.model);
      seen.add(f.model);
      return new AliasFollower(f, first, this);
    });
    this.timeoutMs = config.downloadTimeoutMs;
    for (const f of this.followers) this.published(f);
  }

  /** Subscribes (with a group of this process alone) and starts syncing in the background. */
  async start(): Promise<void> {
    if (!this.followers.length) return;
    await this.bus.subscribe(
      registryContract,
      "alias.moved",
      (e) => {
        for (const f of this.followers) {
          if (f.follow.model === e.model && f.follow.alias === e.alias && e.historyId > f.applied) void f.sync();
        }
      },
      { group: `inference-${randomUUID()}`, durable: false },
    );
    this.schedule(0, 0);
  }

  /** Re-syncs aliases that have a problem quickly (backing off up to retrySeconds), the others every resyncSeconds. */
  private schedule(delayMs: number, attempt: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(async () => {
      const now = Date.now();
      const due = this.followers.filter((f) => f.trouble !== null || now - f.lastSync >= this.config.resyncSeconds * 1000);
      await Promise.all(due.map((f) => f.sync()));
      const troubled = this.followers.some((f) => f.trouble !== null && !f.serving);
      const next = troubled ? Math.min(this.config.retrySeconds * 1000, 200 * 2 ** attempt) : this.config.retrySeconds * 1000;
      this.schedule(next, troubled ? attempt + 1 : 0);
    }, delayMs);
  }

  /** Called whenever an alias's state changes: a model with nothing loaded answers 503 with the reason. */
  published(f: AliasFollower): void {
    if (!f.isDefault) return;
    this.repository.setAwaited(f.follow.model, f.serving ? undefined : (f.problem ?? "loading"));
  }

  /**
   * Which key signed the version, or null when unsigned and allowed; throws Refused when the signature is missing
   * (and required), made by an untrusted key, or does not hold for the digest.
   */
  async checkSignature(record: VersionRecord): Promise<string | null> {
    const own = this.config.signatures;
    const policy = own
      ? { required: own.required, trusted: own.trustedKeys.map((k) => keyId(k)) }
      : await this.bus
          .call(registryContract, "policy", {}, { timeoutMs: this.timeoutMs })
          .then((p) => ({ required: p.signatures.required, trusted: p.signatures.trustedKeys.map((k) => k.keyId) }));
    const sig = record.signature;
    if (!sig) {
      if (policy.required) throw new Refused(`version ${record.version} is unsigned and signatures are required`);
      return null;
    }
    if (keyId(sig.publicKey) !== sig.keyId || !policy.trusted.includes(sig.keyId)) {
      throw new Refused(`version ${record.version} is signed by key ${sig.keyId}, which is not trusted`);
    }
    if (!verifyDigest(record.digest, sig.value, sig.publicKey)) {
      throw new Refused(`version ${record.version}: the signature does not hold for digest ${record.digest}`);
    }
    return sig.keyId;
  }

  /** Unloads a version an alias no longer points at, unless another followed alias still serves it. */
  async release(model: string, version: number): Promise<void> {
    if (this.followers.some((f) => f.follow.model === model && f.serving?.version === version)) return;
    try {
      await this.repository.unload(model, String(version));
    } catch (err) {
      this.log.warn({ err, model, version }, "previous registry version was not loaded any more");
    }
  }

  /** What is served for `model` (all its aliases), for metadata; undefined when the model is not followed. */
  describe(model: string): FollowReport[] | undefined {
    const mine = this.followers.filter((f) => f.follow.model === model);
    return mine.length ? mine.map((f) => f.report()) : undefined;
  }

  reports(): FollowReport[] {
    return this.followers.map((f) => f.report());
  }

  /** Every followed alias has loaded a version at least once. */
  ready(): boolean {
    return this.followers.every((f) => f.serving !== undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.all(this.followers.map((f) => f.idle()));
  }
}
