// Waiters that all share one timeout (proposal waiters, linearizable reads): kept in the order
// they came, so they also expire in that order, and one timer armed for the oldest one's
// deadline serves them all. A timer per waiter (a Timeout, its callback and a cancel closure)
// costs a few hundred bytes held by every request in flight; under 1000 clients all of it lives
// long enough to be promoted to old space, and arming and clearing thousands of timers a second
// costs CPU besides.

import type { Scheduler } from './scheduler.js';

export interface Timed {
  /** The scheduler's monoMs() when the waiter came. */
  readonly startedMs: number;
}

export class FifoTimeouts<K, V extends Timed> {
  /** Insertion order is arrival order (a Map iterates in insertion order). */
  private readonly items = new Map<K, V>();
  private cancelTimer: (() => void) | undefined = undefined;
  private expiring = false;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly timeoutMs: number,
    /** A waiter's time is up; it is already removed. */
    private readonly onExpire: (key: K, value: V) => void,
  ) {}

  get size(): number {
    return this.items.size;
  }

  has(key: K): boolean {
    return this.items.has(key);
  }

  keys(): IterableIterator<K> {
    return this.items.keys();
  }

  /** Adds a waiter (its startedMs is now: later than every one already here). */
  add(key: K, value: V): void {
    this.items.set(key, value);
    if (!this.cancelTimer && !this.expiring) this.arm(this.timeoutMs);
  }

  /** Removes and returns a waiter (answered before its time). */
  take(key: K): V | undefined {
    const v = this.items.get(key);
    if (v === undefined) return undefined;
    this.items.delete(key);
    if (this.items.size === 0 && this.cancelTimer && !this.expiring) {
      this.cancelTimer();
      this.cancelTimer = undefined;
    }
    return v;
  }

  private arm(ms: number): void {
    this.cancelTimer = this.scheduler.after(ms, () => this.expire());
  }

  /** The timer fired: every waiter past its deadline expires, oldest first; then the timer waits for the next. */
  private expire(): void {
    this.cancelTimer = undefined;
    const now = this.scheduler.monoMs();
    this.expiring = true;
    try {
      for (const [key, v] of this.items) {
        // A timer may fire a fraction of a millisecond before the monotonic clock says so.
        const left = v.startedMs + this.timeoutMs - now;
        if (left > 1) return this.arm(left);
        this.items.delete(key);
        this.onExpire(key, v);
      }
    } finally {
      this.expiring = false;
    }
  }
}
