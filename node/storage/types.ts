// The storage interface the member runtime (and the simulator) code against.
// One implementation, `openStorage` in storage.ts, runs over a small file-system interface
// (fs.ts): the real disk (node-fs.ts) or the in-memory twin (memory-fs.ts), which keeps written
// and synced bytes apart and can crash, losing what was not synced.

import type { Entry, HardState, Snapshot, SnapshotMetadata } from '../raft/types.js';
import type { Logger } from '../log.js';
import type { WalFs } from './fs.js';

/** What recovery hands the runtime: feed it to raft's MemoryStorage. */
export interface RecoveredState {
  /** The newest valid snapshot referenced by the WAL, if any. */
  readonly snapshot?: Snapshot;
  /** The last saved hard state (EMPTY_HARD_STATE on a fresh data dir); commit >= snapshot index. */
  readonly hardState: HardState;
  /** The log after the snapshot: contiguous, starting at snapshot.index + 1 (or 1). Newest term wins on overwrite. */
  readonly entries: readonly Entry[];
  /**
   * The recovered snapshot's data, to read in bounded chunks. With `snapshotData: 'stream'` this is
   * the only way to its bytes: `snapshot.data` is then empty.
   */
  readonly snapshotReader?: SnapshotReader;
  /** What recovery read and how long it took (also logged). */
  readonly stats?: RecoveryStats;
}

/** A durable snapshot file's data, read from disk chunk by chunk each time it is iterated. */
export interface SnapshotReader {
  readonly metadata: SnapshotMetadata;
  readonly dataBytes: number;
  /**
   * The data in chunks of bounded size. From openSnapshot, the file's checksum is checked while
   * reading (the iterator throws before its last chunk if it does not match); recovery's reader
   * reads back a file it checked whole just before, without a second pass.
   */
  chunks(): AsyncIterable<Uint8Array>;
}

export interface RecoveryStats {
  readonly durationMs: number;
  readonly walSegments: number;
  /** Segments read: those the chosen snapshot covers wholly are skipped (storage.ts, openStorage). */
  readonly walSegmentsRead: number;
  readonly walBytesRead: number;
  /** Bytes read to check the chosen snapshot file (and any refused newer ones). */
  readonly snapshotBytesRead: number;
  readonly snapshotDataBytes: number;
  readonly entriesReplayed: number;
}

/** Snapshot bytes: all at once, or streamed in chunks (large state machines). */
export type SnapshotData = Uint8Array | AsyncIterable<Uint8Array>;

/** A raft Snapshot is accepted as is; `data` may also be an async iterable of chunks. */
export interface SnapshotInput {
  readonly metadata: SnapshotMetadata;
  readonly data: SnapshotData;
}

/** Durations are in seconds, as Prometheus wants them. */
export interface StorageHooks {
  /** One WAL fdatasync finished (the group commit's sync). */
  walFsync?(durationSeconds: number): void;
  /** Bytes handed to the WAL file (records, padding and segment preambles). */
  walWriteBytes?(bytes: number): void;
  /** One write of a batch of WAL records to the file finished (etcd's WAL write latency). */
  walWrite?(durationSeconds: number): void;
  /** The fdatasync of a new snapshot file finished (etcd's snap fsync). */
  snapshotFsync?(durationSeconds: number): void;
  /**
   * Our equivalent of etcd's backend commit: persisting the state machine, i.e. one snapshot save
   * (tmp file write, fsync, rename, directory fsync, WAL marker made durable).
   */
  backendCommit?(durationSeconds: number): void;
  /** A leader's snapshot (saveSnapshot with fromLeader): its file's fdatasync (etcd's .snap.db fsync). */
  leaderSnapshotFsync?(durationSeconds: number): void;
  /** A leader's snapshot: the whole save, write to durable marker (etcd's v3 snapshot save). */
  leaderSnapshotSave?(durationSeconds: number): void;
}

export interface SaveSnapshotOptions {
  /** The snapshot came from the leader (not this member's own): also timed as etcd's snap_db figures. */
  readonly fromLeader?: boolean;
}

export interface StorageOptions {
  /** File system to run on; default the real disk (nodeFs). */
  fs?: WalFs;
  logger?: Logger;
  /** WAL segment size; default 64 MiB. New segments are preallocated to this size. */
  segmentSizeBytes?: number;
  /** Segments wholly before the newest snapshot that releaseTo keeps anyway; default 5 (etcd's --max-wals). */
  retainSegments?: number;
  /** Snapshot files kept; default 5 (etcd's --max-snapshots). */
  retainSnapshots?: number;
  /** Upper bound of bytes one group-commit write takes from the queue; default 16 MiB. */
  maxBatchBytes?: number;
  /**
   * How new segments are preallocated: 'truncate' (ftruncate: sparse, cheap; the default) or
   * 'zero' (write zeros through the file, so later writes do not allocate blocks).
   */
  preallocate?: 'truncate' | 'zero';
  /**
   * Zeros written past the end of each WAL write that reaches beyond what the segment already
   * holds, in the same write; default 0 (off). Later records then land on blocks the file system
   * has already allocated, so their fdatasync flushes data alone, not the block allocation too.
   */
  zeroAheadBytes?: number;
  /**
   * Asked before the fdatasync of a small write (at most SYNC_HERE_MAX_BYTES) when nothing else is
   * queued or syncing and the last fdatasync was quick: true runs it on the calling thread, as
   * etcd's raft loop runs its WAL's fdatasync, instead of in a worker. That saves the hand-off to
   * the worker and the wake-up after it, which on a machine with fewer cores than busy threads
   * each wait for a CPU; the price is a thread blocked for the fdatasync. Default: never.
   */
  syncHere?: () => boolean;
  hooks?: StorageHooks;
  /** Size of recovery's reads: WAL segments and snapshot files are read in pieces of this size; default 8 MiB. */
  readChunkBytes?: number;
  /**
   * 'load' (the default): recovered.snapshot.data holds the snapshot's bytes. 'stream': it is empty,
   * and recovered.snapshotReader reads them in chunks (no whole-state copy in memory).
   */
  snapshotData?: 'load' | 'stream';
  /** Monotonic milliseconds for the hooks' durations; default performance.now. */
  nowMs?: () => number;
}

export interface MemberStorage {
  /**
   * Appends entries (which may overwrite a suffix: same index, newer term) and/or the hard state.
   * Concurrent and back-to-back calls share one fdatasync (group commit). Resolves, in call order,
   * once the data is durable (mustSync) or written to the OS (!mustSync). Rejects with
   * StorageWriteError on an I/O error; after that every call rejects with StorageStoppedError.
   */
  save(hardState: HardState | undefined, entries: readonly Entry[], mustSync: boolean): Promise<void>;
  /**
   * Writes the snapshot file (tmp, fsync, rename, directory fsync), then a durable marker record
   * in the WAL. Resolves when both are durable. An installed snapshot whose (index, term) does
   * not match the saved log replaces the log, as in raft; so await this before saving the
   * entries that follow it (the Ready order). A snapshot older than the newest saved one is a
   * no-op (it resolves without writing).
   */
  saveSnapshot(snapshot: SnapshotInput | Snapshot, opts?: SaveSnapshotOptions): Promise<void>;
  /**
   * Entries up to index are no longer needed (a durable snapshot covers them): deletes WAL segments
   * wholly before min(index, newest snapshot index), keeping `retainSegments` of them.
   */
  releaseTo(index: number): Promise<void>;
  /**
   * Entries [lo, hi) read back from the WAL on the calling thread, for a raft log that keeps only
   * its newest entries in memory (raft/memory-storage.ts). Only entries at or below writtenIndex()
   * can be read, and only until releaseTo lets their segment go. Throws StorageCorruptError when
   * the WAL does not hold them as written.
   */
  readEntries?(lo: number, hi: number): Entry[];
  /** The last index whose entry has been written to the WAL (in the file or the page cache, maybe not yet synced). */
  writtenIndex?(): number;
  /**
   * The durable snapshot file for (index, term), checked, to read in chunks (e.g. to send to a
   * peer); undefined if there is none or it does not check out.
   */
  openSnapshot?(index: number, term: number): Promise<SnapshotReader | undefined>;
  /** Drains the queue, syncs, closes. Further calls reject with StorageClosedError. */
  close(): Promise<void>;
}

export interface OpenedStorage {
  readonly storage: MemberStorage;
  readonly recovered: RecoveredState;
}
