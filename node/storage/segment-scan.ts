// Scans a WAL segment file by THE RULE (frame.ts) while holding only a bounded window of it, so a
// restart never reads a whole segment (or the whole WAL) into memory.
//
// The window is `chunkBytes` long, or one record long when a record is bigger. Records go to the
// caller one by one as they are found. At the first frame that does not check out (the end of
// the written data, a torn tail, or damage) the scanner finds the end of the written data in
// chunk-sized reads, and only if something non-zero follows does it load the bytes from there to
// that end, to judge them by rules 2 to 5 exactly as scanSegment does. A clean end (the zeros of
// a preallocated segment) never loads more than one chunk at a time; a damaged tail loads at most
// the rest of its segment, which is bounded by the segment size.

import { FRAME_HEADER_BYTES, FRAME_TRAILER_BYTES, frameBytes, judgeBadFrame, recordAt, ScanError, type ScannedRecord } from './frame.js';
import type { ReadableFile } from './fs.js';

/**
 * Read size of recovery's reads (WAL segments and snapshot files). 8 MiB: with 1 MiB reads nearly
 * every 1 MiB state chunk straddles two reads and is copied once more; restoring 250 MiB of state
 * from the file then took ~1.5-2x as long as from one Buffer, with 8 MiB about the same.
 */
export const DEFAULT_READ_CHUNK_BYTES = 8 * 1024 * 1024;

export interface StreamedSegmentScan {
  /** Offset just past the last valid record: where the next write goes. */
  readonly end: number;
  /** Set when rule 4 applied: the torn bytes [offset, offset + bytes) must be cut. */
  readonly torn?: { readonly offset: number; readonly bytes: number };
  /** Records handed to onRecord. */
  readonly records: number;
  /** Bytes read from the file. */
  readonly bytesRead: number;
}

const EMPTY = new Uint8Array(0);

/** Offset one past the last non-zero byte of c, or 0 if it is all zeros. */
function lastNonZero(c: Uint8Array, zeros: Buffer): number {
  const b = Buffer.from(c.buffer, c.byteOffset, c.byteLength);
  if (b.equals(zeros.subarray(0, b.byteLength))) return 0;
  let i = c.length;
  while (i > 0 && c[i - 1] === 0) i--;
  return i;
}

/**
 * Scans `file` (a segment) by THE RULE, calling onRecord for each valid record in order. Throws
 * ScanError (offset + reason) on corruption, like scanSegment; onRecord's own errors pass through.
 */
export async function scanSegmentFile(
  file: ReadableFile,
  isLast: boolean,
  chunkBytes: number,
  onRecord: (r: ScannedRecord) => void,
): Promise<StreamedSegmentScan> {
  const size = file.sizeBytes;
  const step = Math.max(FRAME_HEADER_BYTES, chunkBytes);
  let win: Uint8Array = EMPTY;
  let winStart = 0;
  let bytesRead = 0;
  let records = 0;
  const read = async (pos: number, len: number): Promise<Uint8Array> => {
    const b = await file.read(pos, len);
    bytesRead += b.length;
    return b;
  };
  /**
   * Makes the window cover [from, min(to, size)), reading ahead up to one chunk. The window is
   * read afresh from `from`: the bytes of the old window past it (at most one record's start) are
   * read again from the page cache rather than copied with the new chunk into a new buffer, which
   * copied every byte of the WAL once more.
   */
  const cover = async (from: number, to: number): Promise<void> => {
    const end = Math.min(to, size);
    if (from >= winStart && end <= winStart + win.length) return;
    const target = Math.max(end, Math.min(size, from + step));
    win = await read(from, target - from);
    winStart = from;
  };

  let p = 0;
  while (p < size) {
    await cover(p, p + FRAME_HEADER_BYTES);
    let local = p - winStart;
    if (win.length - local >= FRAME_HEADER_BYTES) {
      // A header that promises a frame inside the file: have the whole frame in the window.
      const len = new DataView(win.buffer, win.byteOffset, win.byteLength).getUint32(local, true);
      if (len <= size && p + frameBytes(len) <= size) {
        await cover(p, p + frameBytes(len));
        local = p - winStart;
      }
    }
    const dv = new DataView(win.buffer, win.byteOffset, win.byteLength);
    const r = recordAt(win, dv, local, winStart);
    if (r) {
      onRecord({ record: r.record, offset: p });
      records++;
      p += r.size;
      continue;
    }
    // The first frame that does not check out. Find the end of the written data from p on.
    win = EMPTY;
    const zeros = Buffer.alloc(Math.min(step, size - p));
    let dataEnd = p;
    for (let off = p; off < size; off += zeros.length) {
      const c = await read(off, Math.min(zeros.length, size - off));
      const nz = lastNonZero(c, zeros);
      if (nz > 0) dataEnd = off + nz;
    }
    if (dataEnd === p) return { end: p, records, bytesRead };
    const tail = await read(p, Math.min(size, dataEnd + FRAME_TRAILER_BYTES) - p);
    const torn = judgeBadFrame(tail, new DataView(tail.buffer, tail.byteOffset, tail.byteLength), 0, isLast, p);
    if (!torn) throw new ScanError(p, 'bytes changed while the segment was read');
    return { end: p, torn, records, bytesRead };
  }
  return { end: p, records, bytesRead };
}
