/** A real `cleave serve` child process on a temp config, for crash tests (kill -9, restart on the same data). */
import { type Subprocess, spawn } from "bun";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../harness/nats-server";

export interface ChildOptions {
  /** Config keys added to the generated config (e.g. `bus`). */
  extra?: object;
  /** `serve` arguments (e.g. `--modules feature`). */
  args?: string[];
  name?: string;
  /** Whether this child serves the gateway (the default) and so can be probed over HTTP. */
  http?: boolean;
}

export class Child {
  proc?: Subprocess;
  private constructor(
    readonly configFile: string,
    readonly url: string,
    private readonly opts: ChildOptions,
  ) {}

  static async create(dir: string, modules: object, opts: ChildOptions = {}): Promise<Child> {
    const port = await freePort();
    const configFile = join(dir, `${opts.name ?? "cleave"}.yaml`);
    const config = {
      deployment: "crash",
      dataDir: join(dir, opts.name ?? "data"),
      modules,
      http: { port },
      log: { level: "warn" },
      ...opts.extra,
    };
    writeFileSync(configFile, JSON.stringify(config));
    return new Child(configFile, `http://127.0.0.1:${port}`, opts);
  }

  /** Starts the process; waits until `path` answers 200 (by default /readyz: every module of the deployment up). */
  async start(path = "/readyz"): Promise<void> {
    const args = this.opts.http === false ? this.opts.args ?? [] : [...(this.opts.args ?? []), "--http-port", new URL(this.url).port];
    this.proc = spawn(["bun", "src/cli/main.ts", "serve", "--config", this.configFile, ...args], { stdout: "ignore", stderr: "ignore" });
    if (this.opts.http === false) return;
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      try {
        if ((await fetch(`${this.url}${path}`)).ok) return;
      } catch {
        // not listening yet
      }
      await Bun.sleep(50);
    }
    throw new Error("child did not become ready");
  }

  async kill9(): Promise<void> {
    this.proc?.kill("SIGKILL");
    await this.proc?.exited;
  }

  async stop(): Promise<void> {
    this.proc?.kill("SIGTERM");
    await this.proc?.exited;
  }
}
