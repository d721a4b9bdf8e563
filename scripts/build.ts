/**
 * Builds the single binary dist/cleave. Worker entry files must be listed here as extra entry points: the bundler
 * only follows static imports, and a worker is started by path at run time.
 */
import { $ } from "bun";
import { existsSync } from "node:fs";

export const WORKER_ENTRIES = [
  "src/modules/inference/worker.ts",
  "src/runtime/security/audit-worker.ts",
  "src/runtime/native/sqlite-writer-worker.ts",
].filter((f) => existsSync(f));

const outfile = process.argv[2] ?? "dist/cleave";
await $`bun build --compile --minify-syntax --sourcemap=inline src/cli/main.ts ${WORKER_ENTRIES} --outfile ${outfile}`;
console.log(`built ${outfile}`);
