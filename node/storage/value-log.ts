// The value log: where a member's MVCC store keeps the bytes of its values, so that the Node
// heap holds keys, revisions and the index only (docs/design-notes.md, "Values out of the heap").
//
// - Append-only segment files `<dir>/<seq>.vlog`; a value's reference is its offset in one
//   logical address space that runs across the segments. A record is `crc32 u32 LE | bytes`;
//   every read checks the CRC (a flipped bit on disk stops the member instead of serving it).
// - Writes collect in a write buffer and go out with one write(2) when it fills; reads of the
//   buffered tail are served from it. Reads of the rest are pread(2)s that the OS page cache
//   answers, synchronously on the apply thread, as bbolt's mmap page faults are in etcd.
// - Derived state, never a source of truth: open() deletes whatever a previous run left, and
//   the member rebuilds the values from its raft snapshot and WAL replay, which it does anyway.
//   So the log needs no fsync and no recovery of its own, and kill -9 at any point loses
//   nothing that the WAL does not hold.
// - Defragment: beginDefrag() starts a new segment; everything before it is old. The store's
//   relocateStep() appends each held value that is old again (to the new segment); then
//   endDefrag() deletes the old segments, so disk space really comes back.

import { crc32 } from 'node:zlib';
import type { ValueRef, ValueStore } from '../mvcc/value-store.js';
import type { SyncFileOps } from './sync-file-ops.js';

/** Appends collect up to this many bytes before one write. */
export const VALUE_LOG_WRITE_BUFFER_BYTES = 1 << 20;
const CRC_BYTES = 4;

interface Segment {
  readonly seq: number;
  readonly path: string;
  readonly fd: number;
  /** Logical offset of the segment's first byte. */
  readonly base: number;
  /** Bytes written to the file (the write buffer's bytes are not yet). */
  written: number;
}

export class ValueLogCorruptError extends Error {
  readonly code = 'ErrValueLogCorrupt';
}

export class ValueLog implements ValueStore {
  private segments: Segment[] = [];
  private buf: Buffer;
  private bufLen = 0;
  /** Logical offset of buf[0]: the end of the last segment's written bytes. */
  private bufBase = 0;
  /** Offsets below this are old while a defragment runs; -1 otherwise. */
  private cut = -1;

  private constructor(
    private readonly ops: SyncFileOps,
    private readonly dir: string,
    writeBufferBytes: number,
  ) {
    this.buf = Buffer.allocUnsafe(writeBufferBytes);
  }

  /** Opens an empty log in `dir`, deleting what a previous run left there. */
  static open(ops: SyncFileOps, dir: string, opts: { writeBufferBytes?: number } = {}): ValueLog {
    ops.mkdirp(dir);
    for (const name of ops.readdir(dir)) if (name.endsWith('.vlog') || name.endsWith('.vlog.tmp')) ops.unlink(`${dir}/${name}`);
    const log = new ValueLog(ops, dir, opts.writeBufferBytes ?? VALUE_LOG_WRITE_BUFFER_BYTES);
    log.startSegment(0);
    return log;
  }

  private get tail(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  private startSegment(seq: number): void {
    const path = `${this.dir}/${String(seq).padStart(16, '0')}.vlog`;
    this.segments.push({ seq, path, fd: this.ops.create(path), base: this.bufBase, written: 0 });
  }

  /** The logical end: the offset the next append gets. */
  endOffset(): number {
    return this.bufBase + this.bufLen;
  }

  append(bytes: Uint8Array): ValueRef {
    const ref = this.endOffset();
    const need = CRC_BYTES + bytes.length;
    if (this.bufLen + need > this.buf.length) this.flush();
    const crc = crc32(bytes);
    if (need > this.buf.length) {
      // Bigger than the buffer: straight to the file.
      const head = Buffer.allocUnsafe(CRC_BYTES);
      head.writeUInt32LE(crc, 0);
      this.writeOut(head);
      this.writeOut(bytes);
      return ref;
    }
    this.buf.writeUInt32LE(crc, this.bufLen);
    this.buf.set(bytes, this.bufLen + CRC_BYTES);
    this.bufLen += need;
    return ref;
  }

  private writeOut(bytes: Uint8Array): void {
    const seg = this.tail;
    this.ops.write(seg.fd, bytes, seg.written);
    seg.written += bytes.length;
    this.bufBase += bytes.length;
  }

  /** Writes the buffered appends to the file (the page cache; no fsync: see the header). */
  flush(): void {
    if (this.bufLen === 0) return;
    const n = this.bufLen;
    this.bufLen = 0;
    this.writeOut(this.buf.subarray(0, n));
  }

  read(ref: ValueRef, len: number): Uint8Array {
    if (typeof ref !== 'number') throw new Error('value-log: a reference that is not an offset');
    const out = Buffer.allocUnsafe(CRC_BYTES + len);
    if (ref >= this.bufBase) {
      const at = ref - this.bufBase;
      if (at + out.length > this.bufLen) throw new ValueLogCorruptError(`value log: offset ${ref}+${len} past the end ${this.endOffset()}`);
      this.buf.copy(out, 0, at, at + out.length);
    } else {
      const seg = this.segmentOf(ref);
      const at = ref - seg.base;
      if (at + out.length > seg.written) throw new ValueLogCorruptError(`value log: offset ${ref}+${len} past the end of ${seg.path}`);
      const n = this.ops.read(seg.fd, out, at);
      if (n !== out.length) throw new ValueLogCorruptError(`value log: short read of ${seg.path} at ${at}`);
    }
    const value = out.subarray(CRC_BYTES);
    if (crc32(value) !== out.readUInt32LE(0)) throw new ValueLogCorruptError(`value log: checksum mismatch at offset ${ref} (${len} bytes)`);
    return value;
  }

  private segmentOf(ref: number): Segment {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (segs[mid]!.base <= ref) lo = mid;
      else hi = mid - 1;
    }
    const seg = segs[lo];
    if (seg === undefined || ref < seg.base) throw new ValueLogCorruptError(`value log: offset ${ref} is in no segment (deleted by a defragment?)`);
    return seg;
  }

  isOld(ref: ValueRef): boolean {
    return typeof ref === 'number' && ref < this.cut;
  }

  /** Bytes in the segment files plus the write buffer: live and dead values, and their CRCs. */
  totalBytes(): number {
    return this.endOffset() - (this.segments[0]?.base ?? 0);
  }

  /** Starts a defragment: later appends go to a new segment; everything before it is old. */
  beginDefrag(): void {
    if (this.cut >= 0) throw new Error('value-log: a defragment is already running');
    this.flush();
    this.cut = this.endOffset();
    this.startSegment(this.tail.seq + 1);
  }

  /** Ends a defragment: deletes the old segments (the store has moved every held value out). */
  endDefrag(): { reclaimedBytes: number } {
    if (this.cut < 0) throw new Error('value-log: no defragment is running');
    const cut = this.cut;
    this.cut = -1;
    let reclaimedBytes = 0;
    while (this.segments.length > 1 && this.segments[0]!.base < cut) {
      const old = this.segments.shift()!;
      reclaimedBytes += old.written;
      this.ops.close(old.fd);
      this.ops.unlink(old.path);
    }
    return { reclaimedBytes };
  }

  /** Abandons a defragment (the old segments stay; values already moved are dead copies). */
  abortDefrag(): void {
    this.cut = -1;
  }

  defragRunning(): boolean {
    return this.cut >= 0;
  }

  close(): void {
    for (const s of this.segments) this.ops.close(s.fd);
    this.segments = [];
  }
}
