// A binary min-heap of timed events, ordered by (time, insertion sequence), so events at
// the same virtual time run in the order they were scheduled: fully deterministic.

interface Slot<T> {
  readonly at: number;
  readonly seq: number;
  readonly ev: T;
}

export class EventQueue<T> {
  private heap: Slot<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(at: number, ev: T): void {
    const h = this.heap;
    h.push({ at, seq: this.seq++, ev });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i] as Slot<T>, h[p] as Slot<T>)) break;
      [h[i], h[p]] = [h[p] as Slot<T>, h[i] as Slot<T>];
      i = p;
    }
  }

  peekTime(): number | undefined {
    return this.heap[0]?.at;
  }

  pop(): { at: number; ev: T } | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop() as Slot<T>;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l] as Slot<T>, h[m] as Slot<T>)) m = l;
        if (r < h.length && this.less(h[r] as Slot<T>, h[m] as Slot<T>)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as Slot<T>, h[i] as Slot<T>];
        i = m;
      }
    }
    return { at: top.at, ev: top.ev };
  }

  private less(x: Slot<T>, y: Slot<T>): boolean {
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }
}
