// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the peer transport's snapshot checksum,
// the MVCC hashes (HashKV, snapshot trailer), and the WAL frames and snapshot files written before
// those moved to zlib's native CRC-32 (node/storage/checksum.ts). Pure, shared by node/storage,
// node/mvcc and node/transport. Check value: crc32c("123456789") = 0xE3069283.
// Table-driven, slice-by-16 over 32-bit words: sixteen 256-entry tables (one Int32Array) let the
// inner loop consume 16 bytes, read as four aligned little-endian words, per step with table
// lookups only. About 1.3-1.5x the former slice-by-8 over single bytes; Node has no native CRC-32C
// (a CPU's crc32 instruction is out of reach from JS), so CRCs over bulk data should use zlib's.

const POLY = 0x82f63b78;
const SLICES = 16;

function makeTable(): Int32Array {
  const t = new Int32Array(256 * SLICES);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[i] = c;
  }
  for (let s = 1; s < SLICES; s++) {
    for (let i = 0; i < 256; i++) {
      const p = t[(s - 1) * 256 + i]!;
      t[s * 256 + i] = (p >>> 8) ^ t[p & 0xff]!;
    }
  }
  return t;
}

const T = makeTable();
/** Words are read in the machine's byte order; the word loop assumes little-endian (else bytes only). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Below this many bytes the word view is not worth its allocation. */
const WORDS_FROM_BYTES = 64;

/**
 * Extends a running CRC-32C with bytes [start, end) of buf. Start a fresh checksum with crc = 0.
 * Returns an unsigned 32-bit value.
 */
export function crc32cUpdate(crc: number, buf: Uint8Array, start = 0, end = buf.length): number {
  let c = ~crc;
  let i = start;
  // The table is indexed with values masked to 0..255 (plus a slice offset), so every lookup is
  // in range; the non-null assertions keep noUncheckedIndexedAccess quiet without a branch.
  if (LITTLE_ENDIAN && end - i >= WORDS_FROM_BYTES) {
    while (((buf.byteOffset + i) & 3) !== 0) {
      c = T[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
      i++;
    }
    const blocks = (end - i) >>> 4;
    const w = new Int32Array(buf.buffer, buf.byteOffset + i, blocks * 4);
    for (let j = 0; j < w.length; j += 4) {
      const a = w[j]! ^ c;
      const b = w[j + 1]!;
      const d = w[j + 2]!;
      const e = w[j + 3]!;
      c =
        T[3840 + (a & 0xff)]! ^ T[3584 + ((a >>> 8) & 0xff)]! ^ T[3328 + ((a >>> 16) & 0xff)]! ^ T[3072 + (a >>> 24)]! ^
        T[2816 + (b & 0xff)]! ^ T[2560 + ((b >>> 8) & 0xff)]! ^ T[2304 + ((b >>> 16) & 0xff)]! ^ T[2048 + (b >>> 24)]! ^
        T[1792 + (d & 0xff)]! ^ T[1536 + ((d >>> 8) & 0xff)]! ^ T[1280 + ((d >>> 16) & 0xff)]! ^ T[1024 + (d >>> 24)]! ^
        T[768 + (e & 0xff)]! ^ T[512 + ((e >>> 8) & 0xff)]! ^ T[256 + ((e >>> 16) & 0xff)]! ^ T[e >>> 24]!;
    }
    i += blocks * 16;
  }
  while (i < end) {
    c = T[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
    i++;
  }
  return ~c >>> 0;
}

/** CRC-32C of bytes [start, end) of buf. */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  return crc32cUpdate(0, buf, start, end);
}
