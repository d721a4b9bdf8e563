/**
 * The one place where a feature vector becomes a model input row, for training (src/ml/dataset.ts) and serving (the
 * decision module's pipeline) alike. Plain values only: it imports no module.
 */
type Cell = number | string | boolean | null;

/** Values already in the model's column order as its input row: null, strings and NaN become 0, true becomes 1. */
export function toModelInput(ordered: readonly Cell[]): Float32Array {
  const out = new Float32Array(ordered.length);
  ordered.forEach((v, i) => {
    out[i] = typeof v === "number" && Number.isFinite(v) ? v : v === true ? 1 : 0;
  });
  return out;
}

/**
 * The model's input row from a feature vector: values picked by name in the model's column order. Missing values
 * (null: no history, zero std) and booleans become numbers the same way here for training and in the pipeline.
 */
export function modelRow(modelFeatures: readonly string[], vectorNames: readonly string[], values: readonly Cell[]): Float32Array {
  return toModelInput(modelFeatures.map((name) => values[vectorNames.indexOf(name)] ?? null));
}
