// The value log: where a member's MVCC store keeps the bytes of its values, so that the Node
// heap holds keys, revisions and the index only (docs/design-notes.md, "Values out of the heap").
//
// - Append-only segment files `<dir>/<base:016x>.vseg`; a value's reference is its offset in one
//   logical address space that runs across the segments (a segment's name is the offset of its
//   first byte). A record is `crc32 u32 LE | bytes`; every read checks the CRC (a flipped bit on
//   disk stops the member instead of serving it).
// - Writes collect in a write buffer and go out with one write(2) when it fills; reads of the
//   buffered tail are served from it. Reads of the rest are pread(2)s that the OS page cache
//   answers, synchronously on the apply thread, as bbolt's mmap page faults are in etcd.
// - Defragment: beginDefrag() starts a new segment; everything before it is old. The store's
//   relocateStep() appends each held value that is old again (to the new segment); then
//   endDefrag() retires the old segments, which are deleted once no snapshot needs them (below).
//
// Two modes.
// - Derived (open without `keep`: unit tests, stores that never snapshot to disk): open() deletes
//   what a previous run left and the member refills the log from its raft snapshot and WAL. No
//   fsync; kill -9 at any point loses nothing that the WAL does not hold.
// - Kept (`keep`, a member with a data dir, runtime/bootstrap.ts): the member's own raft snapshots
//   name value offsets instead of carrying the values (the MVCC snapshot's format 2, store.ts), so a
//   snapshot costs the index, not the data, and a restart does not write the values again.
//
// Crash safety of the kept mode (kill -9 at any point; the WAL keeps its own crash model):
// 1. A snapshot refers to offsets below E, the log's end when the store's snapshot stream ends
//    (sealSnapshot: flushes the write buffer, records E and the segments the snapshot may name).
//    Before the snapshot file is renamed into place (storage.saveSnapshot writes, fsyncs and renames
//    it after the last chunk) syncSnapshot fdatasyncs every one of those segments and the
//    directory. So a durable snapshot file implies durable values below its E; a crash before the
//    rename leaves the previous snapshot as the newest, whose values were synced when it was taken.
// 2. At restart the log is opened pending: nothing is cut or deleted yet. Restoring a snapshot of
//    format 2 calls adopt(): every segment the snapshot names must be there and long enough (else
//    ValueLogCorruptError: the member stops rather than serve holes), the segment holding E is cut
//    back to E (a torn or un-synced tail, values appended after the snapshot: WAL replay appends them
//    again), segments at or past E are deleted, and the rest are kept as retired (an older retained
//    snapshot may name them). If the member restores a snapshot that carries its values (format 1:
//    one received from the leader, one written by an older build) or none, the first append starts a
//    new segment after everything on disk, which is kept as retired the same way.
// 3. Defragment never deletes at once: endDefrag tags the old segments with a new generation, and a
//    retired segment is deleted only when every snapshot that may name it is gone: every snapshot in
//    progress or being sent to a peer, and each of the last `retainSnapshots` durable ones, started
//    after it was retired (storage keeps that many snapshot files, runtime/bootstrap.ts). A sent
//    snapshot is read while it streams (pinSegments), so nothing is deleted under it. After a restart
//    generations start again: segments retired then wait for `retainSnapshots` new snapshots.
// 4. Retained older snapshots: recovery falls back to the older file only when the newest does not
//    check out; by 3 its segments are still there, unless that happened across a restart that
//    adopted the newest one and then took `retainSnapshots` snapshots (storage had deleted the old
//    file by then).
// 5. Bit flips: a read checks the record's CRC. The log is now a source of truth: a flipped value
//    stops the member at each read of it (as a damaged bbolt page does etcd) and is not rebuilt at
//    restart; HashKV and the corruption check read every value and find it. The fix is a member
//    replaced from its peers (remove, wipe, add), as in etcd.
// 6. Pre-existing files: `<seq>.vlog` segments of an older build (derived state) are deleted at
//    open; snapshots of that build carry their values (format 1) and still restore.

import { crc32 } from 'node:zlib';
import type { ValueRef, ValueStore } from '../mvcc/value-store.js';
import type { SyncFileOps } from './sync-file-ops.js';

/** Appends collect up to this many bytes before one write. */
export const VALUE_LOG_WRITE_BUFFER_BYTES = 1 << 20;
const CRC_BYTES = 4;
const SEGMENT_SUFFIX = '.vseg';
const FOOTER_VERSION = 1;
/** readInto reads values this long or longer straight into the caller's buffer. */
const DIRECT_READ_BYTES = 8 * 1024;

interface Segment {
  /** Logical offset of the segment's first byte (its file name). */
  readonly base: number;
  readonly path: string;
  readonly fd: number;
  /** Bytes written to the file (the write buffer's bytes are not yet). */
  written: number;
  /** Bytes known durable (fdatasync'd). */
  synced: number;
  /** Set once a defragment emptied it (or a restart found it unnamed): the generation that retired it. */
  retired?: number;
}

/** A snapshot (or a send of one) that may read segments: the generation it started at. */
interface Pin {
  readonly gen: number;
  /** Set by sealSnapshot: the segments the snapshot names, and its end. */
  sealed?: { end: number; segments: Segment[] };
}

export class ValueLogCorruptError extends Error {
  readonly code = 'ErrValueLogCorrupt';
}

function segmentName(base: number): string {
  return `${base.toString(16).padStart(16, '0')}${SEGMENT_SUFFIX}`;
}

export interface ValueLogOptions {
  writeBufferBytes?: number;
  /**
   * Keep the log across restarts, and let the member's own snapshots refer to it (the header's
   * kept mode). The number is how many snapshot files the member's storage retains.
   */
  keep?: { retainSnapshots: number };
}

export class ValueLog implements ValueStore {
  /** Every segment file on disk, by base: retired ones first, then the live ones; the last is the tail. */
  private segments: Segment[] = [];
  private buf: Buffer;
  private bufLen = 0;
  /** Logical offset of buf[0]: the end of the tail's written bytes. */
  private bufBase = 0;
  /** Offsets below this are old while a defragment runs; -1 otherwise. */
  private cut = -1;
  /** Kept mode, opened and not yet adopted by a snapshot nor appended to (the header, 2). */
  private pending = false;
  /** Defragments ended (kept mode): the generation a retired segment is tagged with. */
  private gen = 0;
  private nextPin = 1;
  private readonly pins = new Map<number, Pin>();
  /** Generations the last durable snapshots started at, oldest first (at most retainSnapshots). */
  private durableGens: number[] = [];
  /** A segment file was created since the directory was last synced. */
  private dirDirty = false;
  private readonly crcScratch = Buffer.allocUnsafe(CRC_BYTES);

  private constructor(
    private readonly ops: SyncFileOps,
    private readonly dir: string,
    writeBufferBytes: number,
    private readonly retainSnapshots: number | undefined,
  ) {
    this.buf = Buffer.allocUnsafe(writeBufferBytes);
  }

  /**
   * Opens the log in `dir`. Derived mode: deletes what a previous run left and starts empty. Kept
   * mode: finds the segments on disk and waits for adopt() or the first append (the header, 2).
   */
  static open(ops: SyncFileOps, dir: string, opts: ValueLogOptions = {}): ValueLog {
    ops.mkdirp(dir);
    const log = new ValueLog(ops, dir, opts.writeBufferBytes ?? VALUE_LOG_WRITE_BUFFER_BYTES, opts.keep?.retainSnapshots);
    const found: Segment[] = [];
    for (const name of ops.readdir(dir)) {
      const path = `${dir}/${name}`;
      const m = /^([0-9a-f]{16})\.vseg$/.exec(name);
      if (opts.keep && m) {
        const fd = ops.open(path);
        const size = ops.size(fd);
        found.push({ base: parseInt(m[1]!, 16), path, fd, written: size, synced: size, retired: 0 });
      } else if (name.endsWith(SEGMENT_SUFFIX) || name.endsWith('.vlog') || name.endsWith('.vlog.tmp')) {
        ops.unlink(path);
      }
    }
    if (opts.keep) {
      found.sort((a, b) => a.base - b.base);
      log.segments = found;
      log.bufBase = found.reduce((end, s) => Math.max(end, s.base + s.written), 0);
      log.pending = true;
    } else {
      log.startSegment(0);
    }
    return log;
  }

  /** Whether the member's snapshots may refer to this log's offsets (kept mode). */
  keepsValues(): boolean {
    return this.retainSnapshots !== undefined;
  }

  private get tail(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  private startSegment(base: number): void {
    const path = `${this.dir}/${segmentName(base)}`;
    this.segments.push({ base, path, fd: this.ops.create(path), written: 0, synced: 0 });
    this.dirDirty = true;
  }

  /** Kept mode, nothing adopted: what is on disk stays retired, appends go to a new segment after it. */
  private start(): void {
    if (!this.pending) return;
    this.pending = false;
    this.startSegmentAtEnd();
  }

  /** A new tail at bufBase (an empty file already there, left by a crash, is replaced). */
  private startSegmentAtEnd(): void {
    const clash = this.segments.findIndex((s) => s.base === this.bufBase);
    if (clash >= 0) {
      const s = this.segments[clash]!;
      this.ops.close(s.fd);
      this.segments.splice(clash, 1);
    }
    this.startSegment(this.bufBase);
  }

  /** The logical end: the offset the next append gets. */
  endOffset(): number {
    return this.bufBase + this.bufLen;
  }

  append(bytes: Uint8Array): ValueRef {
    if (this.pending) this.start();
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

  /**
   * read(), with the bytes landing in out at `at`: a value of DIRECT_READ_BYTES or more is read
   * from the file straight there (its CRC in a second small read), so a snapshot export copies it
   * once, from the page cache into the page it builds.
   */
  readInto(ref: ValueRef, len: number, out: Uint8Array, at: number): void {
    if (typeof ref !== 'number' || len < DIRECT_READ_BYTES || ref >= this.bufBase) {
      out.set(this.read(ref, len), at);
      return;
    }
    const seg = this.segmentOf(ref);
    const pos = ref - seg.base;
    if (pos + CRC_BYTES + len > seg.written) throw new ValueLogCorruptError(`value log: offset ${ref}+${len} past the end of ${seg.path}`);
    const crc = this.crcScratch;
    const value = out.subarray(at, at + len);
    if (this.ops.read(seg.fd, crc, pos) !== CRC_BYTES || this.ops.read(seg.fd, value, pos + CRC_BYTES) !== len) {
      throw new ValueLogCorruptError(`value log: short read of ${seg.path} at ${pos}`);
    }
    if (crc32(value) !== crc.readUInt32LE(0)) throw new ValueLogCorruptError(`value log: checksum mismatch at offset ${ref} (${len} bytes)`);
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

  /** Bytes of the live segments plus the write buffer: live and dead values, and their CRCs. */
  totalBytes(): number {
    let n = this.bufLen;
    for (const s of this.segments) if (s.retired === undefined) n += s.written;
    return n;
  }

  /** Bytes of retired segments still on disk (kept for a snapshot that may name them). */
  retiredBytes(): number {
    let n = 0;
    for (const s of this.segments) if (s.retired !== undefined) n += s.written;
    return n;
  }

  /**
   * How many more durable snapshots must be taken before every retired segment may be deleted
   * (0: none waits). The member takes them at once, so a Defragment gives its space back on the
   * next writes rather than after two ordinary snapshot intervals.
   */
  snapshotsToFree(): number {
    if (this.retainSnapshots === undefined) return 0;
    let newest = -1;
    for (const s of this.segments) if (s.retired !== undefined) newest = Math.max(newest, s.retired);
    if (newest < 0) return 0;
    return Math.max(0, this.retainSnapshots - this.durableGens.filter((g) => g >= newest).length);
  }

  /** Starts a defragment: later appends go to a new segment; everything before it is old. */
  beginDefrag(): void {
    if (this.cut >= 0) throw new Error('value-log: a defragment is already running');
    if (this.pending) this.start();
    this.flush();
    this.cut = this.endOffset();
    this.startSegment(this.cut);
  }

  /**
   * Ends a defragment (the store has moved every held value out of the old segments): retires
   * them, deleting each once no snapshot may name it (the header, 3; at once in derived mode).
   */
  endDefrag(): { reclaimedBytes: number } {
    if (this.cut < 0) throw new Error('value-log: no defragment is running');
    const cut = this.cut;
    this.cut = -1;
    this.gen++;
    let reclaimedBytes = 0;
    for (const s of this.segments) {
      if (s.base >= cut || s.retired !== undefined) continue;
      s.retired = this.gen;
      reclaimedBytes += s.written;
    }
    this.collect();
    return { reclaimedBytes };
  }

  /** Abandons a defragment (the old segments stay; values already moved are dead copies). */
  abortDefrag(): void {
    this.cut = -1;
  }

  defragRunning(): boolean {
    return this.cut >= 0;
  }

  // ---------------------------------------------------------------- snapshots that name offsets

  /** A snapshot of the store begins (kept mode): pins the segments it may name. */
  beginSnapshot(): number {
    const id = this.nextPin++;
    this.pins.set(id, { gen: this.gen });
    return id;
  }

  /**
   * The store's snapshot stream ended: flushes, and returns the footer its trailer carries (the
   * end E and the segments it may name: live ones and those retired since it began).
   */
  sealSnapshot(id: number): Uint8Array {
    const pin = this.pins.get(id);
    if (!pin) throw new Error('value-log: sealSnapshot of a snapshot that did not begin');
    if (this.pending) this.start();
    this.flush();
    const end = this.endOffset();
    const segments = this.segments.filter((s) => s.retired === undefined || s.retired > pin.gen);
    pin.sealed = { end, segments };
    const words = [FOOTER_VERSION, end, segments.length, ...segments.map((s) => s.base)];
    const out = Buffer.allocUnsafe(words.length * 10);
    let off = 0;
    for (let v of words) {
      while (v >= 0x80) {
        out[off++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
      out[off++] = v;
    }
    return out.subarray(0, off);
  }

  /** Makes the sealed snapshot's values durable (the header, 1): fdatasync of its segments, and the directory. */
  async syncSnapshot(id: number): Promise<void> {
    const sealed = this.pins.get(id)?.sealed;
    if (!sealed) throw new Error('value-log: syncSnapshot before sealSnapshot');
    for (const s of sealed.segments) {
      const upTo = s.written;
      if (s.synced >= upTo) continue;
      await this.ops.datasync(s.fd);
      s.synced = Math.max(s.synced, upTo);
    }
    if (this.dirDirty) {
      this.dirDirty = false;
      await this.ops.syncDir(this.dir);
    }
  }

  /** The snapshot is durable (saved) or abandoned: unpins, and deletes what no snapshot needs any more. */
  endSnapshot(id: number, saved: boolean): void {
    const pin = this.pins.get(id);
    if (!pin) return;
    this.pins.delete(id);
    if (saved && this.retainSnapshots !== undefined) {
      this.durableGens.push(pin.gen);
      while (this.durableGens.length > this.retainSnapshots) this.durableGens.shift();
    }
    this.collect();
  }

  /** Keeps every segment on disk until the returned function is called (a snapshot being sent). */
  pinSegments(): () => void {
    const id = this.nextPin++;
    this.pins.set(id, { gen: -1 });
    return () => {
      this.pins.delete(id);
      this.collect();
    };
  }

  /** Deletes the retired segments that no pinned or retained snapshot may name. */
  private collect(): void {
    let floor = Infinity;
    for (const p of this.pins.values()) floor = Math.min(floor, p.gen);
    if (this.retainSnapshots !== undefined) {
      if (this.durableGens.length < this.retainSnapshots) return;
      for (const g of this.durableGens) floor = Math.min(floor, g);
    }
    const keep: Segment[] = [];
    for (const s of this.segments) {
      if (s.retired !== undefined && s.retired <= floor) {
        this.ops.close(s.fd);
        this.ops.unlink(s.path);
      } else {
        keep.push(s);
      }
    }
    this.segments = keep;
  }

  /**
   * At restart, before any append: takes the log as a snapshot's footer records it (the header,
   * 2). `maxRefEnd`: the highest offset + length the snapshot names, checked against the footer.
   */
  adopt(footer: Uint8Array, maxRefEnd: number): void {
    if (!this.pending) throw new ValueLogCorruptError('value log: a snapshot that names value offsets can only be restored at start');
    const words: number[] = [];
    let v = 0;
    let mul = 1;
    for (const b of footer) {
      v += (b & 0x7f) * mul;
      mul *= 0x80;
      if (b < 0x80) {
        words.push(v);
        v = 0;
        mul = 1;
      }
    }
    const [version, end, n] = words;
    if (version !== FOOTER_VERSION || end === undefined || n === undefined || words.length !== 3 + n) throw new ValueLogCorruptError('value log: a snapshot footer that does not decode');
    const maxEnd = maxRefEnd === 0 ? 0 : maxRefEnd + CRC_BYTES;
    if (maxEnd > end) throw new ValueLogCorruptError(`value log: the snapshot names bytes up to ${maxEnd}, past its recorded end ${end}`);
    const bases = words.slice(3);
    const named = new Set(bases);
    const byBase = new Map(this.segments.map((s) => [s.base, s]));
    for (let i = 0; i < bases.length; i++) {
      const base = bases[i]!;
      const seg = byBase.get(base);
      if (!seg) throw new ValueLogCorruptError(`value log: segment ${segmentName(base)}, named by the snapshot, is missing`);
      const need = (bases[i + 1] ?? end) - base;
      if (seg.written < need) throw new ValueLogCorruptError(`value log: segment ${segmentName(base)} holds ${seg.written} bytes, the snapshot needs ${need}`);
    }
    const tailBase = bases[bases.length - 1];
    const keep: Segment[] = [];
    for (const s of this.segments) {
      if (named.has(s.base)) {
        delete s.retired;
      } else if (s.base >= end || (tailBase !== undefined && s.base > tailBase)) {
        this.ops.close(s.fd);
        this.ops.unlink(s.path);
        continue;
      }
      keep.push(s);
    }
    this.segments = keep;
    this.pending = false;
    const tail = tailBase === undefined ? undefined : byBase.get(tailBase)!;
    if (!tail) {
      // An empty state: nothing named; a fresh segment at the end (what is on disk stays retired).
      this.bufBase = Math.max(end, this.bufBase);
      this.startSegmentAtEnd();
      return;
    }
    if (tail.written > end - tail.base) {
      this.ops.truncate(tail.fd, end - tail.base);
      tail.written = end - tail.base;
      tail.synced = Math.min(tail.synced, tail.written);
    }
    this.bufBase = end;
  }

  close(): void {
    for (const s of this.segments) this.ops.close(s.fd);
    this.segments = [];
  }
}
