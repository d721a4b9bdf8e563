/**
 * Real child processes running `cleave serve` (from source, or the compiled binary) for fault and CLI tests:
 * they can be SIGKILLed and restarted, and their output is kept for assertions.
 */
import { type Subprocess, spawn } from "bun";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";

export const REPO = resolve(import.meta.dir, "../..");
export const CLI = [process.execPath, join(REPO, "src/cli/main.ts")];

/** Writes a config object as YAML into a fresh temp dir and returns the file path. */
export function writeConfig(config: Record<string, unknown>, dir = mkdtempSync(join(tmpdir(), "cleave-cfg-"))): string {
  const file = join(dir, "cleave.yaml");
  writeFileSync(file, stringify(config));
  return file;
}

export class Child {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  private out = "";
  private err = "";

  constructor(args: string[], opts: { cmd?: string[]; env?: Record<string, string>; cwd?: string } = {}) {
    this.proc = spawn([...(opts.cmd ?? CLI), ...args], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      cwd: opts.cwd,
      env: opts.env ?? { ...process.env },
    });
    this.drained = Promise.all([
      this.collect(this.proc.stdout, (s) => (this.out += s)),
      this.collect(this.proc.stderr, (s) => (this.err += s)),
    ]).then(() => {});
  }

  /** Resolves once both output streams are read to their end (after exit, the pipes may still hold data). */
  private readonly drained: Promise<void>;

  private async collect(stream: ReadableStream<Uint8Array>, add: (s: string) => void) {
    const decoder = new TextDecoder();
    for await (const chunk of stream) add(decoder.decode(chunk, { stream: true }));
  }

  get stdout() {
    return this.out;
  }

  get stderr() {
    return this.err;
  }

  /** Resolves when `pattern` appears in stdout or stderr; rejects on exit or timeout with the output so far. */
  async waitFor(pattern: RegExp | string, timeoutMs = 15_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    const seen = () => (typeof pattern === "string" ? (this.out + this.err).includes(pattern) : pattern.test(this.out + this.err));
    while (!seen()) {
      if (this.proc.exitCode !== null) {
        throw new Error(`process exited (${this.proc.exitCode}) before ${pattern}:\n${this.out}\n${this.err}`);
      }
      if (Date.now() > until) throw new Error(`timed out waiting for ${pattern}:\n${this.out}\n${this.err}`);
      await Bun.sleep(25);
    }
  }

  async exit(timeoutMs = 15_000): Promise<number> {
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), timeoutMs);
    const code = await this.proc.exited;
    clearTimeout(timer);
    await this.drained;
    return code;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number> {
    this.proc.kill(signal);
    const code = await this.proc.exited;
    await this.drained;
    return code;
  }
}
