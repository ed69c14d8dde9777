// Per-call counting without prom-client's work on every call. A labelled prom-client inc()
// (and the child that .labels() returns) hashes and validates the label set each time; under
// etcd's benchmark that was 2-3% of a member's busy time. A tally keeps the count for one fixed
// label set as a plain number and adds it to the counter when the counter is collected (every
// scrape, and every get()), so /metrics always shows exact values. HistogramTally does the same
// for one label set of a histogram: bucket counts, sum and count as plain numbers.

import type { Counter, Gauge, Histogram, LabelValues } from 'prom-client';

type Flush = () => void;
type Metric = Counter<string> | Gauge<string> | Histogram<string>;

/** The tallies of each metric, flushed by one collect hook per metric. */
const flushers = new WeakMap<Metric, Flush[]>();

function onCollect(metric: Metric, flush: Flush): void {
  let list = flushers.get(metric);
  if (!list) {
    list = [];
    flushers.set(metric, list);
    const all = list;
    const hooked = metric as unknown as { collect?: () => unknown };
    const previous = hooked.collect;
    hooked.collect = function (this: unknown) {
      for (const f of all) f();
      return previous?.call(this);
    };
  }
  list.push(flush);
}

/**
 * A label-less gauge that takes its value from `read` when it is collected (every scrape, every
 * get()), for figures that change on every request (applied index, pending proposals): a set()
 * per change hashed the empty label set each time.
 */
export function gaugeOnCollect(gauge: Gauge<string>, read: () => number): void {
  onCollect(gauge, () => gauge.set(read()));
}

export class CounterTally<T extends string> {
  private pending = 0;

  constructor(
    private readonly counter: Counter<T>,
    private readonly labels: LabelValues<T>,
  ) {
    onCollect(counter as unknown as Counter<string>, () => this.flush());
  }

  inc(by = 1): void {
    this.pending += by;
  }

  private flush(): void {
    if (this.pending === 0) return;
    const n = this.pending;
    this.pending = 0;
    this.counter.inc(this.labels, n);
  }
}

/** prom-client 15's per-label-set histogram record (lib/histogram.js createBaseValues). */
interface HistogramEntry {
  labels: Record<string, string | number>;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

interface HistogramInternals {
  readonly upperBounds: readonly number[];
  readonly hashMap: Record<string, HistogramEntry>;
}

export class HistogramTally<T extends string> {
  private readonly bounds: readonly number[];
  private readonly pending: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    private readonly histogram: Histogram<T>,
    private readonly labels: LabelValues<T>,
  ) {
    const h = histogram as unknown as HistogramInternals;
    if (!Array.isArray(h.upperBounds) || typeof h.hashMap !== 'object') throw new Error('HistogramTally: prom-client histogram internals changed');
    this.bounds = h.upperBounds;
    this.pending = new Float64Array(this.bounds.length);
    onCollect(histogram as unknown as Histogram<string>, () => this.flush());
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    if (i < b.length) this.pending[i]!++;
    this.sum += v;
    this.count++;
  }

  /** Adds the tally to the histogram's record of this label set (prom-client has no bulk observe). */
  private flush(): void {
    if (this.count === 0) return;
    const entry = this.entry();
    for (let i = 0; i < this.bounds.length; i++) {
      const n = this.pending[i]!;
      if (n === 0) continue;
      entry.bucketValues[this.bounds[i]!] = (entry.bucketValues[this.bounds[i]!] ?? 0) + n;
      this.pending[i] = 0;
    }
    entry.sum += this.sum;
    entry.count += this.count;
    this.sum = 0;
    this.count = 0;
  }

  private entry(): HistogramEntry {
    const find = (): HistogramEntry | undefined => {
      const want = this.labels as Record<string, string | number>;
      const keys = Object.keys(want);
      for (const e of Object.values((this.histogram as unknown as HistogramInternals).hashMap)) {
        if (Object.keys(e.labels).length === keys.length && keys.every((k) => String(e.labels[k]) === String(want[k]))) return e;
      }
      return undefined;
    };
    let e = find();
    if (!e) {
      this.histogram.zero(this.labels);
      e = find();
    }
    if (!e || typeof e.bucketValues !== 'object') throw new Error('HistogramTally: prom-client histogram internals changed');
    return e;
  }
}
