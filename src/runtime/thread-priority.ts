/**
 * The event loop answers requests; most of the process's other threads (SQLite writer threads, the JavaScript
 * engine's compiler threads, the allocator's scavenger) do work that can wait a moment. On a small machine they
 * share the cores with the event loop, and one that wakes up on its core preempts it: at 2k req/s the event loop
 * was switched out ~1,400 times a second, and the requests in hand waited. A higher nice value for those threads
 * lets the event loop run first (docs/benchmarks-decision.md, "Session 10").
 *
 * Linux only: threads are the entries of /proc/self/task, and setpriority on a thread id applies to that thread
 * alone. Threads keep appearing after start (compiler threads at the first compilations, writers as modules open
 * their files), so the pass is repeated.
 */
import { readdirSync, readFileSync } from "node:fs";
import { getPriority, setPriority } from "node:os";

/** Model workers run the inference that requests wait for (see inference/executor.ts): left as they are. */
export const MODEL_THREAD_NAME = "cleave-model";

/**
 * Also left as they are: the garbage collector's threads (JavaScriptCore's "Heap Collector Thread", "HeapHelper"
 * and its helper pool; thread names keep their last 15 characters). The event loop waits for them during a
 * collection's pauses, and lowering them too made the tail no better than leaving them.
 */
const KEPT = new RegExp(`^${MODEL_THREAD_NAME}|Helper|ollector`);

/** Gives every thread of this process but the main one and the KEPT ones at least `nice`; how many it changed. */
export function lowerBackgroundThreads(nice: number): number {
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch {
    return 0; // not Linux
  }
  let lowered = 0;
  for (const t of tids) {
    const tid = Number(t);
    if (tid === process.pid) continue;
    try {
      if (getPriority(tid) >= nice) continue;
      if (KEPT.test(readFileSync(`/proc/self/task/${t}/comm`, "utf8"))) continue;
      setPriority(tid, nice);
      lowered++;
    } catch {
      // The thread ended between the listing and now.
    }
  }
  return lowered;
}

/** Lowers the background threads now and every `everyMs`; returns the function that stops it. `nice` 0: nothing. */
export function keepBackgroundThreadsLow(nice: number, everyMs = 10_000): () => void {
  if (nice === 0 || process.platform !== "linux") return () => {};
  lowerBackgroundThreads(nice);
  const timer = setInterval(() => lowerBackgroundThreads(nice), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
