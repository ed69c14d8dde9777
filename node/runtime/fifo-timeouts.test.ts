import { describe, expect, it } from 'vitest';
import { FifoTimeouts } from './fifo-timeouts.js';
import type { Scheduler } from './scheduler.js';

/** A scheduler on manual time: advance(ms) runs the timers that come due, in order. */
function manualScheduler(): Scheduler & { advance(ms: number): void; armed(): number } {
  let t = 0;
  let timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  return {
    nowMs: () => t,
    monoMs: () => t,
    after(ms, fn) {
      const timer = { at: t + ms, fn, live: true };
      timers.push(timer);
      return () => void (timer.live = false);
    },
    every: () => () => undefined,
    soon: (fn) => fn(),
    yield: async () => undefined,
    sleep: async () => undefined,
    advance(ms) {
      const end = t + ms;
      for (;;) {
        const due = timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        t = due.at;
        due.live = false;
        due.fn();
      }
      t = end;
      timers = timers.filter((x) => x.live);
    },
    armed: () => timers.filter((x) => x.live).length,
  };
}

describe('FifoTimeouts (one timer for waiters that share a timeout)', () => {
  it('expires each waiter at its own deadline, oldest first, with one timer armed', () => {
    const s = manualScheduler();
    const expired: Array<[string, number]> = [];
    const f = new FifoTimeouts<string, { startedMs: number }>(s, 100, (k) => expired.push([k, s.monoMs()]));
    f.add('a', { startedMs: s.monoMs() });
    s.advance(30);
    f.add('b', { startedMs: s.monoMs() });
    s.advance(20);
    f.add('c', { startedMs: s.monoMs() });
    expect(s.armed()).toBe(1);
    s.advance(49);
    expect(expired).toEqual([]);
    s.advance(1);
    expect(expired).toEqual([['a', 100]]);
    s.advance(30);
    expect(expired).toEqual([
      ['a', 100],
      ['b', 130],
    ]);
    s.advance(100);
    expect(expired.map((e) => e[1])).toEqual([100, 130, 150]);
    expect(f.size).toBe(0);
    expect(s.armed()).toBe(0);
  });

  it('a waiter taken before its deadline never expires; the timer goes when none is left', () => {
    const s = manualScheduler();
    const expired: string[] = [];
    const f = new FifoTimeouts<string, { startedMs: number }>(s, 100, (k) => expired.push(k));
    f.add('a', { startedMs: 0 });
    s.advance(10);
    f.add('b', { startedMs: 10 });
    expect(f.take('a')).toEqual({ startedMs: 0 });
    expect(f.take('a')).toBeUndefined();
    s.advance(95);
    expect(expired).toEqual([]);
    expect(f.has('b')).toBe(true);
    expect(f.take('b')).toBeDefined();
    expect(s.armed()).toBe(0);
    s.advance(1000);
    expect(expired).toEqual([]);
  });

  it('a waiter added while others expire gets its full timeout', () => {
    const s = manualScheduler();
    const expired: Array<[string, number]> = [];
    const f = new FifoTimeouts<string, { startedMs: number }>(s, 100, (k) => {
      expired.push([k, s.monoMs()]);
      if (k === 'a') f.add('late', { startedMs: s.monoMs() });
    });
    f.add('a', { startedMs: 0 });
    s.advance(100);
    expect(expired).toEqual([['a', 100]]);
    expect(s.armed()).toBe(1);
    s.advance(100);
    expect(expired).toEqual([
      ['a', 100],
      ['late', 200],
    ]);
  });
});
