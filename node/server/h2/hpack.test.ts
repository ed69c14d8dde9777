// HPACK for our HTTP/2 server: the Huffman code derived from its lengths against codes printed in
// RFC 7541 Appendix B, the RFC's Appendix C request examples (with and without Huffman, the
// dynamic table carried across blocks), eviction and size updates, and every decoding error.

import { describe, expect, it } from 'vitest';
import { CODE_LENGTHS, EOS, canonicalCodes, huffmanDecode } from './huffman.js';
import { HpackDecoder, HpackError, encodeBlock } from './hpack.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const pairs = (fields: string[]): Array<[string, string]> => fields.flatMap((_, i) => (i % 2 === 0 ? [[fields[i]!, fields[i + 1]!] as [string, string]] : []));

describe('Huffman code (RFC 7541 Appendix B)', () => {
  it('derives the printed codes from the lengths alone', () => {
    const codes = canonicalCodes(CODE_LENGTHS);
    // A sample of Appendix B: (symbol, code, bits).
    const printed: Array<[number, number, number]> = [
      [0, 0x1ff8, 13],
      [1, 0x7fffd8, 23],
      [10, 0x3ffffffc, 30],
      [32, 0x14, 6],
      [48, 0x0, 5],
      [97, 0x3, 5],
      [116, 0x9, 5],
      [92, 0x7fff0, 19],
      [127, 0xffffffc, 28],
      [200, 0x3ffffe2, 26],
      [255, 0x3ffffee, 26],
      [EOS, 0x3fffffff, 30],
    ];
    for (const [sym, code, bits] of printed) {
      expect(CODE_LENGTHS[sym], `length of ${sym}`).toBe(bits);
      expect(codes[sym], `code of ${sym}`).toBe(code);
    }
    // A complete prefix code: Kraft's sum is exactly 1.
    expect(CODE_LENGTHS.reduce((a, len) => a + 2 ** -len, 0)).toBe(1);
  });

  it('decodes the RFC examples and refuses EOS, long padding and padding with a 0 bit', () => {
    expect(huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff'))).toBe('www.example.com');
    expect(huffmanDecode(hex('a8eb 1064 9cbf'))).toBe('no-cache');
    expect(huffmanDecode(hex('25a8 49e9 5ba9 7d7f'))).toBe('custom-key');
    expect(huffmanDecode(hex('25a8 49e9 5bb8 e8b4 bf'))).toBe('custom-value');
    expect(huffmanDecode(Buffer.alloc(0))).toBe('');
    // 'a' (00011) + padding 111: fine. 'a' + padding 110: a 0 bit in the padding.
    expect(huffmanDecode(Buffer.from([0b00011111]))).toBe('a');
    expect(huffmanDecode(Buffer.from([0b00011110]))).toBeUndefined();
    // 'a' then a whole byte of 1s: 11 bits of padding.
    expect(huffmanDecode(Buffer.from([0b00011111, 0xff]))).toBeUndefined();
    // EOS itself (30 ones) then 2 bits of padding.
    expect(huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toBeUndefined();
  });
});

describe('HpackDecoder', () => {
  it('decodes RFC 7541 C.3 (no Huffman) and C.4 (Huffman), the dynamic table carried across blocks', () => {
    for (const blocks of [
      [
        '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
        '8286 84be 5808 6e6f 2d63 6163 6865',
        '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
      ],
      ['8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', '8286 84be 5886 a8eb 1064 9cbf', '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'],
    ]) {
      const d = new HpackDecoder();
      const got = blocks.map((b) => pairs(d.decode(hex(b), 1 << 20).fields));
      expect(got[0]).toEqual([
        [':method', 'GET'],
        [':scheme', 'http'],
        [':path', '/'],
        [':authority', 'www.example.com'],
      ]);
      expect(got[1]).toEqual([
        [':method', 'GET'],
        [':scheme', 'http'],
        [':path', '/'],
        [':authority', 'www.example.com'],
        ['cache-control', 'no-cache'],
      ]);
      expect(got[2]).toEqual([
        [':method', 'GET'],
        [':scheme', 'https'],
        [':path', '/index.html'],
        [':authority', 'www.example.com'],
        ['custom-key', 'custom-value'],
      ]);
    }
  });

  it('evicts the oldest entries past the table size, and a size update shrinks the table', () => {
    const d = new HpackDecoder();
    // Literal with incremental indexing, new name: 0x40, name, value (each entry 32 + 2 + 1 octets).
    const add = (name: string, value: string): Buffer => Buffer.concat([Buffer.from([0x40, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
    // Size update to 70 (0x20 | 31, 39): room for two 35-octet entries.
    d.decode(Buffer.concat([Buffer.from([0x3f, 39]), add('aa', 'x'), add('bb', 'y'), add('cc', 'z')]), 1 << 20);
    // Index 62 is the newest ('cc'), 63 the one before ('bb'); 'aa' was evicted.
    expect(d.decode(Buffer.from([0x80 | 62, 0x80 | 63]), 1 << 20).fields).toEqual(['cc', 'z', 'bb', 'y']);
    expect(() => d.decode(Buffer.from([0x80 | 64]), 1 << 20)).toThrow(HpackError);
    // A size update to 35 evicts down to one entry.
    expect(d.decode(Buffer.from([0x20 | 31, 4, 0x80 | 62]), 1 << 20).fields).toEqual(['cc', 'z']);
    expect(() => d.decode(Buffer.from([0x80 | 63]), 1 << 20)).toThrow(HpackError);
    // An entry larger than the table empties it (not an error).
    d.decode(add('a-long-name', 'a-long-value'), 1 << 20);
    expect(() => d.decode(Buffer.from([0x80 | 62]), 1 << 20)).toThrow(HpackError);
  });

  it('refuses index 0, indexes past the tables, size updates above the limit or after a field, truncation, bad Huffman', () => {
    const bad = ['80', 'ff00', '3fe21f', '82 20', '0f', '00 05 61', '00 81 fe 00', '7f ff ff ff ff ff 01', '00 ff ff ff ff 0f'];
    for (const b of bad) expect(() => new HpackDecoder().decode(hex(b), 1 << 20), b).toThrow(HpackError);
  });

  it('keeps decoding past the header list limit, flagging it and keeping nothing more', () => {
    const block = encodeBlock([
      ['a', 'x'.repeat(40)],
      ['b', 'y'],
    ]);
    const r = new HpackDecoder().decode(block, 80);
    expect(r.tooLarge).toBe(true);
    expect(r.fields).toEqual(['a', 'x'.repeat(40)]);
    expect(r.listSize).toBe(32 + 41 + 32 + 2);
  });

  it('reads what encodeBlock writes: static pairs, static names, new names, long values', () => {
    const fields: Array<[string, string]> = [
      [':status', '200'],
      ['content-type', 'application/grpc+proto'],
      ['grpc-message', 'x'.repeat(300)],
      ['grpc-status', '0'],
    ];
    const b = encodeBlock(fields);
    expect(b[0]).toBe(0x88);
    expect(pairs(new HpackDecoder().decode(b, 1 << 20).fields)).toEqual(fields);
  });
});
