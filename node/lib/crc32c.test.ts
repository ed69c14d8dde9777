import { describe, expect, it } from 'vitest';
import { crc32c, crc32cUpdate } from './crc32c.js';

// Bit-at-a-time reference, to check the slice-by-16 tables (and their word loop) against.
function slow(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

describe('crc32c', () => {
  it('matches the standard check value', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });

  it('matches known vectors (RFC 3720 B.4)', () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
  });

  it('agrees with the bitwise reference at every length and alignment, and streams', () => {
    const buf = Uint8Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff);
    for (let start = 0; start < 9; start++) {
      for (let end = start; end <= 300; end += 7) {
        expect(crc32c(buf, start, end)).toBe(slow(buf.subarray(start, end)));
      }
    }
    for (let cut = 0; cut <= 300; cut += 13) {
      expect(crc32cUpdate(crc32c(buf, 0, cut), buf, cut)).toBe(crc32c(buf));
    }
  });
});

describe('crc32cUpdate', () => {
  it('is incremental: any split of the input gives the same CRC', () => {
    const data = new TextEncoder().encode('The quick brown fox jumps over the lazy dog, twice: the quick brown fox.');
    for (let cut = 0; cut <= data.length; cut += 5) {
      expect(crc32cUpdate(crc32cUpdate(0, data.subarray(0, cut)), data.subarray(cut))).toBe(crc32c(data));
    }
  });
});
