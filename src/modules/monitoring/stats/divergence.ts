/**
 * Divergences between binned shares: PSI as Evidently computes it, and the Jensen–Shannon distance with
 * `scipy.spatial.distance.jensenshannon` semantics (natural log, shares renormalised to sum 1, square root of
 * the divergence).
 */

/** Evidently `_psi`: Σ (ref − cur) · ln(ref / cur), on shares already floored (no zeros). */
export function psi(ref: readonly number[], cur: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < ref.length; i++) sum += (ref[i] - cur[i]) * Math.log(ref[i] / cur[i]);
  return sum;
}

/** scipy `rel_entr(x, y)`: x·ln(x/y) for x, y > 0; 0 when x = 0 and y ≥ 0; +∞ otherwise. */
function relEntr(x: number, y: number): number {
  if (x > 0 && y > 0) return x * Math.log(x / y);
  if (x === 0 && y >= 0) return 0;
  return Infinity;
}

/** scipy.spatial.distance.jensenshannon(p, q) with base e. */
export function jensenShannon(p: readonly number[], q: readonly number[]): number {
  const sp = p.reduce((a, b) => a + b, 0);
  const sq = q.reduce((a, b) => a + b, 0);
  let left = 0;
  let right = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] / sp;
    const qi = q[i] / sq;
    const m = (pi + qi) / 2;
    left += relEntr(pi, m);
    right += relEntr(qi, m);
  }
  return Math.sqrt((left + right) / 2);
}
