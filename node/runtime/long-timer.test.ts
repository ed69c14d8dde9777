import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, setLongTimeout } from './long-timer.js';

describe('setLongTimeout', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires a delay beyond 2^31-1 ms at its time, not after 1 ms', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const sixtyDays = 60 * 24 * 3600 * 1000;
    setLongTimeout(fn, sixtyDays);
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(sixtyDays - MAX_TIMER_MS - 1);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('cancels in every step', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const cancel = setLongTimeout(fn, 3 * MAX_TIMER_MS);
    vi.advanceTimersByTime(MAX_TIMER_MS + 5);
    cancel();
    vi.advanceTimersByTime(3 * MAX_TIMER_MS);
    expect(fn).not.toHaveBeenCalled();
  });

  it('on real timers, a 60-day delay neither fires before a 20 ms timer armed after it nor warns', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    const fn = vi.fn();
    const cancel = setLongTimeout(fn, 60 * 24 * 3600 * 1000, true);
    // Timers of equal start fire by expiry: a 1 ms overflow would run before this one.
    await new Promise((r) => setTimeout(r, 20));
    cancel();
    process.off('warning', onWarning);
    expect(fn).not.toHaveBeenCalled();
    expect(warnings).not.toContain('TimeoutOverflowWarning');
  });
});
