// The member's durable storage: a segmented write-ahead log with group commit, plus snapshot files.
//
// Layout under the data dir:
//   wal/<seq:016x>-<firstIndex:016x>.wal   segments, preallocated to segmentSizeBytes
//   snap/<term:016x>-<index:016x>.snap     snapshot files (snapshot-file.ts)
//
// Each segment starts with a preamble: a segment header (seq, first index), the newest snapshot
// marker and the newest hard state at the time of the cut. So any retained segment can start a
// replay on its own, and purging older segments never loses the hard state or the marker.
//
// Group commit: save() encodes its records synchronously, in call order, into a queue and returns a
// promise. One writer loop takes everything queued (up to maxBatchBytes), writes it with one
// writev, then one fdatasync if any item asked for it, and resolves the whole batch. Saves arriving
// meanwhile form the next batch. So N concurrent writers share one fsync.
//
// Segment cut: decided by the writer, before a queued save that would overflow the segment. Each
// save's queue item carries the hard state, marker and last index as of its end, so the new
// segment's preamble is exact. The writer syncs the old segment completely, creates the new one as
// a .tmp file, preallocates it, writes and syncs the preamble, renames it into place and fsyncs the
// directory. A segment therefore either exists whole with a valid header, or not at all; and every
// segment but the last is fully synced (scan rule 4 in frame.ts relies on this).
//
// Failures: any I/O error on the write path (ENOSPC, EIO, ...) rejects the affected saves with a
// StorageWriteError naming the operation, file and errno, logs it, and stops the storage: every
// later call rejects with StorageStoppedError. Nothing is retried or swallowed; the member stops.

import { EMPTY_HARD_STATE, type Entry, type HardState, type Snapshot } from '../raft/types.js';
import { silentLogger, type Logger } from '../log.js';
import {
  StorageClosedError,
  StorageCorruptError,
  StorageStoppedError,
  StorageWriteError,
} from './errors.js';
import { encodeEntriesChunks, encodeHardStateChunks, encodeRecord, encodeRecordChunks, FRAME_HEADER_BYTES, frameBytes, recordAt, ScanError, type EncodedRecord, type ScannedRecord } from './frame.js';
import type { WalFile, WalFs } from './fs.js';
import { EntryLocators, type EntryLocator } from './entry-locators.js';
import { LogShape } from './log-shape.js';
import { nodeFs } from './node-fs.js';
import { assemble, Replay, ReplayError, usableSnapshots, type SnapshotCandidate } from './replay.js';
import { DEFAULT_READ_CHUNK_BYTES, scanSegmentFile, type StreamedSegmentScan } from './segment-scan.js';
import { checkSnapshotFile, parseSnapshotFileName, snapshotFileChunks, snapshotFileData, snapshotFileName, type SnapshotFileInfo } from './snapshot-file.js';
import type {
  MemberStorage,
  OpenedStorage,
  RecoveredState,
  RecoveryStats,
  SaveSnapshotOptions,
  SnapshotInput,
  SnapshotReader,
  StorageHooks,
  StorageOptions,
} from './types.js';

export const DEFAULT_SEGMENT_SIZE_BYTES = 64 * 1024 * 1024;
export const WAL_DIR_NAME = 'wal';
export const SNAP_DIR_NAME = 'snap';
const TMP_SUFFIX = '.tmp';
const ZERO_CHUNK_BYTES = 1024 * 1024;
const SNAPSHOT_WRITE_CHUNK_BYTES = 1024 * 1024;
const MAX_SYNCS_IN_FLIGHT = 2;
/** readEntries refuses a record header claiming more (a damaged length), rather than allocate it. */
const MAX_READ_BACK_RECORD_BYTES = 256 * 1024 * 1024;
/** The largest write whose fdatasync may run on the calling thread (StorageOptions.syncHere). */
export const SYNC_HERE_MAX_BYTES = 16 * 1024;
/** An fdatasync slower than this sends the next one back to a worker (StorageOptions.syncHere). */
export const SYNC_HERE_SLOW_MS = 2;
/** Most bytes of no-sync batches held in memory for the next write (see FileStorage.held). */
const MAX_HELD_BYTES = 16 * 1024;

export function segmentFileName(seq: number, firstIndex: number): string {
  return `${seq.toString(16).padStart(16, '0')}-${firstIndex.toString(16).padStart(16, '0')}.wal`;
}

export function parseSegmentFileName(name: string): { seq: number; firstIndex: number } | undefined {
  const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/.exec(name);
  if (!m) return undefined;
  return { seq: parseInt(m[1] as string, 16), firstIndex: parseInt(m[2] as string, 16) };
}

interface SegmentInfo {
  readonly seq: number;
  readonly firstIndex: number;
  readonly name: string;
}

/** A snapshot marker's index and term. */
interface Marker {
  readonly index: number;
  readonly term: number;
}

/** The marker of a WAL that has none: an object, not undefined, so a queue item's field keeps one representation. */
const NO_MARKER: Marker = { index: 0, term: 0 };

/**
 * One save, as the writer takes it: its encoded records, and the hard state, newest marker and
 * last index as of its end, which a segment cut right after it writes into the next preamble.
 * Every item comes from queueItem(), with every field, so the writer's loop meets one hidden class.
 */
interface QueueItem {
  readonly chunks: Uint8Array[];
  bytes: number;
  readonly mustSync: boolean;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly hardState: HardState;
  readonly marker: Marker;
  readonly lastIndex: number;
  /** The indexes of the entries record this item starts with (0, 0: none). */
  entFirst: number;
  entLast: number;
}

const NOOP = (): void => undefined;

function queueItem(mustSync: boolean, resolve: () => void, reject: (err: Error) => void, hardState: HardState, marker: Marker, lastIndex: number): QueueItem {
  return { chunks: [], bytes: 0, mustSync, resolve, reject, hardState, marker, lastIndex, entFirst: 0, entLast: 0 };
}

/** A new segment's first records: its header, the newest marker and hard state as of `at`. */
function preamble(seq: number, firstIndex: number, at: QueueItem): Uint8Array[] {
  const out = [encodeRecord({ kind: 'segmentHeader', seq, firstIndex })];
  if (at.marker !== NO_MARKER) out.push(encodeRecord({ kind: 'snapshot', index: at.marker.index, term: at.marker.term }));
  if (at.hardState !== EMPTY_HARD_STATE) out.push(encodeRecord({ kind: 'hardState', hardState: at.hardState }));
  return out;
}

function addRecord(item: QueueItem, rec: EncodedRecord): void {
  for (const c of rec.chunks) item.chunks.push(c);
  item.bytes += rec.bytes;
}

async function io<T>(op: string, path: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof StorageWriteError) throw err;
    throw new StorageWriteError(op, path, err);
  }
}

const defaultNowMs = (): number => performance.now();
const neverHere = (): boolean => false;

class FileStorage implements MemberStorage {
  private readonly queue: QueueItem[] = [];
  /** Batches written whose saves are not yet resolved, oldest first. */
  private unresolved: QueueItem[][] = [];
  /** Resolves once every batch handed to the sync pipeline is synced and resolved; never rejects. */
  private pipeline: Promise<void> = Promise.resolve();
  private syncsInFlight = 0;
  /** How long the last fdatasync took: a slow disk keeps the next one off the calling thread. */
  private lastSyncMs = 0;
  private writtenBytesTotal = 0;
  private syncedBytesTotal = 0;
  /**
   * Records of batches that need no sync (a commit-index-only hard state), not yet written: they
   * go out at the front of the next write, as etcd's WAL encoder buffers them until its next
   * sync. That saves a write syscall per commit on every member. The file stays a prefix of the
   * WAL (held records are only ever its tail), so a crash loses at most them, which raft allows:
   * nothing waits for a commit index to be on disk.
   */
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  private running = false;
  private failure: StorageWriteError | undefined;
  private closed = false;
  /** Writer side: the last item taken into a batch (at open, the state recovered), which a cut's preamble follows. */
  private lastTaken: QueueItem;
  /** Writer side: whether the current segment holds a record beyond its preamble. */
  private segmentHasRecords = true;
  private releaseChain: Promise<void> = Promise.resolve();
  private tmpCounter = 0;
  /** Writer side: the current file holds written bytes (records or zeros) up to here. */
  private zeroedTo: number;
  /** zeroAheadBytes of zeros, shared by every padded write (never written to). */
  private zeros: Uint8Array | undefined;
  private durableSnapshot: Marker | undefined;
  /** Entries records taken into a batch whose write has not completed yet (see write()). */
  private unwrittenLocs: EntryLocator[] = [];

  constructor(
    private readonly fs: WalFs,
    private readonly walDir: string,
    private readonly snapDir: string,
    private readonly opts: Required<Pick<StorageOptions, 'segmentSizeBytes' | 'retainSegments' | 'retainSnapshots' | 'maxBatchBytes' | 'preallocate' | 'readChunkBytes' | 'zeroAheadBytes' | 'syncHere'>>,
    private readonly log: Logger,
    private readonly hooks: StorageHooks,
    private readonly nowMs: () => number,
    private file: WalFile | undefined,
    private filePath: string,
    /** Writer-side offset in the current file. */
    private writeOffset: number,
    private readonly segments: SegmentInfo[],
    /** Enqueue-side view of the log, hard state and newest marker. */
    private readonly shape: LogShape,
    private hardState: HardState,
    private marker: Marker | undefined,
    /** Where the written entries are, for readEntries. */
    private readonly locators: EntryLocators,
  ) {
    this.zeroedTo = writeOffset;
    this.lastTaken = queueItem(false, NOOP, NOOP, hardState, marker ?? NO_MARKER, shape.last);
    this.durableSnapshot = marker;
    this.prepareSpare();
  }

  // ---- enqueue side (synchronous, call order = WAL order) ----

  private check(): Error | undefined {
    if (this.failure) return new StorageStoppedError(this.failure);
    if (this.closed) return new StorageClosedError();
    return undefined;
  }

  /**
   * Queues up to two encoded records, `first` and then `second`, and resolves once they are
   * durable. `entries` are what `first` holds, for the log's shape. Two parameters, not an array
   * of records: save() runs on every put, and an array of another elements kind from a rarer
   * caller (a snapshot marker, the drain at close) would deoptimize it.
   */
  private enqueue(first: EncodedRecord | undefined, entries: readonly Entry[], second: EncodedRecord | undefined, mustSync: boolean, apply: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      for (const e of entries) this.shape.append(e.index, e.term);
      apply();
      const item = queueItem(mustSync, resolve, reject, this.hardState, this.marker ?? NO_MARKER, this.shape.last);
      if (entries.length > 0) {
        item.entFirst = (entries[0] as Entry).index;
        item.entLast = (entries[entries.length - 1] as Entry).index;
      }
      if (first !== undefined) addRecord(item, first);
      if (second !== undefined) addRecord(item, second);
      this.queue.push(item);
      this.kick();
    });
  }

  save(hardState: HardState | undefined, entries: readonly Entry[], mustSync: boolean): Promise<void> {
    const bad = this.check();
    if (bad) return Promise.reject(bad);
    if (entries.length > 0) {
      const first = entries[0] as Entry;
      if (first.index > this.shape.last + 1) {
        return Promise.reject(new Error(`storage: entry ${first.index} would leave a gap after index ${this.shape.last}`));
      }
      for (let i = 1; i < entries.length; i++) {
        if ((entries[i] as Entry).index !== (entries[i - 1] as Entry).index + 1) {
          return Promise.reject(new Error(`storage: entries are not contiguous at position ${i}`));
        }
      }
    }
    const first = entries.length > 0 ? encodeEntriesChunks(entries) : undefined;
    const second = hardState ? encodeHardStateChunks(hardState) : undefined;
    if (first === undefined && second === undefined && !mustSync) return Promise.resolve();
    return this.enqueue(first, entries, second, mustSync, () => {
      if (hardState) this.hardState = hardState;
    });
  }

  async saveSnapshot(snapshot: SnapshotInput | Snapshot, opts: SaveSnapshotOptions = {}): Promise<void> {
    const bad = this.check();
    if (bad) throw bad;
    const { index, term } = snapshot.metadata;
    // Older than the newest saved snapshot (e.g. the member's own snapshot raced an installed one):
    // nothing to do. Not an error: the newer snapshot already covers it.
    if (this.marker && index <= this.marker.index) {
      this.log.info('skipping a snapshot not newer than the saved one', { index, newest: this.marker.index });
      return;
    }
    const t0 = this.nowMs();
    const name = snapshotFileName(index, term);
    // A unique tmp name: two saves of one snapshot may overlap; leftovers are removed at open.
    const tmp = `${this.snapDir}/${name}.${++this.tmpCounter}${TMP_SUFFIX}`;
    const final = `${this.snapDir}/${name}`;
    try {
      const f = await io('open', tmp, this.fs.open(tmp, 'create'));
      let pos = 0;
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      const flush = async (): Promise<void> => {
        if (pendingBytes === 0) return;
        await io('write', tmp, f.writev(pending, pos));
        pos += pendingBytes;
        pending = [];
        pendingBytes = 0;
      };
      try {
        for await (const chunk of snapshotFileChunks(snapshot.metadata, snapshot.data)) {
          pending.push(chunk);
          pendingBytes += chunk.length;
          if (pendingBytes >= SNAPSHOT_WRITE_CHUNK_BYTES) await flush();
        }
        await flush();
        const ts = this.nowMs();
        await io('fdatasync', tmp, f.datasync());
        const fsyncSeconds = (this.nowMs() - ts) / 1000;
        this.hooks.snapshotFsync?.(fsyncSeconds);
        if (opts.fromLeader) this.hooks.leaderSnapshotFsync?.(fsyncSeconds);
      } finally {
        await f.close().catch(() => undefined);
      }
      await io('rename', tmp, this.fs.rename(tmp, final));
      await io('fsync dir', this.snapDir, this.fs.syncDir(this.snapDir));
    } catch (err) {
      if (err instanceof StorageWriteError) {
        this.fail(err);
        throw err;
      }
      // The snapshot's data source failed (not our I/O): drop the partial file, stay usable.
      await this.fs.unlink(tmp).catch(() => undefined);
      throw err;
    }
    const again = this.check();
    if (again) throw again;
    if (this.marker && index <= this.marker.index) {
      // A newer snapshot became durable while this file was written; leave the file to the purge.
      this.log.info('skipping a snapshot not newer than the saved one', { index, newest: this.marker.index });
      return;
    }
    await this.enqueue(undefined, [], encodeRecordChunks({ kind: 'snapshot', index, term }), true, () => {
      this.marker = { index, term };
      this.shape.applySnapshot(index, term);
    });
    if (!this.durableSnapshot || index >= this.durableSnapshot.index) this.durableSnapshot = { index, term };
    this.hooks.backendCommit?.((this.nowMs() - t0) / 1000);
    if (opts.fromLeader) this.hooks.leaderSnapshotSave?.((this.nowMs() - t0) / 1000);
    await this.purgeSnapshots();
  }

  /**
   * Keeps the newest `retainSnapshots` snapshot files at or below the newest durable snapshot (the
   * one whose WAL marker is synced). Files above it (a save still in flight, or an orphan whose
   * marker never became durable) are not counted and not touched: counting them could push out the
   * only snapshot recovery can use.
   */
  private async purgeSnapshots(): Promise<void> {
    const durable = this.durableSnapshot;
    if (!durable) return;
    try {
      const names = await this.fs.readdir(this.snapDir);
      const snaps = names
        .map((n) => ({ n, p: parseSnapshotFileName(n) }))
        .filter((x): x is { n: string; p: { index: number; term: number } } => x.p !== undefined && x.p.index <= durable.index)
        .sort((a, b) => b.p.index - a.p.index || b.p.term - a.p.term);
      for (const s of snaps.slice(this.opts.retainSnapshots)) {
        if (s.p.index === durable.index && s.p.term === durable.term) continue;
        await this.fs.unlink(`${this.snapDir}/${s.n}`);
        this.log.info('purged old snapshot file', { file: s.n });
      }
    } catch (err) {
      this.log.warn('purging old snapshot files failed', { error: err });
    }
  }

  releaseTo(index: number): Promise<void> {
    const run = async (): Promise<void> => {
      const bad = this.check();
      if (bad) throw bad;
      const limit = Math.min(index, this.durableSnapshot?.index ?? 0);
      // Entries up to the limit are never read back (readEntries) again.
      this.locators.dropBefore(limit + 1);
      // Segment i is wholly before limit when the next one starts at or before limit + 1.
      let purgeable = 0;
      while (purgeable + 1 < this.segments.length && (this.segments[purgeable + 1] as SegmentInfo).firstIndex <= limit + 1) purgeable++;
      const drop = purgeable - this.opts.retainSegments;
      if (drop <= 0) return;
      try {
        for (let i = 0; i < drop; i++) {
          const seg = this.segments[0] as SegmentInfo;
          await io('unlink', `${this.walDir}/${seg.name}`, this.fs.unlink(`${this.walDir}/${seg.name}`));
          this.segments.shift();
          this.log.info('purged WAL segment', { file: seg.name, releasedTo: limit });
        }
        await io('fsync dir', this.walDir, this.fs.syncDir(this.walDir));
      } catch (err) {
        if (err instanceof StorageWriteError) this.fail(err);
        throw err;
      }
    };
    const p = this.releaseChain.then(run);
    this.releaseChain = p.catch(() => undefined);
    return p;
  }

  readEntries(lo: number, hi: number): Entry[] {
    const out: Entry[] = [];
    for (const loc of this.locators.covering(lo, hi)) {
      const head = this.fs.readSync(loc.path, loc.offset, FRAME_HEADER_BYTES);
      const len = head.length === FRAME_HEADER_BYTES ? new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(0, true) : -1;
      // A record may outgrow a segment (a save bigger than one gets a segment of its own).
      if (len < 0 || len > MAX_READ_BACK_RECORD_BYTES) throw new StorageCorruptError(loc.path, loc.offset, 'no entries record where one was written');
      const buf = this.fs.readSync(loc.path, loc.offset, frameBytes(len));
      const rec = recordAt(buf, new DataView(buf.buffer, buf.byteOffset, buf.byteLength), 0, loc.offset);
      if (rec?.record.kind !== 'entries') throw new StorageCorruptError(loc.path, loc.offset, 'no entries record where one was written');
      for (const e of rec.record.entries) if (e.index >= lo && e.index < hi && e.index <= loc.last) out.push(e);
    }
    for (let i = 0; i < out.length; i++) {
      if ((out[i] as Entry).index !== lo + i) throw new StorageCorruptError(this.walDir, 0, `entry ${lo + i} is not in the WAL where it was written`);
    }
    if (out.length !== hi - lo) throw new StorageCorruptError(this.walDir, 0, `entries [${lo + out.length}, ${hi}) are not in the WAL`);
    return out;
  }

  /**
   * Not past a save still on its way to the file: one that starts at or below the located
   * entries supersedes them (a truncated log), so they no longer count as written.
   */
  writtenIndex(): number {
    let w = this.locators.lastIndex();
    for (const l of this.unwrittenLocs) w = Math.min(w, l.first - 1);
    for (const it of this.queue) if (it.entFirst > 0) w = Math.min(w, it.entFirst - 1);
    return w;
  }

  async openSnapshot(index: number, term: number): Promise<SnapshotReader | undefined> {
    const bad = this.check();
    if (bad) throw bad;
    const path = `${this.snapDir}/${snapshotFileName(index, term)}`;
    // The header and trailer only: the reader checks the CRC while it streams.
    const checked = await checkSnapshotAt(this.fs, path, this.opts.readChunkBytes, false).catch(() => undefined);
    if (!checked || 'invalid' in checked || checked.metadata.index !== index || checked.metadata.term !== term) return undefined;
    return snapshotReader(this.fs, path, checked, this.opts.readChunkBytes);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Refuse new calls at once; what was queued before still drains and syncs.
    const drained = this.failure ? Promise.resolve() : this.enqueue(undefined, [], undefined, true, () => undefined).catch(() => undefined);
    this.closed = true;
    await drained;
    await this.releaseChain;
    const f = this.file;
    this.file = undefined;
    if (f) await f.close().catch(() => undefined);
    const spare = this.spare;
    this.spare = undefined;
    if (spare) {
      await spare.then(
        async (s) => {
          await s.file.close().catch(() => undefined);
          await this.fs.unlink(s.tmp).catch(() => undefined);
        },
        () => undefined,
      );
    }
  }

  // ---- writer side ----

  private kick(): void {
    if (this.running) return;
    this.running = true;
    void this.drive();
  }

  /**
   * Runs the writer loop, and cuts a segment when it stops for one. The cut lives here, not in
   * run(): V8 optimizes run() under load long before the first cut (64 MiB in), and code it had
   * never run would throw that away on every member at once, then recompile it while the members
   * wait for a CPU (docs/benchmarks/member.md, twenty-fifth stop). This loop is small to redo.
   */
  private async drive(): Promise<void> {
    try {
      for (;;) {
        const cutDue = await this.run();
        if (this.failure) return;
        if (cutDue) {
          await this.pipeline;
          if (this.failure) return;
          await this.cut();
        } else if (this.queue.length === 0) {
          return; // checked after run()'s await: a save queued in between is not left behind
        }
      }
    } catch (err) {
      this.fail(err instanceof StorageWriteError ? err : new StorageWriteError('write', this.filePath, err));
    } finally {
      this.running = false;
    }
  }

  // The writer pipelines: it writes batch N+1 while the fdatasync of batch N is still running
  // (at most MAX_SYNCS_IN_FLIGHT syncs outstanding). A sync issued after a write completed covers
  // that write and every earlier one, and batches resolve strictly in order, so a save still
  // resolves only once it and everything before it is durable.
  //
  // It returns true when the next item would overflow the segment: drive() then cuts one.
  private async run(): Promise<boolean> {
    while (this.queue.length > 0 && !this.failure) {
      const batch: QueueItem[] = [];
      let bytes = 0;
      let sync = false;
      const start = this.writeOffset + this.heldBytes;
      while (this.queue.length > 0) {
        const next = this.queue[0] as QueueItem;
        if (batch.length > 0 && bytes + next.bytes > this.opts.maxBatchBytes) break;
        // A save goes whole into one segment; one bigger than a segment gets an empty one.
        if (this.segmentHasRecords && next.bytes > 0 && start + bytes + next.bytes > this.opts.segmentSizeBytes) break;
        this.queue.shift();
        batch.push(next);
        bytes += next.bytes;
        sync ||= next.mustSync;
      }
      if (batch.length === 0) return true;
      if (bytes > 0) this.segmentHasRecords = true;
      let at = start;
      for (const it of batch) {
        if (it.entFirst > 0) this.unwrittenLocs.push({ path: this.filePath, offset: at, first: it.entFirst, last: it.entLast });
        at += it.bytes;
      }
      this.lastTaken = batch[batch.length - 1] as QueueItem;
      this.unresolved.push(batch);
      if (!sync && this.heldBytes + bytes <= MAX_HELD_BYTES) {
        for (const it of batch) for (const c of it.chunks) this.held.push(c);
        this.heldBytes += bytes;
        for (const it of batch) it.chunks.length = 0; // held has them (see write())
      } else {
        const chunks = this.held;
        for (const it of batch) for (const c of it.chunks) chunks.push(c);
        try {
          await this.write(chunks, this.heldBytes + bytes);
        } finally {
          for (const it of batch) it.chunks.length = 0; // see write()
        }
      }
      if (this.failure) return false;
      let synced: Promise<void> | undefined;
      if (sync && this.syncedBytesTotal < this.writtenBytesTotal) {
        if (this.syncsInFlight >= MAX_SYNCS_IN_FLIGHT) {
          await this.pipeline;
          if (this.failure) return false;
        }
        synced = this.syncOnce(bytes);
      }
      const prev = this.pipeline;
      // The pipeline never rejects (its failures go to fail()): a batch without a sync of its
      // own (a held commit-index record) just follows it, without a Promise.all.
      this.pipeline = (synced ? Promise.all([prev, synced]) : prev).then(
        () => {
          if (this.failure) return;
          this.unresolved.shift();
          for (const it of batch) it.resolve();
        },
        (err: unknown) => this.fail(err instanceof StorageWriteError ? err : new StorageWriteError('fdatasync', this.filePath, err)),
      );
    }
    return false;
  }

  /**
   * Writes the held records and `chunks` (which starts with them) at the end of the current
   * segment. Its caller then lets go of the batch's records: the batch waits on for its fdatasync
   * (tens of ms under load, past two scavenges), and records it still held would be promoted with
   * it and kept, whole, until a full GC (a 1 KiB put's record is 1 KiB of external memory).
   */
  private async write(chunks: Uint8Array[], bytes: number): Promise<void> {
    this.held = [];
    this.heldBytes = 0;
    if (bytes === 0) return;
    const file = this.currentFile();
    this.padWithZeros(chunks, this.writeOffset + bytes);
    const tw = this.nowMs();
    await io('write', this.filePath, file.writev(chunks, this.writeOffset));
    this.hooks.walWrite?.((this.nowMs() - tw) / 1000);
    // Every record taken so far is in these chunks (held ones included): all are in the file now.
    for (const l of this.unwrittenLocs) this.locators.add(l);
    this.unwrittenLocs.length = 0;
    this.writeOffset += bytes;
    this.writtenBytesTotal += bytes;
    this.hooks.walWriteBytes?.(bytes);
  }

  /**
   * When a write ends past what the file holds, appends zeroAheadBytes of zeros to it (within the
   * segment), so the file system allocates the blocks of the next records now, in this write and
   * its fdatasync, and not once per block in the records' own. Zeros past the tail are what a
   * preallocated segment holds anyway (frame.ts scan rule 1), so a crash reads them the same way.
   */
  private padWithZeros(chunks: Uint8Array[], end: number): void {
    const ahead = this.opts.zeroAheadBytes;
    if (ahead <= 0 || end <= this.zeroedTo) return;
    const to = Math.min(this.opts.segmentSizeBytes, end + ahead);
    this.zeroedTo = Math.max(end, to);
    if (to <= end) return;
    // A Buffer, as the records are: writev's loop over the chunks then meets one kind of array.
    this.zeros ??= Buffer.alloc(ahead);
    chunks.push(this.zeros.subarray(0, to - end));
  }

  private currentFile(): WalFile {
    if (!this.file) throw new StorageWriteError('write', this.filePath, new Error('no open segment'));
    return this.file;
  }

  /**
   * One fdatasync of the current file, covering everything written before it starts. `batchBytes`:
   * the write it follows, if small enough to sync on this thread (see StorageOptions.syncHere).
   */
  private async syncOnce(batchBytes = Infinity): Promise<void> {
    const target = this.writtenBytesTotal;
    const path = this.filePath;
    const file = this.currentFile();
    const here = this.maySyncHere(batchBytes);
    this.syncsInFlight++;
    const t0 = this.nowMs();
    try {
      await io('fdatasync', path, file.datasync(here));
    } finally {
      this.syncsInFlight--;
    }
    this.syncedBytesTotal = Math.max(this.syncedBytesTotal, target);
    this.lastSyncMs = this.nowMs() - t0;
    this.hooks.walFsync?.(this.lastSyncMs / 1000);
  }

  /** Whether this fdatasync may block the calling thread: a small, lone write on a quick disk, and the owner agrees. */
  private maySyncHere(batchBytes: number): boolean {
    return batchBytes <= SYNC_HERE_MAX_BYTES && this.syncsInFlight === 0 && this.queue.length === 0 && this.lastSyncMs < SYNC_HERE_SLOW_MS && this.opts.syncHere();
  }

  /**
   * Prepares the next segment's file in the background (like etcd's file pipeline), so a cut only
   * writes the preamble, syncs and renames. Its error, if any, surfaces at the cut that needs it.
   */
  private prepareSpare(): void {
    if (this.closed || this.failure) return;
    const tmp = `${this.walDir}/spare-${++this.tmpCounter}${TMP_SUFFIX}`;
    const p = allocateSegmentFile(this.fs, tmp, this.opts.segmentSizeBytes, this.opts.preallocate).then((file) => ({ file, tmp }));
    p.catch(() => undefined); // handled where it is awaited
    this.spare = p;
  }

  private spare: Promise<{ file: WalFile; tmp: string }> | undefined;

  /** Ends the current segment and starts the next, its preamble as of the last item written. */
  private async cut(): Promise<void> {
    // The held records belong to the old segment (run() counted them there).
    await this.write(this.held, this.heldBytes);
    if (this.syncedBytesTotal < this.writtenBytesTotal) await this.syncOnce();
    const old = this.currentFile();
    await io('close', this.filePath, old.close());
    this.file = undefined;
    const seq = (this.segments[this.segments.length - 1] as SegmentInfo).seq + 1;
    const firstIndex = this.lastTaken.lastIndex + 1;
    const first = preamble(seq, firstIndex, this.lastTaken);
    const name = segmentFileName(seq, firstIndex);
    const spare = this.spare;
    this.spare = undefined;
    let file: WalFile;
    let path: string;
    if (spare) {
      const s = await spare;
      file = s.file;
      path = await installSegment(this.fs, this.walDir, s.file, s.tmp, name, first);
    } else {
      ({ file, path } = await createSegment(this.fs, this.walDir, name, first, this.opts.segmentSizeBytes, this.opts.preallocate));
    }
    const bytes = first.reduce((n, c) => n + c.length, 0);
    this.hooks.walWriteBytes?.(bytes);
    this.file = file;
    this.filePath = path;
    this.writeOffset = bytes;
    this.zeroedTo = bytes;
    this.segmentHasRecords = false;
    this.segments.push({ seq, firstIndex, name });
    this.log.info('cut new WAL segment', { file: name });
    this.prepareSpare();
  }

  private fail(err: StorageWriteError): void {
    if (!this.failure) {
      this.failure = err;
      this.log.error('storage write failed; stopping', { op: err.op, path: err.path, errno: err.errno, error: err.message });
    }
    const stopped = new StorageStoppedError(this.failure);
    const first = this.failure;
    let firstUsed = false;
    const rejectOne = (it: QueueItem): void => {
      it.reject(firstUsed ? stopped : first);
      firstUsed = true;
    };
    for (const batch of this.unresolved) for (const it of batch) rejectOne(it);
    this.unresolved = [];
    for (const it of this.queue.splice(0)) rejectOne(it);
  }
}

/** Creates a segment whole or not at all: tmp, preallocate, preamble, fsync, rename, fsync dir. */
/** Opens a new .tmp file and preallocates it to the segment size. */
async function allocateSegmentFile(fs: WalFs, tmp: string, segmentSizeBytes: number, preallocate: 'truncate' | 'zero'): Promise<WalFile> {
  const file = await io('open', tmp, fs.open(tmp, 'create'));
  if (preallocate === 'zero') {
    const zeros = new Uint8Array(Math.min(ZERO_CHUNK_BYTES, segmentSizeBytes));
    for (let pos = 0; pos < segmentSizeBytes; pos += zeros.length) {
      await io('preallocate', tmp, file.writev([zeros.subarray(0, Math.min(zeros.length, segmentSizeBytes - pos))], pos));
    }
  } else {
    await io('preallocate', tmp, file.truncate(segmentSizeBytes));
  }
  return file;
}

/** Makes a preallocated .tmp file a segment, whole or not at all: preamble, fsync, rename, fsync dir. */
async function installSegment(fs: WalFs, walDir: string, file: WalFile, tmp: string, name: string, preamble: readonly Uint8Array[]): Promise<string> {
  const path = `${walDir}/${name}`;
  await io('write', tmp, file.writev(preamble, 0));
  await io('fdatasync', tmp, file.datasync());
  await io('rename', tmp, fs.rename(tmp, path));
  await io('fsync dir', walDir, fs.syncDir(walDir));
  return path;
}

async function createSegment(
  fs: WalFs,
  walDir: string,
  name: string,
  preamble: readonly Uint8Array[],
  segmentSizeBytes: number,
  preallocate: 'truncate' | 'zero',
): Promise<{ file: WalFile; path: string }> {
  const tmp = `${walDir}/${name}${TMP_SUFFIX}`;
  const file = await allocateSegmentFile(fs, tmp, segmentSizeBytes, preallocate);
  const path = await installSegment(fs, walDir, file, tmp, name, preamble);
  return { file, path };
}

/**
 * Opens (or creates) the storage in dir and recovers: the newest valid snapshot the WAL refers to,
 * the WAL replayed after it, the hard state. A torn tail in the last segment is cut and logged;
 * anything else that does not check out throws StorageCorruptError (file + byte offset).
 */
export async function openStorage(dir: string, options: StorageOptions = {}): Promise<OpenedStorage> {
  const fs = options.fs ?? nodeFs;
  const log = options.logger ?? silentLogger;
  const hooks = options.hooks ?? {};
  const nowMs = options.nowMs ?? defaultNowMs;
  const opts = {
    segmentSizeBytes: options.segmentSizeBytes ?? DEFAULT_SEGMENT_SIZE_BYTES,
    retainSegments: options.retainSegments ?? 5,
    retainSnapshots: Math.max(1, options.retainSnapshots ?? 5),
    maxBatchBytes: options.maxBatchBytes ?? 16 * 1024 * 1024,
    preallocate: options.preallocate ?? 'truncate',
    zeroAheadBytes: Math.max(0, options.zeroAheadBytes ?? 0),
    syncHere: options.syncHere ?? neverHere,
    readChunkBytes: Math.max(16, options.readChunkBytes ?? DEFAULT_READ_CHUNK_BYTES),
  };
  const walDir = `${dir}/${WAL_DIR_NAME}`;
  const snapDir = `${dir}/${SNAP_DIR_NAME}`;
  await fs.mkdirp(walDir);
  await fs.mkdirp(snapDir);

  // Leftover .tmp files are creations that never completed (never renamed): remove them.
  for (const d of [walDir, snapDir]) {
    for (const n of await fs.readdir(d)) {
      if (n.endsWith(TMP_SUFFIX)) {
        await fs.unlink(`${d}/${n}`);
        log.warn('removed unfinished temporary file', { file: `${d}/${n}` });
      }
    }
  }

  const segs = (await fs.readdir(walDir))
    .map((name) => ({ name, p: parseSegmentFileName(name) }))
    .filter((x): x is { name: string; p: { seq: number; firstIndex: number } } => x.p !== undefined)
    .map((x) => ({ name: x.name, seq: x.p.seq, firstIndex: x.p.firstIndex }))
    .sort((a, b) => a.seq - b.seq);
  const snapNames = (await fs.readdir(snapDir))
    .map((name) => ({ name, p: parseSnapshotFileName(name) }))
    .filter((x): x is { name: string; p: { index: number; term: number } } => x.p !== undefined)
    .map((x): SnapshotCandidate => ({ name: x.name, index: x.p.index, term: x.p.term }));

  const make = (
    file: WalFile,
    filePath: string,
    writeOffset: number,
    segments: SegmentInfo[],
    shape: LogShape,
    hardState: HardState,
    marker: Marker | undefined,
    locators = new EntryLocators(),
  ): FileStorage => new FileStorage(fs, walDir, snapDir, opts, log, hooks, nowMs, file, filePath, writeOffset, segments, shape, hardState, marker, locators);

  // The last segment is scanned first: it is the only one allowed a torn tail. A segment without
  // any valid record cannot come from a crash (segments are renamed into place only after their
  // header is synced), so it is damage, and it may have held acknowledged records: refuse.
  // Its records are kept for the replay below (at most one segment's worth); every other segment
  // is replayed as it is read, so memory holds a read window, not the WAL.
  const t0 = nowMs();
  const chunkBytes = Math.max(16, options.readChunkBytes ?? DEFAULT_READ_CHUNK_BYTES);
  let walBytesRead = 0;
  let walSegmentsRead = 0;
  const scanFile = async (path: string, isLast: boolean, onRecord: (r: ScannedRecord) => void): Promise<StreamedSegmentScan> => {
    const f = await fs.openRead(path);
    try {
      const scan = await scanSegmentFile(f, isLast, chunkBytes, onRecord);
      walBytesRead += scan.bytesRead;
      walSegmentsRead++;
      return scan;
    } catch (err) {
      if (err instanceof ScanError) throw new StorageCorruptError(path, err.offset, err.reason);
      throw err;
    } finally {
      await f.close().catch(() => undefined);
    }
  };
  const lastSeg = segs[segs.length - 1];
  let lastScan: { scan: StreamedSegmentScan; records: ScannedRecord[] } | undefined;
  if (lastSeg) {
    const path = `${walDir}/${lastSeg.name}`;
    const records: ScannedRecord[] = [];
    const scan = await scanFile(path, true, (r) => records.push(r));
    if (records.length === 0) {
      throw new StorageCorruptError(path, 0, 'segment has no valid header (segments are created whole, so this is damage)');
    }
    lastScan = { scan, records };
  }

  if (segs.length === 0) {
    if (snapNames.length > 0) {
      throw new StorageCorruptError(snapDir, 0, `found ${snapNames.length} snapshot file(s) but no WAL segment`);
    }
    const name = segmentFileName(0, 1);
    const preamble = [encodeRecord({ kind: 'segmentHeader', seq: 0, firstIndex: 1 })];
    const { file, path } = await createSegment(fs, walDir, name, preamble, opts.segmentSizeBytes, opts.preallocate);
    const bytes = preamble.reduce((n, c) => n + c.length, 0);
    log.info('created a new WAL', { dir });
    const storage = make(file, path, bytes, [{ seq: 0, firstIndex: 1, name }], new LogShape(0), EMPTY_HARD_STATE, undefined);
    return { storage, recovered: { hardState: EMPTY_HARD_STATE, entries: [] } };
  }

  // The newest snapshot marker is in the last segment: its preamble carries the newest marker at
  // the cut, and every later marker is a record in it. When that snapshot's file checks out, the
  // segments wholly before it are not needed, and replay starts at the segment that holds the
  // entry after it: exactly the state a purge with no retained segments leaves (etcd's WAL also
  // opens at the snapshot's segment). Otherwise (no marker, no file, a file that does not check
  // out) every segment is replayed, and an older snapshot may be chosen, as before.
  let snapshotBytesRead = 0;
  const checkedByName = new Map<string, Awaited<ReturnType<typeof checkSnapshotAt>>>();
  const check = async (name: string): Promise<Awaited<ReturnType<typeof checkSnapshotAt>>> => {
    let checked = checkedByName.get(name);
    if (!checked) {
      checked = await checkSnapshotAt(fs, `${snapDir}/${name}`, chunkBytes, true);
      snapshotBytesRead += checked.fileBytes;
      checkedByName.set(name, checked);
    }
    return checked;
  };
  let newest: { index: number; term: number } | undefined;
  for (const r of lastScan?.records ?? []) if (r.record.kind === 'snapshot') newest = { index: r.record.index, term: r.record.term };
  let firstReplayed = 0;
  const newestFile = newest && snapNames.find((c) => c.index === newest.index && c.term === newest.term);
  if (newest && newestFile) {
    const checked = await check(newestFile.name);
    if (!('invalid' in checked) && checked.metadata.index === newest.index && checked.metadata.term === newest.term) {
      while (firstReplayed + 1 < segs.length && (segs[firstReplayed + 1] as SegmentInfo).firstIndex <= newest.index + 1) firstReplayed++;
    }
  }

  for (let i = 1; i < segs.length; i++) {
    const seg = segs[i] as SegmentInfo;
    if (seg.seq !== (segs[i - 1] as SegmentInfo).seq + 1) {
      throw new StorageCorruptError(`${walDir}/${seg.name}`, 0, `segment sequence ${seg.seq} does not follow ${(segs[i - 1] as SegmentInfo).seq}: a segment is missing`);
    }
  }
  const replayFrom = async (from: number): Promise<{ replay: Replay; locators: EntryLocators; lastEnd: number; torn?: { offset: number; bytes: number }; entriesReplayed: number }> => {
    const replay = new Replay();
    const locators = new EntryLocators();
    let lastEnd = 0;
    let torn: { offset: number; bytes: number } | undefined;
    let entriesReplayed = 0;
    for (let i = from; i < segs.length; i++) {
      const seg = segs[i] as SegmentInfo;
      const path = `${walDir}/${seg.name}`;
      const isLast = i === segs.length - 1;
      let first = true;
      const onRecord = (r: ScannedRecord): void => {
        if (first) {
          first = false;
          const h = r.record;
          if (h.kind !== 'segmentHeader' || h.seq !== seg.seq || h.firstIndex !== seg.firstIndex) {
            throw new StorageCorruptError(path, 0, 'segment header missing or not matching the file name');
          }
        }
        if (r.record.kind === 'entries' && r.record.entries.length > 0) {
          const ents = r.record.entries;
          entriesReplayed += ents.length;
          locators.add({ path, offset: r.offset, first: ents[0]!.index, last: ents[ents.length - 1]!.index });
        }
        try {
          replay.apply(r.record);
        } catch (err) {
          if (err instanceof ReplayError) throw new StorageCorruptError(path, r.offset, err.reason);
          throw err;
        }
      };
      let scan: StreamedSegmentScan;
      if (isLast && lastScan) {
        for (const r of lastScan.records) onRecord(r);
        scan = lastScan.scan;
      } else {
        scan = await scanFile(path, isLast, onRecord);
      }
      if (first) throw new StorageCorruptError(path, 0, 'segment header missing or not matching the file name');
      if (isLast) {
        lastEnd = scan.end;
        torn = scan.torn;
      }
    }
    return torn ? { replay, locators, lastEnd, torn, entriesReplayed } : { replay, locators, lastEnd, entriesReplayed };
  };

  // Pick the snapshot: newest first among those the WAL has a marker for and whose file checks out.
  // Checking reads the file in chunks (its CRC); its data is loaded whole only with snapshotData 'load'.
  const pick = async (replay: Replay): Promise<{ name: string; info: SnapshotFileInfo } | undefined> => {
    for (const c of usableSnapshots(replay, snapNames)) {
      const checked = await check(c.name);
      const path = `${snapDir}/${c.name}`;
      if ('invalid' in checked) {
        log.warn('skipping invalid snapshot file', { file: path, reason: checked.invalid });
        continue;
      }
      if (checked.metadata.index !== c.index || checked.metadata.term !== c.term) {
        log.warn('skipping snapshot file whose metadata does not match its name', { file: path });
        continue;
      }
      return { name: c.name, info: checked };
    }
    return undefined;
  };
  let replayed = await replayFrom(firstReplayed);
  let chosen = await pick(replayed.replay);
  if (firstReplayed > 0 && chosen?.name !== newestFile?.name) {
    // Cannot happen when the newest marker's file checked out (it is always usable then); if it
    // ever does, the skipped segments may matter: replay them all.
    log.warn('replaying the whole WAL: the snapshot it was to start from was not chosen', { newest, chosen: chosen?.name });
    firstReplayed = 0;
    replayed = await replayFrom(0);
    chosen = await pick(replayed.replay);
  }
  lastScan = undefined;
  const { replay, locators, lastEnd, torn, entriesReplayed } = replayed;

  let snapshot: Snapshot | undefined;
  let reader: SnapshotReader | undefined;
  if (chosen) {
    const path = `${snapDir}/${chosen.name}`;
    const checked = chosen.info;
    reader = snapshotReader(fs, path, checked, chunkBytes, true);
    let data: Uint8Array = new Uint8Array(0);
    if ((options.snapshotData ?? 'load') === 'load') {
      const f = await fs.openRead(path);
      try {
        data = await f.read(checked.dataOffset, checked.dataBytes);
      } finally {
        await f.close().catch(() => undefined);
      }
      snapshotBytesRead += data.length;
      if (data.length !== checked.dataBytes) throw new StorageCorruptError(path, checked.dataOffset, 'snapshot file shrank while read');
    }
    snapshot = { metadata: checked.metadata, data };
  }
  let assembled: { hardState: HardState; entries: Entry[] };
  try {
    assembled = assemble(replay, snapshot);
  } catch (err) {
    if (err instanceof ReplayError) throw new StorageCorruptError(`${walDir}/${(segs[0] as SegmentInfo).name}`, 0, err.reason);
    throw err;
  }

  const lastPath = `${walDir}/${(segs[segs.length - 1] as SegmentInfo).name}`;
  const file = await io('open', lastPath, fs.open(lastPath, 'write'));
  if (torn) {
    log.warn('truncated a torn record at the WAL tail', { file: lastPath, offset: torn.offset, bytesCut: torn.bytes });
    if (torn.bytes > 0) await io('write', lastPath, file.writev([new Uint8Array(torn.bytes)], torn.offset));
    await io('fdatasync', lastPath, file.datasync());
  }
  const shape = (replay.shape as LogShape).clone();
  const storage = make(file, lastPath, lastEnd, segs.slice(), shape, replay.hardState, replay.lastMarker, locators);
  const stats: RecoveryStats = {
    durationMs: Math.round(nowMs() - t0),
    walSegments: segs.length,
    walSegmentsRead,
    walBytesRead,
    snapshotBytesRead,
    snapshotDataBytes: reader?.dataBytes ?? 0,
    entriesReplayed,
  };
  const recovered: RecoveredState = snapshot && reader
    ? { snapshot, snapshotReader: reader, hardState: assembled.hardState, entries: assembled.entries, stats }
    : { hardState: assembled.hardState, entries: assembled.entries, stats };
  log.info('recovered storage', {
    dir,
    segments: segs.length,
    segmentsRead: walSegmentsRead,
    snapshotIndex: snapshot?.metadata.index ?? 0,
    entries: assembled.entries.length,
    lastIndex: shape.last,
    commit: assembled.hardState.commit,
    ms: stats.durationMs,
    walBytesRead,
    snapshotBytesRead,
    snapshotDataBytes: stats.snapshotDataBytes,
    entriesReplayed,
  });
  return { storage, recovered };
}

/** Opens and checks a snapshot file (crc: also its checksum, reading it all in chunks). */
async function checkSnapshotAt(fs: WalFs, path: string, chunkBytes: number, crc: boolean): Promise<(SnapshotFileInfo | { invalid: string }) & { fileBytes: number }> {
  const f = await fs.openRead(path);
  try {
    return { ...(await checkSnapshotFile(f, chunkBytes, crc)), fileBytes: f.sizeBytes };
  } finally {
    await f.close().catch(() => undefined);
  }
}

/** checked: the whole file's CRC was just checked (recovery), so reading it back does not check again. */
function snapshotReader(fs: WalFs, path: string, info: SnapshotFileInfo, chunkBytes: number, checked = false): SnapshotReader {
  return {
    metadata: info.metadata,
    dataBytes: info.dataBytes,
    chunks: () => snapshotFileData(() => fs.openRead(path), info, chunkBytes, !checked),
  };
}
