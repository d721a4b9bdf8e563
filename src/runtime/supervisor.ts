/**
 * `cleave up`: starts a whole split topology on this machine for development — a local nats-server when the config
 * asks for one, then one `cleave serve --modules …` child per process (and replica) — restarts children that
 * crash, and on Ctrl-C stops them all in order: children drain first, nats-server last.
 */
import { type Subprocess, spawn } from "bun";
import { existsSync, mkdirSync } from "node:fs";
import { connect } from "node:net";
import type { LoadedConfig } from "./config/load";
import { resolveConfigPath } from "./config/load";
import type { Logger } from "./log";

/** How to start this same program again: the compiled binary alone, or bun with the entry script. */
export function selfCommand(): string[] {
  const entry = process.argv[1];
  const compiled = !entry || entry.startsWith("/$bunfs") || entry === process.execPath;
  return compiled ? [process.execPath] : [process.execPath, entry];
}

export function findNatsServer(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/usr/local/bin", "/usr/bin"])) {
    const p = `${dir}/nats-server`;
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

export async function waitForPort(port: number, timeoutMs: number, host = "127.0.0.1"): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host }, () => {
        s.end();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await Bun.sleep(50);
  }
  throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
}

interface Child {
  name: string;
  args: string[];
  proc?: Subprocess;
  restarts: number;
}

export async function up(config: LoadedConfig, log: Logger): Promise<{ stop: () => Promise<void>; done: Promise<void> }> {
  if (!config.file) throw new Error("cleave up needs a config file (--config)");
  if (config.up.processes.length === 0) {
    throw new Error(`${config.file}: key "up.processes" is empty: list the processes to start`);
  }
  let nats: Subprocess | undefined;
  if (config.up.nats.start) {
    const bin = findNatsServer();
    if (!bin) throw new Error("up.nats.start is true but nats-server is not installed (apt-get install nats-server)");
    const storeDir = resolveConfigPath(config, config.up.nats.storeDir);
    mkdirSync(storeDir, { recursive: true });
    nats = spawn([bin, "-a", "127.0.0.1", "-p", String(config.up.nats.port), "-js", "-sd", storeDir], {
      stdout: "inherit",
      stderr: "inherit",
    });
    await waitForPort(config.up.nats.port, 10_000);
    log.info({ port: config.up.nats.port, pid: nats.pid }, "nats-server started");
  }

  const children: Child[] = [];
  for (const p of config.up.processes) {
    for (let r = 0; r < p.replicas; r++) {
      const name = p.replicas > 1 ? `${p.name}-${r + 1}` : p.name;
      const http = p.httpPort !== null && r === 0 ? ["--http-port", String(p.httpPort)] : ["--no-http"];
      const args = ["serve", "--config", config.file, "--modules", p.modules.join(","), "--name", name, ...http];
      children.push({ name, args, restarts: 0 });
    }
  }

  let stopping = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const launch = (child: Child) => {
    const proc = spawn([...selfCommand(), ...child.args], { stdout: "inherit", stderr: "inherit", stdin: "ignore" });
    child.proc = proc;
    log.info({ process: child.name, pid: proc.pid }, "process started");
    void proc.exited.then((code) => {
      if (stopping) return;
      const delay = Math.min(10_000, 500 * 2 ** Math.min(child.restarts, 5));
      child.restarts++;
      log.warn({ process: child.name, code, restartInMs: delay }, "process exited unexpectedly; restarting");
      setTimeout(() => !stopping && launch(child), delay);
    });
  };
  children.forEach(launch);

  const stop = async () => {
    if (stopping) return done;
    stopping = true;
    log.info("stopping: children drain first, nats-server last");
    const grace = config.shutdown.drainTimeoutMs + 2_000;
    await Promise.all(
      children.map(async (c) => {
        if (!c.proc || c.proc.exitCode !== null) return;
        c.proc.kill("SIGTERM");
        const timer = setTimeout(() => c.proc?.kill("SIGKILL"), grace);
        await c.proc.exited;
        clearTimeout(timer);
      }),
    );
    if (nats) {
      nats.kill("SIGTERM");
      await nats.exited;
    }
    log.info("all processes stopped");
    resolveDone();
  };
  return { stop, done };
}
