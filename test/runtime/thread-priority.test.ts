/**
 * Background threads yield the CPU to the event loop: their nice values, read back from /proc, after a pass and after
 * a real process start (Linux only: elsewhere the runtime leaves threads alone).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { lowerBackgroundThreads, MODEL_THREAD_NAME } from "../../src/runtime/thread-priority";
import { startTestProcess } from "../harness/deployment";

interface ThreadInfo {
  tid: number;
  name: string;
  nice: number;
}

function threads(): ThreadInfo[] {
  return readdirSync("/proc/self/task").flatMap((t) => {
    try {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, "utf8");
      // Fields after "(comm) ": the 19th field of the line, nice, is the 17th of these.
      const nice = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
      return [{ tid: Number(t), name: readFileSync(`/proc/self/task/${t}/comm`, "utf8").trim(), nice }];
    } catch {
      return []; // ended meanwhile
    }
  });
}

const idle = (name: string) => new Worker(URL.createObjectURL(new Blob(["setInterval(() => {}, 1000);"])), { name });

async function threadNamed(name: string, except: Set<number> = new Set()): Promise<ThreadInfo> {
  for (let i = 0; i < 200; i++) {
    const found = threads().find((t) => t.name === name && !except.has(t.tid));
    if (found) return found;
    await Bun.sleep(10);
  }
  throw new Error(`no thread named ${name}`);
}

describe.skipIf(process.platform !== "linux")("background thread priority", () => {
  const workers: Worker[] = [];
  afterAll(() => {
    for (const w of workers) w.terminate();
  });

  test("a pass lowers writer threads and leaves the event loop, model workers and the collector's threads", async () => {
    const before = new Set(threads().map((t) => t.tid));
    // "HeapHelper" stands in for the collector's threads, which a one-CPU machine may not have.
    workers.push(idle("cleave-sqlite"), idle(MODEL_THREAD_NAME), idle("HeapHelper"));
    const writer = await threadNamed("cleave-sqlite", before);
    const model = await threadNamed(MODEL_THREAD_NAME, before);
    const helper = await threadNamed("HeapHelper", before);
    expect(writer.nice).toBe(0); // a new thread starts at its creator's value

    expect(lowerBackgroundThreads(6)).toBeGreaterThan(0);
    const after = new Map(threads().map((t) => [t.tid, t]));
    expect(after.get(writer.tid)!.nice).toBe(6);
    expect(after.get(model.tid)!.nice).toBe(model.nice);
    expect(after.get(helper.tid)!.nice).toBe(helper.nice);
    expect(after.get(process.pid)!.nice).toBe(0);
    for (const t of after.values()) if (/Helper|ollector/.test(t.name)) expect(t.nice).toBe(0);
    // Already at least that low: nothing to do, and a smaller value never raises a thread's priority back.
    expect(lowerBackgroundThreads(6)).toBe(0);
    lowerBackgroundThreads(3);
    expect(threads().find((t) => t.tid === writer.tid)!.nice).toBe(6);
  });

  test("a process lowers its writer threads as it starts, by process.backgroundNice; 0 leaves them", async () => {
    const eventTypes = { tx: { fields: { amount: { type: "number" } } } };
    for (const [nice, expected] of [
      [0, 0],
      [9, 9],
    ]) {
      const before = new Set(threads().map((t) => t.tid));
      const p = await startTestProcess({ placement: "inprocess", modules: { ingestion: { eventTypes } }, extra: { process: { backgroundNice: nice } } });
      try {
        // The event log's checkpoint thread is one of the writers this process started.
        const started = threads().filter((t) => t.name === "cleave-sqlite" && !before.has(t.tid));
        expect(started.length).toBeGreaterThan(0);
        for (const t of started) expect(t.nice).toBe(expected);
        expect(threads().find((t) => t.tid === process.pid)!.nice).toBe(0);
      } finally {
        await p.close();
      }
    }
  });
});
