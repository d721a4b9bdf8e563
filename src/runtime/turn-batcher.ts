/**
 * Items queued under a key during one turn of the event loop, handed over together at its end, in groups whose sizes
 * add up to at most a limit (an item larger than the limit goes alone). The NATS transport sends a turn's calls to one
 * subject as one message with it; the decision module scores a turn's transactions together.
 */
export class TurnBatcher<T> {
  private queued = new Map<string, T[]>();
  private scheduled = false;

  constructor(
    private readonly limit: () => number,
    private readonly sizeOf: (item: T) => number,
    private readonly send: (key: string, items: T[]) => void,
  ) {}

  add(key: string, item: T): void {
    const list = this.queued.get(key);
    if (list) list.push(item);
    else this.queued.set(key, [item]);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = () => {
    this.scheduled = false;
    const queued = this.queued;
    this.queued = new Map();
    const limit = this.limit();
    for (const [key, items] of queued) {
      let group: T[] = [];
      let size = 0;
      for (const item of items) {
        const s = this.sizeOf(item);
        if (group.length && size + s > limit) {
          this.send(key, group);
          group = [];
          size = 0;
        }
        group.push(item);
        size += s;
      }
      this.send(key, group);
    }
  };
}
