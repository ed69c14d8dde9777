import { describe, expect, it } from 'vitest';
import { Counter, Registry } from 'prom-client';
import { CounterTally } from './counter-tally.js';

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
