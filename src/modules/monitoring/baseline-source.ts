/**
 * Fetches the baseline of a model version monitoring has not been given, from the module the config names (the
 * registry stores one with each version). Asked at most once per `retrySeconds` per version; a failure or a null
 * answer leaves the version at "no baseline", never breaks observing.
 */
import { Value } from "@sinclair/typebox/value";
import type { Bus } from "../../runtime/bus/bus";
import type { Logger } from "../../runtime/log";
import { key, type BaselineStore } from "./baseline";
import type { MonitoringConfig } from "./config";
import { baselineLookupOperation } from "./contract";

export class BaselineSource {
  private readonly lastAsked = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly cfg: NonNullable<MonitoringConfig["baselineSource"]>,
    private readonly store: BaselineStore,
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  /** Resolves once the baseline is present or this attempt has failed (or was skipped by the retry limit). */
  ensure(model: string, version: string): Promise<void> {
    if (this.store.get(model, version)) return Promise.resolve();
    const k = key(model, version);
    const running = this.inFlight.get(k);
    if (running) return running;
    const last = this.lastAsked.get(k);
    if (last !== undefined && Date.now() - last < this.cfg.retrySeconds * 1000) return Promise.resolve();
    this.lastAsked.set(k, Date.now());
    const attempt = this.fetch(model, version).finally(() => this.inFlight.delete(k));
    this.inFlight.set(k, attempt);
    return attempt;
  }

  async settle(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private async fetch(model: string, version: string): Promise<void> {
    const target = `${this.cfg.module}.${this.cfg.operation}`;
    try {
      const reply = await this.bus.call(this.cfg.module, this.cfg.operation, { model, version });
      if (!Value.Check(baselineLookupOperation.output, reply)) {
        this.log.warn({ target, model, version }, "baseline source answered with something that is not a baseline");
        return;
      }
      const { baseline } = reply;
      if (baseline === null) return;
      if (baseline.model !== model || baseline.version !== version) {
        this.log.warn({ target, model, version, got: key(baseline.model, baseline.version) }, "baseline source answered for another version");
        return;
      }
      this.store.put(baseline);
      this.log.info({ model, version, target }, "baseline fetched");
    } catch (err) {
      this.log.warn({ err, target, model, version }, "could not fetch baseline");
    }
  }
}
