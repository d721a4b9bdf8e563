/** Drift statistics, each a pure function checked against scipy / Evidently golden values (test/monitoring). */
export { binnedShares, binnedSharesSorted, categoricalShares, histogramSorted, sturgesEdgesOf, type BinnedShares, type Value } from "./binning";
export { jensenShannon, psi } from "./divergence";
export { kolmogorovSf } from "./kolmogorov";
export { ks2samp, ks2sampSorted, type KsResult } from "./ks";
export { populationStd, wassersteinDistance, wassersteinNormed, wassersteinSorted } from "./wasserstein";
