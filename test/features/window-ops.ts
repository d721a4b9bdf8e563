/**
 * A random history for the kept-window tests: mostly in-order events, some late ones (inserted in the middle, which
 * moves the windows' indexes), expiries, and reads mostly as of the newest event (scoring), sometimes in the past
 * (point-in-time retrieval). `read` checks one feature as of a time; the result counts how many reads found a
 * window kept from before, so a test can tell the kept windows were used rather than rebuilt every time.
 */
import type { CompiledFeature } from "../../src/modules/feature/definitions";
import { emptyState, expireBefore, insertEvent, type Cell, type EntityState } from "../../src/modules/feature/engine";

export const HOUR = 3_600_000;

export function randomHistory(
  random: () => number,
  features: CompiledFeature[],
  value: () => Cell,
  read: (s: EntityState, f: CompiledFeature, end: number, asOf: number) => void,
): { kept: number } {
  const s = emptyState(1);
  let now = 0;
  let seq = 0;
  let kept = 0;
  for (let step = 0; step < 4000; step++) {
    const r = random();
    if (r < 0.6) {
      // Gaps from seconds to half an hour: 1 h windows hold from none to dozens of events.
      now += Math.floor(random() ** 3 * 1_800_000);
      const ts = random() < 0.1 ? now - Math.floor(random() * 2 * HOUR) : now;
      insertEvent(s, ts, ++seq, [value()]);
    } else if (r < 0.65) {
      expireBefore(s, now - 30 * HOUR);
    } else {
      const asOf = random() < 0.8 ? now : now - Math.floor(random() * 30 * HOUR);
      const end = s.ts.filter((t) => t <= asOf).length;
      for (const f of features) {
        if (s.windows?.has(f)) kept++;
        read(s, f, end, asOf);
      }
    }
  }
  return { kept };
}
