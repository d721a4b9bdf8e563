/** A real `cleave serve` child process on a temp config, for crash tests (kill -9, restart on the same data). */
import { type Subprocess, spawn } from "bun";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../harness/nats-server";

export class Child {
  proc?: Subprocess;
  private constructor(readonly configFile: string, readonly url: string) {}

  static async create(dir: string, modules: object): Promise<Child> {
    const port = await freePort();
    const configFile = join(dir, "cleave.yaml");
    const config = { deployment: "crash", dataDir: join(dir, "data"), modules, http: { port }, log: { level: "warn" } };
    writeFileSync(configFile, JSON.stringify(config));
    return new Child(configFile, `http://127.0.0.1:${port}`);
  }

  async start(): Promise<void> {
    this.proc = spawn(["bun", "src/cli/main.ts", "serve", "--config", this.configFile], { stdout: "ignore", stderr: "ignore" });
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      try {
        if ((await fetch(`${this.url}/readyz`)).ok) return;
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
