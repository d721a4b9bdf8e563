/**
 * The one place where a feature vector becomes a model input row, for training (src/ml/dataset.ts) and serving (the
 * decision module's pipeline) alike. Plain values only: it imports no module.
 */
type Cell = number | string | boolean | null;

/**
 * The model's input row from a feature vector: values picked by name in the model's column order. Missing values
 * (null: no history, zero std) and booleans become numbers the same way here for training and in the pipeline.
 */
export function modelRow(modelFeatures: readonly string[], vectorNames: readonly string[], values: readonly Cell[]): Float32Array {
  const out = new Float32Array(modelFeatures.length);
  modelFeatures.forEach((name, i) => {
    const v = values[vectorNames.indexOf(name)];
    out[i] = typeof v === "number" && Number.isFinite(v) ? v : v === true ? 1 : 0;
  });
  return out;
}
