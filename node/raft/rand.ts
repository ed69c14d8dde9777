// Seeded pseudo-random numbers for raft (election jitter) and the simulator.
// mulberry32: tiny, fast, good enough for jitter and fault schedules; never for secrets.
import type { Rng } from './types.js';

export class SeededRng implements Rng {
  private state: number;

  constructor(seed: number) {
    // Fold seeds above 2^32 in, so distinct large seeds stay distinct.
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) >>> 0;
    this.state = (lo ^ Math.imul(hi, 0x9e3779b1) ^ 0x6d2b79f5) | 0;
  }

  /** Next unsigned 32-bit value. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform integer in [0, n). */
  intn(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`intn: n must be a positive integer, got ${n}`);
    return Math.floor((this.nextUint32() / 4294967296) * n);
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.nextUint32() / 4294967296;
  }
}
