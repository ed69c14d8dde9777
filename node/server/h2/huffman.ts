// HPACK's Huffman code (RFC 7541 Appendix B), decoding only. The code is canonical: codes of
// one length are consecutive in symbol order, each length's first code following the previous
// length's last. So the table below is only each symbol's code length (256 bytes and EOS); the
// codes are derived from it, and hpack.test.ts checks them against codes printed in the RFC.

// prettier-ignore
export const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0-15
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 16-31
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, //          32-47  ' ' to '/'
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, //              48-63  '0' to '?'
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, //                64-79  '@' to 'O'
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, //             80-95  'P' to '_'
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, //                96-111 '`' to 'o'
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, //            112-127 'p' to DEL
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128-143
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144-159
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160-175
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176-191
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192-207
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208-223
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224-239
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240-255
  30, //                                                             256 EOS
];

export const EOS = 256;

/** Each symbol's code, from the lengths (canonical order: by length, then symbol). */
export function canonicalCodes(lengths: readonly number[]): number[] {
  const order = lengths.map((len, sym) => ({ len, sym })).sort((a, b) => a.len - b.len || a.sym - b.sym);
  const codes = new Array<number>(lengths.length).fill(0);
  let code = 0;
  let prevLen = order[0]!.len;
  for (const { len, sym } of order) {
    code *= 2 ** (len - prevLen);
    prevLen = len;
    codes[sym] = code;
    code++;
  }
  return codes;
}

/**
 * The decoding tree: node n's children at [2n] (bit 0) and [2n + 1] (bit 1); a child > 0 is a
 * node, < 0 is the leaf -(symbol + 1), 0 is no child (a code the table does not have).
 */
const TREE = ((): Int32Array => {
  const codes = canonicalCodes(CODE_LENGTHS);
  const tree = new Int32Array(2 * 512);
  let nodes = 1;
  for (let sym = 0; sym < CODE_LENGTHS.length; sym++) {
    const len = CODE_LENGTHS[sym]!;
    const code = codes[sym]!;
    let n = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = Math.floor(code / 2 ** i) & 1;
      const slot = 2 * n + bit;
      if (i === 0) tree[slot] = -(sym + 1);
      else {
        if (tree[slot] === 0) tree[slot] = nodes++;
        n = tree[slot]!;
      }
    }
  }
  return tree;
})();

let scratch = Buffer.allocUnsafe(256);

/**
 * Decodes a Huffman string (latin1), or undefined when it is invalid: the EOS symbol inside it,
 * padding longer than 7 bits, or padding that is not the EOS code's leading 1 bits.
 */
export function huffmanDecode(src: Buffer): string | undefined {
  // Shortest code is 5 bits: at most 8/5 symbols per byte.
  const most = Math.ceil((src.length * 8) / 5);
  if (scratch.length < most) scratch = Buffer.allocUnsafe(Math.max(most, scratch.length * 2));
  const out = scratch;
  let o = 0;
  let n = 0;
  let bitsSinceSym = 0;
  let allOnes = true;
  for (let i = 0; i < src.length; i++) {
    const byte = src[i]!;
    for (let shift = 7; shift >= 0; shift--) {
      const bit = (byte >> shift) & 1;
      const next = TREE[2 * n + bit]!;
      if (next < 0) {
        const sym = -next - 1;
        if (sym === EOS) return undefined;
        out[o++] = sym;
        n = 0;
        bitsSinceSym = 0;
        allOnes = true;
      } else {
        n = next;
        bitsSinceSym++;
        if (bit === 0) allOnes = false;
      }
    }
  }
  if (bitsSinceSym > 7 || !allOnes) return undefined;
  return out.toString('latin1', 0, o);
}
