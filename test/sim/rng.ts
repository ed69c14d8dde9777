// A small seeded PRNG for the simulator (sfc32 seeded through splitmix32).
// Every random choice in a simulated run comes from one of these, derived from the run's seed,
// so the same seed replays the same run. Never Math.random here.
import type { Rng } from '../../node/raft/types.js';

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class SimRng implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    const st = { s: (seed ^ Math.imul(stream + 1, 0x27d4eb2d)) | 0 };
    // Mix the high bits of large seeds in too.
    st.s = (st.s + Math.floor(seed / 0x100000000)) | 0;
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st) | 1;
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** Uniform unsigned 32-bit integer. */
  nextU32(): number {
    const a = this.a, b = this.b, c = this.c, d = this.d;
    const t = (((a + b) | 0) + d) | 0;
    this.d = (d + 1) | 0;
    this.a = b ^ (b >>> 9);
    this.b = (c + (c << 3)) | 0;
    this.c = ((c << 21) | (c >>> 11)) + t;
    this.c |= 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.nextU32() / 0x100000000;
  }

  /** Uniform integer in [0, n). */
  intn(n: number): number {
    if (!(n > 0)) throw new Error(`intn: n must be positive, got ${n}`);
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  range(lo: number, hi: number): number {
    return lo + this.intn(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.intn(items.length)] as T;
  }

  /** An independent generator for a named sub-stream (e.g. one per node incarnation). */
  fork(stream: number): SimRng {
    return new SimRng(this.nextU32(), stream);
  }
}
