/**
 * Alerts: a condition (drift of a feature, a quality breach, an SLO breach) raised while it holds. The first
 * raise of a key sends it — `monitoring.alert` event, webhooks, configured actions; raises of the same key while
 * it stays active are de-duplicated, except that it is re-sent once the cooldown has passed. The key is released
 * only after the condition has been found clear `clearAfter` times in a row (so a value hovering at its threshold
 * does not flap); a later breach then alerts again at once.
 */
import type { Bus } from "../../runtime/bus/bus";
import type { Logger } from "../../runtime/log";
import type { MonitoringConfig } from "./config";
import { type Alert, monitoringContract } from "./contract";

export type AlertDraft = Omit<Alert, "id" | "key" | "at">;

export interface AlertSink {
  sent(alert: Alert): void;
  suppressed(alert: AlertDraft): void;
  deliveryFailed(target: string): void;
}

type AlertSubject = Pick<Alert, "kind" | "model" | "version" | "feature" | "check">;

export const alertKey = (a: AlertSubject) =>
  [a.kind, a.model ?? "", a.version ?? "", a.feature ?? "", a.check ?? ""].join("|");

export class Alerter {
  private readonly active = new Map<string, { lastSentAt: number; clearStreak: number }>();
  private readonly recent: Alert[] = [];
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly cfg: MonitoringConfig["alerts"],
    private readonly bus: Bus,
    private readonly log: Logger,
    private readonly sink: AlertSink,
  ) {}

  /** The condition holds now: send unless the same key was sent within the cooldown. */
  raise(draft: AlertDraft, now = Date.now()): Alert | undefined {
    const key = alertKey(draft);
    const state = this.active.get(key);
    if (state && now - state.lastSentAt < this.cfg.cooldownSeconds * 1000) {
      state.clearStreak = 0;
      this.sink.suppressed(draft);
      return undefined;
    }
    this.active.set(key, { lastSentAt: now, clearStreak: 0 });
    const alert: Alert = { ...draft, id: crypto.randomUUID(), key, at: new Date(now).toISOString() };
    this.recent.unshift(alert);
    if (this.recent.length > 1000) this.recent.pop();
    this.sink.sent(alert);
    this.track(this.deliver(alert));
    return alert;
  }

  /** The condition no longer holds. */
  clear(draft: AlertSubject): void {
    const key = alertKey(draft);
    const state = this.active.get(key);
    if (state && ++state.clearStreak >= this.cfg.clearAfter) this.active.delete(key);
  }

  list(limit: number): { alerts: Alert[]; active: string[] } {
    return { alerts: this.recent.slice(0, limit), active: [...this.active.keys()] };
  }

  /** Waits for deliveries under way (used at stop, and by tests through the module's stop). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  private track(p: Promise<unknown>) {
    this.pending.add(p);
    p.finally(() => this.pending.delete(p));
  }

  private async deliver(alert: Alert): Promise<void> {
    const jobs: Promise<unknown>[] = [
      this.bus.publish(monitoringContract, "alert", alert, { id: alert.id }).catch((err) => {
        this.log.warn({ err, alert: alert.key }, "could not publish monitoring.alert");
        this.sink.deliveryFailed("event");
      }),
    ];
    for (const hook of this.cfg.webhooks) {
      if (hook.kinds && !hook.kinds.includes(alert.kind)) continue;
      jobs.push(this.post(hook.url, alert, hook.timeoutMs));
    }
    for (const action of this.cfg.actions) {
      if (action.kinds && !action.kinds.includes(alert.kind)) continue;
      const input = action.alertField ? { ...action.input, [action.alertField]: alert } : action.input;
      jobs.push(
        this.bus.call(action.module, action.operation, input).catch((err) => {
          this.log.warn({ err, alert: alert.key, action: `${action.module}.${action.operation}` }, "alert action failed");
          this.sink.deliveryFailed(`${action.module}.${action.operation}`);
        }),
      );
    }
    await Promise.all(jobs);
  }

  private async post(url: string, alert: Alert, timeoutMs: number): Promise<void> {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(alert),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) throw new Error(`webhook answered ${res.status}`);
    } catch (err) {
      this.log.warn({ err, url, alert: alert.key }, "alert webhook failed");
      this.sink.deliveryFailed("webhook");
    }
  }
}
