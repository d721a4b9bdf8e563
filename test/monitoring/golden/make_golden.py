"""
Golden values for test/monitoring/stats.test.ts, computed ONCE with scipy (and a line-by-line transcription of
Evidently's PSI binning; evidently itself is not installed here) and pasted into the test.

Run from the repo root:  python3 test/monitoring/golden/make_golden.py
Environment used: Python 3.11.7, numpy 2.4.6, scipy 1.17.1.
It writes test/monitoring/golden/samples.json (the fixed samples, floats written with repr so they round-trip
exactly into JavaScript) and prints the golden numbers as a TypeScript object.
"""
import json
import math
import os

import numpy as np
from scipy import stats
from scipy.spatial import distance

rng = np.random.default_rng(20261124)


def r(xs):
    return [float(x) for x in xs]


samples = {
    # KS, exact path (max(n1, n2) <= 10000), unequal sizes and a shift
    "ks_small_a": r(rng.normal(0, 1, 60)),
    "ks_small_b": r(rng.normal(0.3, 1, 75)),
    # KS, exact path, equal sizes (the "outside square" formula)
    "ks_square_a": r(rng.normal(0, 1, 100)),
    "ks_square_b": r(rng.normal(0.5, 1.2, 100)),
    # KS with ties (integer-valued data)
    "ks_ties_a": r(rng.integers(0, 10, 200)),
    "ks_ties_b": r(rng.integers(0, 12, 150)),
    # KS, exact path at 1000 vs 1000 with a small shift
    "ks_1000_a": r(rng.normal(0, 1, 1000)),
    "ks_1000_b": r(rng.normal(0.1, 1, 1000)),
    # KS, asymptotic path (max(n1, n2) > 10000)
    "ks_big_ref": r(rng.normal(0, 1, 12000)),
    "ks_big_same": r(rng.normal(0, 1, 800)),
    "ks_big_shift": r(rng.normal(0.15, 1, 800)),
    "ks_big_tiny": r(rng.normal(0.1, 1, 100)),
    # PSI / JS / Wasserstein, numeric with > 20 distinct values (Sturges bins)
    "num_ref": r(rng.normal(10, 2, 500)),
    "num_cur": r(rng.normal(11, 2.5, 400)),
    # numeric with <= 20 distinct reference values (one bin per value), current has a value unseen in reference
    "int_ref": r(rng.integers(0, 6, 300)),
    "int_cur": r(rng.integers(1, 8, 250)),
    # categorical: a category missing from current and a new one in current (zero floor on both sides)
    "cat_ref": [str(x) for x in rng.choice(["a", "b", "c", "d"], 400, p=[0.4, 0.3, 0.2, 0.1])],
    "cat_cur": [str(x) for x in rng.choice(["a", "b", "c", "e"], 300, p=[0.25, 0.25, 0.3, 0.2])],
    # constant reference: Wasserstein's std floor (0.001)
    "const_ref": [3.0] * 50,
}


def get_binned_data(reference, current, numerical, n, feel_zeroes=True):
    """evidently/legacy/calculations/stattests/utils.py get_binned_data, with numpy in place of pandas:
    Series.nunique -> len(set), value_counts -> counting, pd.concat -> list concatenation."""
    n_vals = len(set(reference))
    if numerical and n_vals > 20:
        bins = np.histogram_bin_edges(np.array(reference + current, dtype=float), bins="sturges")
        reference_percents = np.histogram(reference, bins)[0] / len(reference)
        current_percents = np.histogram(current, bins)[0] / len(current)
    else:
        keys = list(set(reference) | set(current))
        ref_counts = {k: reference.count(k) for k in keys}
        cur_counts = {k: current.count(k) for k in keys}
        reference_percents = np.array([ref_counts[k] / len(reference) for k in keys])
        current_percents = np.array([cur_counts[k] / len(current) for k in keys])
    if feel_zeroes:
        np.place(reference_percents, reference_percents == 0,
                 min(reference_percents[reference_percents != 0]) / 10**6
                 if min(reference_percents[reference_percents != 0]) <= 0.0001 else 0.0001)
        np.place(current_percents, current_percents == 0,
                 min(current_percents[current_percents != 0]) / 10**6
                 if min(current_percents[current_percents != 0]) <= 0.0001 else 0.0001)
    return reference_percents, current_percents


def psi(reference, current, numerical):
    """evidently/legacy/calculations/stattests/psi.py _psi"""
    ref, cur = get_binned_data(reference, current, numerical, 30)
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def js(reference, current, numerical):
    """evidently/legacy/calculations/stattests/jensenshannon.py _jensenshannon (base None)"""
    ref, cur = get_binned_data(reference, current, numerical, 30, False)
    return float(distance.jensenshannon(ref, cur))


def wasserstein_norm(reference, current):
    """evidently/legacy/calculations/stattests/wasserstein_distance_norm.py"""
    norm = max(np.std(reference), 0.001)
    return float(stats.wasserstein_distance(reference, current) / norm)


def ks(a, b):
    res = stats.ks_2samp(samples[a], samples[b])  # method='auto'
    return [float(res.statistic), float(res.pvalue)]


golden = {
    "ks": {
        "small": ks("ks_small_a", "ks_small_b"),
        "square": ks("ks_square_a", "ks_square_b"),
        "ties": ks("ks_ties_a", "ks_ties_b"),
        "n1000": ks("ks_1000_a", "ks_1000_b"),
        "bigSame": ks("ks_big_ref", "ks_big_same"),
        "bigShift": ks("ks_big_ref", "ks_big_shift"),
        "bigTiny": ks("ks_big_ref", "ks_big_tiny"),
    },
    # kstwo.sf(x, n) on points that reach every branch of scipy's _kolmogn(cdf=False)
    "kstwoSf": [[n, x, float(stats.kstwo.sf(x, n))] for n, x in [
        (10, 0.07), (10, 0.12), (10, 0.2), (10, 0.35), (10, 0.6), (10, 0.95),
        (100, 0.05), (100, 0.09), (100, 0.15), (100, 0.3),
        (750, 0.02), (750, 0.03), (750, 0.06), (750, 0.2),
        (5000, 0.004), (5000, 0.01), (5000, 0.03), (200000, 0.002), (200000, 0.004),
    ]],
    "psi": {
        "numeric": psi(samples["num_ref"], samples["num_cur"], True),
        "integer": psi(samples["int_ref"], samples["int_cur"], True),
        "categorical": psi(samples["cat_ref"], samples["cat_cur"], False),
    },
    "js": {
        "numeric": js(samples["num_ref"], samples["num_cur"], True),
        "categorical": js(samples["cat_ref"], samples["cat_cur"], False),
    },
    "wasserstein": {
        "numeric": wasserstein_norm(samples["num_ref"], samples["num_cur"]),
        "constantRef": wasserstein_norm(samples["const_ref"], samples["num_cur"]),
    },
    "sturgesEdges": [float(e) for e in np.histogram_bin_edges(np.array(samples["num_ref"] + samples["num_cur"]), bins="sturges")],
}

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "samples.json"), "w") as f:
    json.dump(samples, f)
print(json.dumps(golden, indent=2))
