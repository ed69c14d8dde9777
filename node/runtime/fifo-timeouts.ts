// Waiters that all share one timeout (proposal waiters, linearizable reads): kept in the order
// they came, so they also expire in that order, and one timer armed for the oldest one's
// deadline serves them all. A timer per waiter (a Timeout, its callback and a cancel closure)
// costs a few hundred bytes held by every request in flight; under 1000 clients all of it lives
// long enough to be promoted to old space, and arming and clearing thousands of timers a second
// costs CPU besides.
//
// The waiters sit in a ring in arrival order, found by key with a binary search (keys increase
// with arrival: request ids, a read counter). Not a Map: a Map that lives in old space and has
// an entry added and deleted per request allocates each resized or rehashed table directly in
// old space, garbage that only a full GC frees (~40 bytes per request measured under reads).

import type { Scheduler } from './scheduler.js';

export interface Timed {
  /** The scheduler's monoMs() when the waiter came. */
  readonly startedMs: number;
}

export class FifoTimeouts<V extends Timed> {
  /** Slot i of the ring holds keys[i] and vals[i]; vals[i] undefined: taken. */
  private keysRing = new Float64Array(16);
  private vals: Array<V | undefined> = new Array<V | undefined>(16).fill(undefined);
  /** The oldest slot, always a waiting one when len > 0. */
  private head = 0;
  /** Slots from head in use, taken ones between waiting ones included. */
  private len = 0;
  private waiting = 0;
  private cancelTimer: (() => void) | undefined = undefined;
  private expiring = false;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly timeoutMs: number,
    /** A waiter's time is up; it is already removed. */
    private readonly onExpire: (key: number, value: V) => void,
  ) {}

  get size(): number {
    return this.waiting;
  }

  has(key: number): boolean {
    return this.find(key) >= 0;
  }

  /** The waiting keys, oldest first. */
  keys(): number[] {
    const out: number[] = [];
    const mask = this.vals.length - 1;
    for (let i = 0; i < this.len; i++) {
      const s = (this.head + i) & mask;
      if (this.vals[s] !== undefined) out.push(this.keysRing[s]!);
    }
    return out;
  }

  /** Adds a waiter: its key is larger than every key added before, its startedMs is now. */
  add(key: number, value: V): void {
    const cap = this.vals.length;
    if (this.len > 0 && key <= this.keysRing[(this.head + this.len - 1) & (cap - 1)]!) throw new Error(`FifoTimeouts: key ${key} added out of order`);
    if (this.len === cap) this.grow();
    const s = (this.head + this.len) & (this.vals.length - 1);
    this.keysRing[s] = key;
    this.vals[s] = value;
    this.len++;
    this.waiting++;
    if (!this.cancelTimer && !this.expiring) this.arm(this.timeoutMs);
  }

  /** Removes and returns a waiter (answered before its time). */
  take(key: number): V | undefined {
    const s = this.find(key);
    if (s < 0) return undefined;
    const v = this.vals[s]!;
    this.vals[s] = undefined;
    this.waiting--;
    this.dropTakenHead();
    // The timer stays armed when the last waiter leaves: under one client every request would
    // otherwise arm a Node timer and clear it again (setTimeout, clearTimeout, and the timer
    // list Node creates and drops for that duration each time). Firing with nobody waiting, it
    // ends without re-arming (expire); a waiter added meanwhile is re-armed for its own
    // deadline there.
    return v;
  }

  /** Cancels the timer if nobody waits (the owner failed them all: the member stops); a later add arms it again. */
  release(): void {
    if (this.waiting > 0 || this.expiring) return;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  /** The slot of a waiting key, or -1. */
  private find(key: number): number {
    const mask = this.vals.length - 1;
    let lo = 0;
    let hi = this.len;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keysRing[(this.head + mid) & mask]! < key) lo = mid + 1;
      else hi = mid;
    }
    if (lo === this.len) return -1;
    const s = (this.head + lo) & mask;
    return this.keysRing[s] === key && this.vals[s] !== undefined ? s : -1;
  }

  private dropTakenHead(): void {
    const mask = this.vals.length - 1;
    while (this.len > 0 && this.vals[this.head] === undefined) {
      this.head = (this.head + 1) & mask;
      this.len--;
    }
    if (this.len === 0) this.head = 0;
  }

  /** Twice the slots, oldest at slot 0. */
  private grow(): void {
    const cap = this.vals.length;
    const keys = new Float64Array(cap * 2);
    const vals = new Array<V | undefined>(cap * 2).fill(undefined);
    for (let i = 0; i < this.len; i++) {
      const s = (this.head + i) & (cap - 1);
      keys[i] = this.keysRing[s]!;
      vals[i] = this.vals[s];
    }
    this.keysRing = keys;
    this.vals = vals;
    this.head = 0;
  }

  private arm(ms: number): void {
    this.cancelTimer = this.scheduler.after(ms, () => this.expire());
  }

  /** The timer fired: every waiter past its deadline expires, oldest first; then the timer waits for the next (none if nobody waits). */
  private expire(): void {
    this.cancelTimer = undefined;
    const now = this.scheduler.monoMs();
    this.expiring = true;
    try {
      while (this.len > 0) {
        const s = this.head;
        const v = this.vals[s]!;
        // A timer may fire a fraction of a millisecond before the monotonic clock says so.
        const left = v.startedMs + this.timeoutMs - now;
        if (left > 1) return this.arm(left);
        const key = this.keysRing[s]!;
        this.vals[s] = undefined;
        this.waiting--;
        this.dropTakenHead();
        this.onExpire(key, v);
      }
    } finally {
      this.expiring = false;
    }
  }
}
