import { describe, expect, it } from 'vitest';
import { crc32cUpdate } from './crc32c.js';

describe('crc32c', () => {
  it('matches the standard check value and is incremental', () => {
    expect(crc32cUpdate(0, Buffer.from('123456789'))).toBe(0xe3069283);
    const data = Buffer.from('The quick brown fox jumps over the lazy dog, twice: the quick brown fox.');
    for (let cut = 0; cut <= data.length; cut += 5) {
      expect(crc32cUpdate(crc32cUpdate(0, data.subarray(0, cut)), data.subarray(cut))).toBe(crc32cUpdate(0, data));
    }
    expect(crc32cUpdate(0, new Uint8Array(32))).toBe(0x8a9136aa);
  });
});
