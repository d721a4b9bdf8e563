/**
 * Lets one occurrence through per interval and counts the ones held back: for a log line that a lasting fault (a
 * full disk, a module not up yet) would otherwise repeat at every attempt.
 */
export class Throttle {
  private held = 0;
  private last = -Infinity;

  constructor(private readonly intervalMs: number) {}

  /** 0 to stay quiet; otherwise how many occurrences this one stands for (itself and those held back). */
  pass(): number {
    this.held++;
    const now = performance.now();
    if (now - this.last < this.intervalMs) return 0;
    this.last = now;
    const n = this.held;
    this.held = 0;
    return n;
  }
}
