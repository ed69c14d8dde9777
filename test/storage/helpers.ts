// Shared helpers for the storage tests: a seeded PRNG, entry builders, a collecting logger.
import type { Entry, Rng } from '../../node/raft/types.js';
import { createLogger, type Logger } from '../../node/log.js';

/** mulberry32: small, fast, seeded. */
export class TestRng implements Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  intn(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** Deterministic payload for (index, term) so recovery can be checked byte for byte. */
export function payload(index: number, term: number, size = 8): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (index * 31 + term * 7 + i) & 0xff;
  return b;
}

export function entry(index: number, term: number, size = 8): Entry {
  return { index, term, type: 'normal', data: payload(index, term, size) };
}

export function entries(from: number, to: number, term: number, size = 8): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term, size));
  return out;
}

export function collectingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    component: 'storage-test',
    level: 'debug',
    sink: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  return { logger, lines };
}

export function seedFromEnv(fallback: number): number {
  const s = process.env['STORAGE_TEST_SEED'];
  return s ? Number(s) : fallback;
}
