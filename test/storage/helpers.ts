// Shared helpers for the storage tests: a seeded PRNG, entry builders, a collecting logger.
import type { Entry, Rng } from '../../node/raft/types.js';
import { createLogger, type Logger } from '../../node/log.js';
import { crc32c, crc32cUpdate } from '../../node/lib/crc32c.js';
import type { WalFile, WalFs } from '../../node/storage/fs.js';

/** `inner` with every file it opens passed through `wrap` (a test watches or delays its calls). */
export function wrapOpenedFiles(inner: WalFs, wrap: (path: string, f: WalFile) => WalFile): WalFs {
  return new Proxy(inner, {
    get(t, k) {
      if (k === 'open') return async (path: string, mode: 'create' | 'write') => wrap(path, await t.open(path, mode));
      const v: unknown = Reflect.get(t, k);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

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

/**
 * The bytes a member wrote before 2026-12-02: each frame of a segment (at `offsets`, those of its
 * valid frames) relabelled as CRC-32C (header byte 5 = 0) with its CRC-32C.
 */
export function withCrc32cFrames(segment: Uint8Array, offsets: readonly number[]): Uint8Array {
  const out = segment.slice();
  const dv = new DataView(out.buffer);
  for (const p of offsets) {
    out[p + 5] = 0;
    const len = dv.getUint32(p, true);
    dv.setUint32(p + 8, crc32cUpdate(crc32c(out, p, p + 8), out, p + 12, p + 12 + len), true);
  }
  return out;
}

/** A snapshot file as written before 2026-12-02: magic "TSSNAP01", its CRC-32C in the trailer. */
export function withCrc32cSnapshotFile(file: Uint8Array): Uint8Array {
  const out = file.slice();
  out.set(new TextEncoder().encode('TSSNAP01'), 0);
  const trailer = out.length - 20;
  new DataView(out.buffer).setUint32(trailer, crc32c(out, 12, trailer), true);
  return out;
}
