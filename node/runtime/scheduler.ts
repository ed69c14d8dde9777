// Time and timers for the member runtime, injected (as operator/controller/clock.ts does for the
// operator), so the whole member can run on simulated time in test/sim. Every part of the runtime
// takes its clock, its timers and its "later on the loop" from one Scheduler; none calls
// setTimeout, setImmediate, Date.now or performance.now itself.

import { performance } from 'node:perf_hooks';
import { setImmediate as yieldImmediate } from 'node:timers/promises';
import { setLongTimeout } from './long-timer.js';

export interface Scheduler {
  /** Wall-clock milliseconds (token expiry, request-id and member-id seeds). */
  nowMs(): number;
  /** Monotonic milliseconds (durations, apply slices, request deadlines, lease deadlines). */
  monoMs(): number;
  /** Runs `fn` once, `ms` from now. Returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
  /** Runs `fn` every `ms` until cancelled. Returns a cancel function. */
  every(ms: number, fn: () => void): () => void;
  /** Runs `fn` on a later turn of the event loop (after pending I/O). */
  soon(fn: () => void): void;
  /** Resolves on a later turn of the event loop: a long task yields here. */
  yield(): Promise<void>;
  /** Resolves `ms` from now. */
  sleep(ms: number): Promise<void>;
}

/** The process's own clocks and timers (bin/tsetcd). Timers keep the process alive, as before. */
export const realScheduler: Scheduler = {
  nowMs: () => Date.now(),
  monoMs: () => performance.now(),
  after: (ms, fn) => setLongTimeout(fn, ms),
  every(ms, fn) {
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  },
  soon(fn) {
    setImmediate(fn);
  },
  yield: () => yieldImmediate(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};
