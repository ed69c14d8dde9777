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
    const expired: Array<[number, number]> = [];
    const f = new FifoTimeouts<{ startedMs: number }>(s, 100, (k) => expired.push([k, s.monoMs()]));
    f.add(1, { startedMs: s.monoMs() });
    s.advance(30);
    f.add(2, { startedMs: s.monoMs() });
    s.advance(20);
    f.add(3, { startedMs: s.monoMs() });
    expect(s.armed()).toBe(1);
    s.advance(49);
    expect(expired).toEqual([]);
    s.advance(1);
    expect(expired).toEqual([[1, 100]]);
    s.advance(30);
    expect(expired).toEqual([
      [1, 100],
      [2, 130],
    ]);
    s.advance(100);
    expect(expired.map((e) => e[1])).toEqual([100, 130, 150]);
    expect(f.size).toBe(0);
    expect(s.armed()).toBe(0);
  });

  it('a waiter taken before its deadline never expires; the timer fires once more and stops when none is left', () => {
    const s = manualScheduler();
    const expired: number[] = [];
    const f = new FifoTimeouts<{ startedMs: number }>(s, 100, (k) => expired.push(k));
    f.add(1, { startedMs: 0 });
    s.advance(10);
    f.add(2, { startedMs: 10 });
    expect(f.take(1)).toEqual({ startedMs: 0 });
    expect(f.take(1)).toBeUndefined();
    s.advance(95);
    expect(expired).toEqual([]);
    expect(f.has(2)).toBe(true);
    expect(f.take(2)).toBeDefined();
    s.advance(1000);
    expect(expired).toEqual([]);
    expect(s.armed()).toBe(0);
  });

  it('one waiter at a time (one client) arms one timer per timeout, not one per waiter, and each still expires on time', () => {
    const s = manualScheduler();
    let arms = 0;
    const after = s.after.bind(s);
    s.after = (ms, fn) => {
      arms++;
      return after(ms, fn);
    };
    const expired: Array<[number, number]> = [];
    const f = new FifoTimeouts<{ startedMs: number }>(s, 100, (k) => expired.push([k, s.monoMs()]));
    let key = 0;
    for (let i = 0; i < 50; i++) {
      f.add(++key, { startedMs: s.monoMs() });
      s.advance(1);
      expect(f.take(key)).toBeDefined();
    }
    expect(arms).toBe(1);
    expect(expired).toEqual([]);
    // The timer armed for the first waiter fires early for this one and waits for its deadline.
    f.add(++key, { startedMs: s.monoMs() });
    s.advance(99);
    expect(expired).toEqual([]);
    s.advance(1);
    expect(expired).toEqual([[51, 150]]);
    expect(s.armed()).toBe(0);
  });

  it('release() after the owner failed every waiter leaves no timer behind, and a later waiter still expires', () => {
    const s = manualScheduler();
    const expired: number[] = [];
    const f = new FifoTimeouts<{ startedMs: number }>(s, 100, (k) => expired.push(k));
    f.add(1, { startedMs: 0 });
    f.add(2, { startedMs: 0 });
    f.take(1);
    f.release();
    expect(s.armed()).toBe(1); // 2 still waits: its timer stays
    f.take(2);
    f.release();
    expect(s.armed()).toBe(0);
    f.add(3, { startedMs: 0 });
    s.advance(100);
    expect(expired).toEqual([3]);
  });

  it('a waiter added while others expire gets its full timeout', () => {
    const s = manualScheduler();
    const expired: Array<[number, number]> = [];
    const f = new FifoTimeouts<{ startedMs: number }>(s, 100, (k) => {
      expired.push([k, s.monoMs()]);
      if (k === 1) f.add(4, { startedMs: s.monoMs() });
    });
    f.add(1, { startedMs: 0 });
    s.advance(100);
    expect(expired).toEqual([[1, 100]]);
    expect(s.armed()).toBe(1);
    s.advance(100);
    expect(expired).toEqual([
      [1, 100],
      [4, 200],
    ]);
  });

  it('finds waiters taken out of order among thousands, keeps expiring the rest in order, and refuses a key out of order', () => {
    const s = manualScheduler();
    const expired: number[] = [];
    const f = new FifoTimeouts<{ startedMs: number }>(s, 100, (k) => expired.push(k));
    // Request-id-like keys with gaps; enough of them to make the ring grow several times.
    const keys = Array.from({ length: 5000 }, (_, i) => 1_000_000 + 3 * i);
    for (const k of keys) f.add(k, { startedMs: 0 });
    expect(() => f.add(keys[10]!, { startedMs: 0 })).toThrow(/out of order/);
    expect(f.take(keys[0]! + 1)).toBeUndefined(); // between two keys
    // Take every key but those divisible by 7 (by index), newest first, then the oldest ones.
    for (let i = keys.length - 1; i >= 0; i--) if (i % 7 !== 0) expect(f.take(keys[i]!)).toBeDefined();
    expect(f.take(keys[1]!)).toBeUndefined();
    const left = keys.filter((_, i) => i % 7 === 0);
    expect(f.size).toBe(left.length);
    expect(f.keys()).toEqual(left);
    expect(f.has(left[3]!)).toBe(true);
    expect(f.has(keys[3]!)).toBe(false);
    s.advance(100);
    expect(expired).toEqual(left);
    expect(f.size).toBe(0);
    expect(s.armed()).toBe(0);
    // Empty again, the ring takes keys from anywhere above the last one.
    f.add(9_999_999, { startedMs: 100 });
    expect(f.take(9_999_999)).toEqual({ startedMs: 100 });
  });
});
