import { describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CounterTally, gaugeOnCollect, HistogramTally } from './counter-tally.js';

function counter(registry: Registry, collect?: () => void): Counter<'m'> {
  return new Counter({ name: 'calls_total', help: 'calls', labelNames: ['m'], registers: [registry], ...(collect ? { collect } : {}) });
}

describe('CounterTally', () => {
  it('shows exact counts at every scrape, per label set, and adds no series it never counted', async () => {
    const registry = new Registry();
    const c = counter(registry);
    const a = new CounterTally(c, { m: 'a' });
    const b = new CounterTally(c, { m: 'b' });
    new CounterTally(c, { m: 'never' });
    a.inc();
    a.inc();
    b.inc(5);
    expect(await registry.metrics()).toContain('calls_total{m="a"} 2');
    expect(await registry.metrics()).toContain('calls_total{m="b"} 5');
    a.inc();
    const values = (await c.get()).values.map((v) => [v.labels['m'], v.value]);
    expect(values).toEqual([
      ['a', 3],
      ['b', 5],
    ]);
  });

  it('keeps a collect hook the counter already had', async () => {
    const registry = new Registry();
    let collected = 0;
    const c = counter(registry, () => void collected++);
    new CounterTally(c, { m: 'a' }).inc();
    await registry.metrics();
    expect(collected).toBe(1);
    expect(await registry.metrics()).toContain('calls_total{m="a"} 1');
  });
});

describe('gaugeOnCollect', () => {
  it('shows the value read at each scrape, with no set() in between', async () => {
    const registry = new Registry();
    const g = new Gauge({ name: 'applied_index', help: 'applied', registers: [registry] });
    let applied = 7;
    gaugeOnCollect(g, () => applied);
    expect(await registry.metrics()).toContain('applied_index 7');
    applied = 12;
    expect(await registry.metrics()).toContain('applied_index 12');
    expect((await g.get()).values[0]?.value).toBe(12);
  });
});

/** Exposition lines in a fixed order, sums to 9 digits (a tally adds the same values in another order). */
const lines = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => (/_sum\{/.test(l) ? l.replace(/ (\S+)$/, (_, v: string) => ` ${Number(v).toPrecision(9)}`) : l))
    .sort();

describe('HistogramTally', () => {
  it('exposes exactly what direct observes give, per label set, across scrapes', async () => {
    const buckets = [0.001, 0.01, 0.1, 1];
    const direct = new Registry();
    const tallied = new Registry();
    const hd = new Histogram({ name: 'op_seconds', help: 'ops', labelNames: ['op'], buckets, registers: [direct] });
    const ht = new Histogram({ name: 'op_seconds', help: 'ops', labelNames: ['op'], buckets, registers: [tallied] });
    const tallies = { Put: new HistogramTally(ht, { op: 'Put' }), Txn: new HistogramTally(ht, { op: 'Txn' }) };
    new HistogramTally(ht, { op: 'never' });
    // Seeded values, some on a bound, some above every bound.
    let x = 7;
    const next = (): number => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 50; i++) {
        const op = i % 3 === 0 ? 'Txn' : 'Put';
        const v = i === 5 ? 0.01 : next() ** 4;
        hd.observe({ op }, v);
        tallies[op].observe(v);
      }
      expect(lines(await tallied.metrics())).toEqual(lines(await direct.metrics()));
    }
    expect(await tallied.metrics()).not.toContain('op="never"');
  });
});
