/**
 * Where a worker thread's entry file is, given its path under src/. In the compiled binary, entry points sit in
 * Bun's embedded filesystem under their common directory (src/) and import.meta.url names the binary itself, so the
 * path is relative; scripts/build.ts lists every worker file as an extra entry point for this.
 */
export function workerEntry(pathUnderSrc: string): string {
  if (import.meta.url.includes("$bunfs")) return `./${pathUnderSrc}`;
  return new URL(`../${pathUnderSrc}`, import.meta.url).href;
}
