/**
 * Data quality of one model version's current window, per feature, against its baseline: missing rates,
 * numeric values outside the baseline's range, categories the baseline never saw, values of the wrong type,
 * and features the baseline does not know.
 */
import type { PreparedBaseline } from "./baseline";
import type { QualityReport } from "./contract";
import { column, type WindowEntry } from "./window";

type FeatureQuality = QualityReport["features"][number];

export function qualityReport(
  model: string,
  version: string,
  baseline: PreparedBaseline | undefined,
  entries: WindowEntry[],
): QualityReport {
  const base = { model, version, windowSize: entries.length, features: [] as FeatureQuality[] };
  if (!baseline) return { ...base, status: "no_baseline" };
  if (entries.length === 0) return { ...base, status: "insufficient_data" };
  for (const [name, ref] of baseline.features) {
    const col = column(entries, name, ref.kind);
    let outOfRange = 0;
    for (const v of col.numbers) if (v < ref.min || v > ref.max) outOfRange++;
    const newCategories = new Set<string>();
    let newCount = 0;
    if (ref.counts) {
      for (const c of col.categories) {
        if (!ref.counts.has(c)) {
          newCount++;
          newCategories.add(c);
        }
      }
    }
    base.features.push({
      feature: name,
      count: col.count,
      missingRate: col.missing / col.count,
      baselineMissingRate: ref.missingRate,
      // Shares of the values that could be judged: well-typed and present.
      outOfRangeRate: col.numbers.length ? outOfRange / col.numbers.length : 0,
      newCategoryRate: col.categories.length ? newCount / col.categories.length : 0,
      newCategories: [...newCategories].slice(0, 20),
      schemaViolations: col.violations,
      unknownFeature: false,
    });
  }
  // Features the model sends that the baseline does not describe: a schema change worth seeing.
  const unknown = new Map<string, number>();
  for (const e of entries) {
    for (const name of Object.keys(e.features)) {
      if (!baseline.features.has(name)) unknown.set(name, (unknown.get(name) ?? 0) + 1);
    }
  }
  for (const [name, n] of unknown) {
    base.features.push({
      feature: name,
      count: n,
      missingRate: 0,
      baselineMissingRate: 0,
      outOfRangeRate: 0,
      newCategoryRate: 0,
      newCategories: [],
      schemaViolations: n,
      unknownFeature: true,
    });
  }
  return { ...base, status: "ok" };
}
