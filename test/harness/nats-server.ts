/**
 * Starts a real nats-server (Debian's package) on a free port for a test file, with JetStream in a temp dir.
 * It can be killed and restarted on the same port to test reconnection.
 */
import { type Subprocess, spawn } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findNatsServer, waitForPort } from "../../src/runtime/supervisor";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface NatsServerOptions {
  /** A nats-server config file (`-c`), e.g. users and permissions; port and store dir still come from here. */
  config?: string;
  /** More command-line arguments, e.g. `["--tls", …]`. */
  args?: string[];
  /** Environment of the server, over this process's (config files may read `$VAR`s). */
  env?: Record<string, string>;
}

export class NatsServer {
  proc?: Subprocess;
  readonly storeDir = mkdtempSync(join(tmpdir(), "cleave-nats-"));

  private constructor(
    readonly port: number,
    private readonly opts: NatsServerOptions = {},
  ) {}

  get url() {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(opts: NatsServerOptions = {}): Promise<NatsServer> {
    return NatsServer.startOn(await freePort(), opts);
  }

  static async startOn(port: number, opts: NatsServerOptions = {}): Promise<NatsServer> {
    const server = new NatsServer(port, opts);
    await server.restart();
    return server;
  }

  async restart(): Promise<void> {
    const bin = findNatsServer();
    if (!bin) throw new Error("nats-server is not installed: run `bash scripts/test.sh` (it installs it) or apt-get install nats-server");
    const config = this.opts.config ? ["-c", this.opts.config] : [];
    this.proc = spawn([bin, ...config, "-a", "127.0.0.1", "-p", String(this.port), "-js", "-sd", this.storeDir, ...(this.opts.args ?? [])], {
      stdout: "ignore",
      stderr: "ignore",
      env: { ...process.env, ...this.opts.env },
    });
    await waitForPort(this.port, 10_000);
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    this.proc?.kill(signal);
    await this.proc?.exited;
  }

  async stop(): Promise<void> {
    await this.kill("SIGTERM");
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}
