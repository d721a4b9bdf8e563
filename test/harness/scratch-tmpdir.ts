/**
 * Preloaded by `bun test` (bunfig.toml): the run's temporary files (tests' data directories, the processes they
 * start, nats-server's store) go to one scratch directory under the system's, removed when the run exits. Tests
 * make their directories under os.tmpdir() and not all of them remove theirs; run directly, without
 * scripts/test.sh's own scratch directory, they were left in /tmp.
 */
import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const scratch = mkdtempSync(join(tmpdir(), "cleave-tests-"));
process.env.TMPDIR = scratch;
// A preload's afterAll runs once, after the last file (a process "exit" handler here did not run under bun test).
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
