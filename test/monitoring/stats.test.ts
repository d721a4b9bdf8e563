/**
 * Drift statistics against golden values. The numbers below were computed once by
 * `python3 test/monitoring/golden/make_golden.py` (Python 3.11.7, numpy 2.4.6, scipy 1.17.1) on the fixed samples it
 * wrote to test/monitoring/golden/samples.json: KS with `scipy.stats.ks_2samp(a, b)` (method "auto") and
 * `scipy.stats.kstwo.sf`, JS with `scipy.spatial.distance.jensenshannon`, Wasserstein with
 * `scipy.stats.wasserstein_distance` / `max(np.std(ref), 0.001)`, and PSI / binning with a line-by-line
 * transcription of Evidently's `get_binned_data` and `_psi` (the script shows it). They are pasted here, not
 * recomputed, so a change in our code cannot move its own reference.
 */
import { describe, expect, test } from "bun:test";
import samplesJson from "./golden/samples.json";
import { categoricalShares, floorZeroShares, tally } from "../../src/modules/monitoring/stats/binning";
import { rng } from "../harness/rng";
import {
  binnedShares,
  binnedSharesSorted,
  histogramSorted,
  jensenShannon,
  kolmogorovSf,
  ks2samp,
  psi,
  sturgesEdgesOf,
  wassersteinNormed,
} from "../../src/modules/monitoring/stats";

const S = samplesJson as unknown as Record<string, number[] & string[]>;

/** Sturges edges of a sample (numpy.histogram_bin_edges, bins="sturges"). */
const sturgesEdges = (values: number[]) => sturgesEdgesOf(Math.min(...values), Math.max(...values), values.length);
const TOL = 1e-9;

/**
 * Equal to 1e-9 relative to the expected value (so a p-value of 1e-26 must match to 1e-35, not merely be "close
 * to 0"); an expected 0 must come out as 0 to 1e-12.
 */
function close(actual: number, expected: number) {
  const err = Math.abs(actual - expected);
  const allowed = expected === 0 ? 1e-12 : TOL * Math.abs(expected);
  if (!(err <= allowed)) throw new Error(`expected ${expected}, got ${actual} (error ${err}, allowed ${allowed})`);
}

const KS: Record<string, [number, number]> = {
  small: [0.16, 0.3269234077468833],
  square: [0.18, 0.07822115797841851],
  ties: [0.18, 0.00686338571409676],
  n1000: [0.051, 0.14836452078962484],
  bigSame: [0.022500000000000075, 0.8336804335379877],
  bigShift: [0.07974999999999999, 0.0001349096822791662],
  bigTiny: [0.10824999999999999, 0.18251462800565824],
};
const KS_SAMPLES: Record<string, [string, string]> = {
  small: ["ks_small_a", "ks_small_b"],
  square: ["ks_square_a", "ks_square_b"],
  ties: ["ks_ties_a", "ks_ties_b"],
  n1000: ["ks_1000_a", "ks_1000_b"],
  bigSame: ["ks_big_ref", "ks_big_same"],
  bigShift: ["ks_big_ref", "ks_big_shift"],
  bigTiny: ["ks_big_ref", "ks_big_tiny"],
};
// [n, x, scipy.stats.kstwo.sf(x, n)]: points reaching every branch of scipy's _kolmogn(cdf=False).
const KSTWO_SF: [number, number, number][] = [
  [10, 0.07, 0.9999999619492741],
  [10, 0.12, 0.9948566839762616],
  [10, 0.2, 0.7487190399999999],
  [10, 0.35, 0.1339605462624991],
  [10, 0.6, 0.0005681672000000003],
  [10, 0.95, 1.9531250000000172e-13],
  [100, 0.05, 0.9532159710635725],
  [100, 0.09, 0.3706320255863282],
  [100, 0.15, 0.019839242125641813],
  [100, 0.3, 1.7719869892662917e-08],
  [750, 0.02, 0.9191006429786927],
  [750, 0.03, 0.4999678236678071],
  [750, 0.06, 0.008655006283346502],
  [750, 0.2, 9.034989956783312e-27],
  [5000, 0.004, 0.9999977369528622],
  [5000, 0.01, 0.6954557253913853],
  [5000, 0.03, 0.00024159234422666817],
  [200000, 0.002, 0.39995085369038097],
  [200000, 0.004, 0.003314212822560255],
];
const PSI = {"numeric": 0.4283357205023677, "integer": 3.1134722239383987, "categorical": 2.367881109745288};
const JS = {"numeric": 0.21776146274128647, "categorical": 0.3410026231508757};
const WASSERSTEIN = {"numeric": 0.6345658923549616, "constantRef": 8273.59814298667};
const STURGES_EDGES = [2.515958338756384, 3.922758008847717, 5.32955767893905, 6.736357349030384, 8.143157019121716, 9.549956689213051, 10.956756359304384, 12.363556029395717, 13.77035569948705, 15.177155369578383, 16.583955039669718, 17.99075470976105];

describe("two-sample Kolmogorov–Smirnov = scipy.stats.ks_2samp", () => {
  for (const [name, [a, b]] of Object.entries(KS_SAMPLES)) {
    test(`${name}: ${S[a].length} vs ${S[b].length}`, () => {
      const r = ks2samp(S[a], S[b]);
      close(r.statistic, KS[name][0]);
      close(r.pvalue, KS[name][1]);
      expect(r.method).toBe(Math.max(S[a].length, S[b].length) <= 10_000 ? "exact" : "asymp");
    });
  }
  test("arguments in either order give the same answer", () => {
    const r1 = ks2samp(S.ks_small_a, S.ks_small_b);
    const r2 = ks2samp(S.ks_small_b, S.ks_small_a);
    expect(r2.statistic).toBe(r1.statistic);
    close(r2.pvalue, r1.pvalue);
  });
  test("an empty sample is refused", () => {
    expect(() => ks2samp([], [1, 2])).toThrow("non-empty");
  });
});

describe("kstwo.sf (asymptotic p-value of ks_2samp)", () => {
  test.each(KSTWO_SF)("n=%d x=%d", (n, x, expected) => close(kolmogorovSf(n, x), expected));
});

describe("PSI with Evidently's binning", () => {
  test("Sturges edges over reference + current = numpy histogram_bin_edges", () => {
    const edges = sturgesEdges(S.num_ref.concat(S.num_cur));
    expect(edges.length).toBe(STURGES_EDGES.length);
    edges.forEach((e, i) => close(e, STURGES_EDGES[i]));
  });
  test("numeric, > 20 distinct reference values (Sturges bins)", () => {
    const b = binnedShares(S.num_ref, S.num_cur, true, true);
    expect(b.edges?.length).toBe(STURGES_EDGES.length);
    close(psi(b.ref, b.cur), PSI.numeric);
  });
  test("numeric, <= 20 distinct values (one bin per value, a value new in current)", () => {
    const b = binnedShares(S.int_ref, S.int_cur, true, true);
    expect(b.edges).toBeUndefined();
    close(psi(b.ref, b.cur), PSI.integer);
  });
  test("categorical with a category missing on each side (zero shares floored)", () => {
    const b = binnedShares(S.cat_ref, S.cat_cur, false, true);
    expect(b.ref.every((x) => x > 0) && b.cur.every((x) => x > 0)).toBe(true);
    close(psi(b.ref, b.cur), PSI.categorical);
  });
});

describe("Jensen–Shannon distance = scipy.spatial.distance.jensenshannon on Evidently's bins", () => {
  test("numeric", () => {
    const b = binnedShares(S.num_ref, S.num_cur, true, false);
    close(jensenShannon(b.ref, b.cur), JS.numeric);
  });
  test("categorical", () => {
    const b = binnedShares(S.cat_ref, S.cat_cur, false, false);
    close(jensenShannon(b.ref, b.cur), JS.categorical);
  });
  test("identical distributions are at distance 0", () => {
    const b = binnedShares(S.cat_ref, S.cat_ref, false, false);
    expect(jensenShannon(b.ref, b.cur)).toBe(0);
  });
});

describe("Wasserstein distance normalised by the reference std (Evidently)", () => {
  test("numeric", () => close(wassersteinNormed(S.num_ref, S.num_cur), WASSERSTEIN.numeric));
  test("constant reference uses the 0.001 std floor", () =>
    close(wassersteinNormed(S.const_ref, S.num_cur), WASSERSTEIN.constantRef));
});

/**
 * numpy.histogram, value by value (the way Evidently's binning reads): the reference the binary-search histogram is
 * checked against.
 */
function histogram(values: number[], edges: number[]): number[] {
  const counts = new Array<number>(edges.length - 1).fill(0);
  for (const v of values) {
    if (!(v >= edges[0] && v <= edges[edges.length - 1])) continue;
    let bin = edges.length - 2;
    while (bin > 0 && edges[bin] > v) bin--;
    counts[bin]++;
  }
  return counts;
}

/** A baseline keeps its sample sorted; drift bins it by binary search, which must not move any number. */
describe("binning a sorted sample", () => {
  test("random samples, with ties, values on bin edges and new values in current: the shares of a per-value count", () => {
    const rnd = rng(17);
    for (let round = 0; round < 200; round++) {
      const levels = 1 + Math.floor(rnd() * 60); // few levels: ties and the one-bin-per-value branch
      const draw = (n: number, shift: number) =>
        Array.from({ length: n }, () => (rnd() < 0.5 ? Math.floor(rnd() * levels) + shift : rnd() * levels + shift));
      const ref = draw(1 + Math.floor(rnd() * 400), 0);
      const cur = draw(1 + Math.floor(rnd() * 200), rnd() < 0.3 ? 3 : 0);
      const fill = rnd() < 0.5;
      const sorted = Float64Array.from(ref).sort();
      const got = binnedSharesSorted({ sorted, distinct: new Set(ref).size, tally: () => tally(Array.from(sorted)) }, cur, Float64Array.from(cur).sort(), fill);
      if (new Set(ref).size <= 20) {
        // One bin per value: the reference's values in ascending order, then the current's new ones as observed.
        expect(got).toEqual(categoricalShares(tally(Array.from(sorted)), ref.length, tally(cur), cur.length, fill));
      } else {
        const edges = sturgesEdges(ref.concat(cur));
        const shares = (xs: number[]) => histogram(xs, edges).map((c) => c / xs.length);
        const [r, c] = [shares(ref), shares(cur)];
        if (fill) {
          floorZeroShares(r);
          floorZeroShares(c);
        }
        expect({ ref: got.ref, cur: got.cur, edges: got.edges }).toEqual({ ref: r, cur: c, edges });
      }
      const edges = sturgesEdges(ref.concat(cur));
      expect(histogramSorted(sorted, edges)).toEqual(histogram(ref, edges));
      expect(histogramSorted(sorted, edges.slice(1, -1))).toEqual(histogram(ref, edges.slice(1, -1)));
    }
  });
});
