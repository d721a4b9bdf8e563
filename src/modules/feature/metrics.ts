/**
 * The feature module's gauges: what its cached states hold, per entity. A state keeps every event of its entity's
 * longest window, so a hot entity's state grows with its traffic (docs/features.md, "Cost"): these show it before
 * the process's memory does.
 */
import { Gauge, type Registry } from "prom-client";
import type { OnlineStore } from "./store";

type Held = ReturnType<OnlineStore["memory"]>[number];

export function registerFeatureMetrics(registry: Registry, store: OnlineStore): void {
  // One call serves the three gauges of a scrape (it also starts the next interval of `largest`).
  let last = { at: 0, held: [] as Held[] };
  const held = () => {
    if (performance.now() - last.at > 100) last = { at: performance.now(), held: store.memory() };
    return last.held;
  };
  const gauge = (name: string, help: string, value: (h: Held) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["entity"],
      registers: [registry],
      collect() {
        for (const h of held()) this.set({ entity: h.kind }, value(h));
      },
    });
  gauge("cleave_feature_cached_entities", "Entity states held in memory", (h) => h.entities);
  gauge("cleave_feature_cached_events", "Events held in memory, over all cached states", (h) => h.events);
  gauge("cleave_feature_largest_state_events", "Events in the largest state changed since the previous scrape", (h) => h.largest);
}
