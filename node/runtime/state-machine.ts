// What the runtime needs from the replicated state machine (node/mvcc), defined by its user.
// mvcc-adapter.ts implements it over node/mvcc's store; unit tests may use the same adapter.

import type { LeaseKeys } from '../mvcc/auth-gate.js';
import type { AuthStore } from '../mvcc/auth-store.js';
import type * as mvcc from '../mvcc/types.js';
import type { MvccStore } from '../mvcc/store.js';
import type { WatchSink, WatchStream } from '../server/backend.js';

export interface StateMachine {
  /** The replicated auth state; its commands come from the log like every other write. */
  readonly auth: AuthStore;
  /** The live keys of a lease (auth checks at apply). */
  readonly leaseKeys: LeaseKeys;
  /** Applies one committed command at a raft index. Throws MvccError for expected failures. */
  apply(cmd: mvcc.Command, index: number): mvcc.CommandResponse;
  /** Quota check before proposing a write (etcd's quota.Available). */
  quotaAllows(cmd: mvcc.Command): boolean;
  /** Called after each slice of applies (feeds the watch hub). */
  afterApply(): void;
  /** One bounded piece of background work (watch catch-up); true when idle. */
  backgroundStep(): boolean;
  /** Whether backgroundStep has work (absent: assume it may). */
  backgroundPending?(): boolean;
  /** Periodic progress notifications for progress_notify watchers. */
  progressTick(): void;
  /** Local (serializable) range. */
  range(req: mvcc.RangeRequest): mvcc.RangeResponse;
  /** A txn that only reads (txn-kind.ts isReadOnlyTxn), served from the local state like range. */
  txnRead(req: mvcc.TxnRequest): mvcc.TxnResponse;
  /** Local range in bounded steps (for large ranges), consistent at one revision; yields between steps. */
  rangeChunked?(req: mvcc.RangeRequest, yieldToLoop: () => Promise<unknown>): Promise<mvcc.RangeResponse>;
  currentRevision(): number;
  compactRevision(): number;
  /** One bounded step of physical compaction; true when nothing is left to do now. */
  compactStep(maxKeys: number): boolean;
  /** Physical compaction work remains, some of it held back by a pinned reader. */
  physicalCompactionPending(): boolean;
  openWatchStream(sink: WatchSink): WatchStream;
  /** The whole state as bounded chunks; the state must not change while the iterator runs. */
  snapshotChunks(maxChunkBytes: number): Iterable<Uint8Array>;
  /**
   * The member's own snapshot when its values stay in a kept value log (value-log.ts): the store's
   * chunks name value offsets; `durable` (awaited after the last chunk, before the snapshot file is
   * renamed into place) makes the values they name durable; `end` is called once, saved or not.
   * Undefined: use snapshotChunks (the values carried).
   */
  localSnapshot?(maxChunkBytes: number): { chunks: Iterable<Uint8Array>; durable(): Promise<void>; end(saved: boolean): void } | undefined;
  /**
   * What a local snapshot writes, for the snapshot trigger (snapshot-policy.ts): the index only when
   * localSnapshot names value offsets. Absent: sizeInUseBytes (the whole state).
   */
  snapshotCostBytes?(): number;
  /** Turns store chunks that name value offsets into chunks that carry the values (read) or measures them (!read). */
  snapshotExpander?(read: boolean): { write(chunk: Uint8Array): Array<Uint8Array | number>; readonly format: number; ended(): boolean };
  /** Keeps every value-log segment on disk until the returned function is called (a snapshot being sent). */
  pinValues?(): () => void;
  /** Every held revision in etcd's (main, sub) order, for the etcd-format snapshot (etcd-snapshot-export.ts). */
  exportRevisions: MvccStore['exportRevisions'];
  /** Replaces the whole state. */
  restore(chunks: Iterable<Uint8Array>): void;
  /**
   * The same, chunk by chunk (the caller yields between chunks); the state changes at finish().
   * `checked`: the bytes come from a snapshot file whose checksum is (being) checked, so the
   * state's own trailer checksum need not be computed again.
   */
  beginRestore?(opts?: { checked?: boolean }): { write(chunk: Uint8Array): void; finish(): void };
  hash(): mvcc.HashResponse;
  hashKV(revision: number): mvcc.HashKVResponse;
  /** What the store occupies on disk, dead bytes included (etcd_mvcc_db_total_size_in_bytes, Status dbSize). */
  sizeBytes(): number;
  /** What its live data needs (…_in_use_in_bytes, Status dbSizeInUse). The quota is checked against the store's total (dead bytes, not retired segments the next snapshots delete). */
  sizeInUseBytes(): number;
  /** Gives dead bytes back to the disk (Defragment), yielding between bounded steps. */
  defragment?(yieldToLoop: () => Promise<unknown>): Promise<{ reclaimedBytes: number }>;
  /** Snapshots still to take before the value-log segments a Defragment retired may be deleted (0: none). */
  snapshotsToFree?(): number;
  /** True when enough bytes are dead that the runtime should defragment on its own. */
  defragWanted?(): boolean;
  /** Put bytes and compacted revisions since start (etcd_debugging_mvcc_total_put_size_in_bytes, _db_compaction_keys_total). */
  stats(): { readonly putBytes: number; readonly compactedRevisions: number };
  /** Keys in the key index (for etcd_debugging_mvcc_keys_total). */
  keyCount(): number;
  /** Reads and snapshots pinning a revision now (etcd_mvcc_db_open_read_transactions). */
  openReads(): number;
  /** Watchers on every stream (etcd_debugging_mvcc_watcher_total). */
  watcherCount(): number;
  /** Watchers behind, being caught up from history (etcd_debugging_mvcc_slow_watcher_total). */
  slowWatchers(): number;
  /** Events held for slow streams (etcd_debugging_mvcc_pending_events_total). */
  pendingEvents(): number;
  alarms(): mvcc.AlarmMember[];
  leaseTimeToLive(req: mvcc.LeaseTimeToLiveRequest, nowMs: number): mvcc.LeaseTimeToLiveResponse;
  leaseLeases(nowMs: number): mvcc.LeaseLeasesResponse;
  // leader-side lease clock
  leasePromote(nowMs: number, extendMs: number): void;
  leaseDemote(): void;
  /** Renews on the leader. ttl 0: not found. checkpointClear: propose a checkpoint {ID, 0}. */
  /** `expired`: the lease is past its TTL (its revoke due or in flight): not renewed. */
  leaseRenew(id: mvcc.LeaseId, nowMs: number): { ttl: number; clearCheckpoint: boolean; expired?: true };
  leaseExpired(nowMs: number, max: number): mvcc.LeaseId[];
  leaseCheckpointsDue(nowMs: number, intervalMs: number, max: number): mvcc.LeaseCheckpoint[];
}
