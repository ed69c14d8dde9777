import { describe, expect, it } from 'vitest';
import { FakeClock } from './clock.js';
import { WorkQueue } from './work-queue.js';

describe('WorkQueue', () => {
  it('dedupes keys and hands them out in order', async () => {
    const q = new WorkQueue(new FakeClock());
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.depth()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('never hands one key to two workers; a key added while processing runs again after done', async () => {
    const q = new WorkQueue(new FakeClock());
    q.add('a');
    const k = await q.get();
    q.add('a');
    expect(q.depth()).toBe(0);
    let got: string | null = null;
    void q.get().then((x) => (got = x));
    await Promise.resolve();
    expect(got).toBeNull();
    q.done(k as string);
    await Promise.resolve();
    expect(got).toBe('a');
  });

  it('backs off exponentially per key, capped, and forget resets it', () => {
    const clock = new FakeClock();
    const q = new WorkQueue(clock, { baseDelayMs: 100, maxDelayMs: 1000, maxKeys: 10 });
    expect([0, 1, 2, 3, 4, 10].map((n) => q.backoffMs(n))).toEqual([100, 200, 400, 800, 1000, 1000]);
    q.addRateLimited('a');
    clock.advance(99);
    expect(q.depth()).toBe(0);
    clock.advance(1);
    expect(q.depth()).toBe(1);
    expect(q.failuresOf('a')).toBe(1);
    q.forget('a');
    expect(q.failuresOf('a')).toBe(0);
  });

  it('addAfter keeps the earliest pending delay', () => {
    const clock = new FakeClock();
    const q = new WorkQueue(clock);
    q.addAfter('a', 1000);
    q.addAfter('a', 5000);
    q.addAfter('a', 500);
    expect(clock.pending()).toBe(1);
    clock.advance(500);
    expect(q.depth()).toBe(1);
  });

  it('is bounded', () => {
    const q = new WorkQueue(new FakeClock(), { baseDelayMs: 1, maxDelayMs: 1, maxKeys: 2 });
    q.add('a');
    q.add('b');
    q.add('c');
    expect(q.depth()).toBe(2);
    expect(q.dropped).toBe(1);
  });

  it('shutDown releases waiting workers with null', async () => {
    const q = new WorkQueue(new FakeClock());
    const p = q.get();
    q.shutDown();
    expect(await p).toBeNull();
    expect(await q.get()).toBeNull();
  });
});
