/**
 * Gradient-boosted decision trees for binary classification (logistic loss, second-order / Newton leaves as in
 * XGBoost), on numeric features with histogram splits over per-feature quantile bins.
 *
 * Everything a tree compares is float32 — thresholds are float32 bin edges and inputs are rounded to float32 before
 * the comparison — because that is what the exported ONNX TreeEnsembleClassifier does; the TypeScript predictions
 * then equal onnxruntime's, not just approximately.
 */

export interface GbdtParams {
  trees: number;
  maxDepth: number;
  learningRate: number;
  /** L2 regularisation of leaf values. */
  lambda: number;
  /** Minimum sum of hessians in a child. */
  minChildWeight: number;
  /** Histogram bins per feature. */
  bins: number;
}

export const DEFAULT_PARAMS: GbdtParams = { trees: 80, maxDepth: 4, learningRate: 0.15, lambda: 1, minChildWeight: 1, bins: 32 };

/** A tree as flat arrays; node 0 is the root. A leaf has feature −1. Goes left when x ≤ threshold. */
export interface Tree {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  /** Leaf contribution to the log-odds (already scaled by the learning rate), float32. */
  value: number[];
}

export interface GbdtModel {
  /** Initial log-odds (float32). */
  base: number;
  trees: Tree[];
  features: number;
}

const f32 = Math.fround;
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Quantile bin edges per feature (float32, ascending, unique). */
function binEdges(x: Float32Array, rows: number, F: number, f: number, bins: number): number[] {
  const col = new Float32Array(rows);
  for (let i = 0; i < rows; i++) col[i] = x[i * F + f];
  col.sort();
  const edges: number[] = [];
  for (let b = 1; b < bins; b++) {
    const v = col[Math.min(rows - 1, Math.floor((b * rows) / bins))];
    if (!Number.isNaN(v) && (edges.length === 0 || v > edges[edges.length - 1])) edges.push(v);
  }
  // A feature with one value still needs an edge so that its bin index is defined.
  if (edges.length === 0) edges.push(col[0]);
  // The largest value goes right of every edge; drop an edge equal to the maximum (it splits nothing).
  if (edges.length > 1 && edges[edges.length - 1] >= col[rows - 1]) edges.pop();
  return edges;
}

/** Bin index: the first edge the value is ≤ to, or edges.length when above them all. */
function binOf(edges: number[], v: number): number {
  let lo = 0, hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v <= edges[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function trainGbdt(x: Float32Array, y: Uint8Array, rows: number, F: number, params: Partial<GbdtParams> = {}): GbdtModel {
  const p = { ...DEFAULT_PARAMS, ...params };
  const edges = Array.from({ length: F }, (_, f) => binEdges(x, rows, F, f, p.bins));
  const binned = Array.from({ length: F }, (_, f) => {
    const col = new Uint8Array(rows);
    for (let i = 0; i < rows; i++) col[i] = binOf(edges[f], x[i * F + f]);
    return col;
  });
  let pos = 0;
  for (let i = 0; i < rows; i++) pos += y[i];
  const prior = Math.min(Math.max(pos / rows, 1e-6), 1 - 1e-6);
  const base = f32(Math.log(prior / (1 - prior)));
  const raw = new Float64Array(rows).fill(base);
  const g = new Float64Array(rows);
  const h = new Float64Array(rows);
  const trees: Tree[] = [];
  const all = new Uint32Array(rows).map((_, i) => i);

  for (let t = 0; t < p.trees; t++) {
    for (let i = 0; i < rows; i++) {
      const pr = sigmoid(raw[i]);
      g[i] = pr - y[i];
      h[i] = Math.max(pr * (1 - pr), 1e-12);
    }
    const tree: Tree = { feature: [], threshold: [], left: [], right: [], value: [] };
    growNode(tree, all, 0);
    trees.push(tree);
    for (let i = 0; i < rows; i++) raw[i] += leafValue(tree, x, i * F);
  }
  return { base, trees, features: F };

  function growNode(tree: Tree, idx: Uint32Array, depth: number): number {
    const node = tree.feature.length;
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.left.push(-1);
    tree.right.push(-1);
    tree.value.push(0);
    let G = 0, H = 0;
    for (let k = 0; k < idx.length; k++) {
      G += g[idx[k]];
      H += h[idx[k]];
    }
    const split = depth < p.maxDepth ? bestSplit(idx, G, H) : undefined;
    if (!split) {
      tree.value[node] = f32((-G / (H + p.lambda)) * p.learningRate);
      return node;
    }
    const col = binned[split.feature];
    const leftIdx = idx.filter((i) => col[i] <= split.bin);
    const rightIdx = idx.filter((i) => col[i] > split.bin);
    tree.feature[node] = split.feature;
    tree.threshold[node] = edges[split.feature][split.bin];
    tree.left[node] = growNode(tree, leftIdx, depth + 1);
    tree.right[node] = growNode(tree, rightIdx, depth + 1);
    return node;
  }

  function bestSplit(idx: Uint32Array, G: number, H: number): { feature: number; bin: number } | undefined {
    const parent = (G * G) / (H + p.lambda);
    let best = 1e-9;
    let found: { feature: number; bin: number } | undefined;
    for (let f = 0; f < F; f++) {
      const nb = edges[f].length + 1;
      const hg = new Float64Array(nb);
      const hh = new Float64Array(nb);
      const col = binned[f];
      for (let k = 0; k < idx.length; k++) {
        const i = idx[k];
        hg[col[i]] += g[i];
        hh[col[i]] += h[i];
      }
      let GL = 0, HL = 0;
      for (let b = 0; b < nb - 1; b++) {
        GL += hg[b];
        HL += hh[b];
        const GR = G - GL, HR = H - HL;
        if (HL < p.minChildWeight || HR < p.minChildWeight) continue;
        const gain = (GL * GL) / (HL + p.lambda) + (GR * GR) / (HR + p.lambda) - parent;
        if (gain > best) {
          best = gain;
          found = { feature: f, bin: b };
        }
      }
    }
    return found;
  }
}

function leafValue(tree: Tree, x: ArrayLike<number>, offset: number): number {
  let n = 0;
  while (tree.feature[n] >= 0) n = f32(x[offset + tree.feature[n]]) <= tree.threshold[n] ? tree.left[n] : tree.right[n];
  return tree.value[n];
}

/** Raw log-odds for one row (`x` holds rows × features, row-major). */
export function rawScore(model: GbdtModel, x: ArrayLike<number>, row: number): number {
  let z = model.base;
  for (const tree of model.trees) z += leafValue(tree, x, row * model.features);
  return z;
}

/** Fraud probability for every row. */
export function predict(model: GbdtModel, x: ArrayLike<number>, rows: number): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) out[i] = sigmoid(rawScore(model, x, i));
  return out;
}
