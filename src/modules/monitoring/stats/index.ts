/** Drift statistics, each a pure function checked against scipy / Evidently golden values (test/monitoring). */
export { binnedShares, categoricalShares, histogram, sturgesEdges, type BinnedShares, type Value } from "./binning";
export { jensenShannon, psi } from "./divergence";
export { kolmogorovSf } from "./kolmogorov";
export { ks2samp, type KsResult } from "./ks";
export { populationStd, wassersteinDistance, wassersteinNormed } from "./wasserstein";
