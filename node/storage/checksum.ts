// The checksums of the storage formats. WAL frames and snapshot files written before 2026-12-02
// carry CRC-32C (node/lib/crc32c.ts, in JS: ~0.5 GB/s here); those written since carry CRC-32
// (ISO-HDLC, zlib's, native in Node: ~4x faster). Each frame and file says which it carries
// (frame.ts: header byte 5; snapshot-file.ts: the magic), so every older file still reads back.
// At restart and on every write of a 64 KiB value the CRC was the largest single cost.

import { crc32 } from 'node:zlib';
import { crc32cUpdate } from '../lib/crc32c.js';

export type ChecksumKind = 'crc32c' | 'crc32';

/** What new frames and files carry. */
export const WRITE_CHECKSUM: ChecksumKind = 'crc32';

/** Extends a running checksum (start with 0) with bytes [start, end) of buf; unsigned 32-bit. */
export function checksumUpdate(kind: ChecksumKind, crc: number, buf: Uint8Array, start = 0, end = buf.length): number {
  if (kind === 'crc32c') return crc32cUpdate(crc, buf, start, end);
  return crc32(start === 0 && end === buf.length ? buf : buf.subarray(start, end), crc);
}
