// The StateMachine the runtime drives, over node/mvcc's MvccStore and WatchHub.

import { performance } from 'node:perf_hooks';
import type { LeaseKeys } from '../mvcc/auth-gate.js';
import { AuthStore } from '../mvcc/auth-store.js';
import { MvccStore, SnapshotExpander, WatchHub, type StoreOptions } from '../mvcc/index.js';
import type { ValueLog } from '../storage/value-log.js';
import type * as mvcc from '../mvcc/types.js';
import type { WatchSink, WatchStream } from '../server/backend.js';
import type { StateMachine } from './state-machine.js';

/** Keys visited per step of a big range before yielding. */
const RANGE_STEP_KEYS = 2000;
/** Longest stretch of a chunked range before yielding (ms). */
const RANGE_SLICE_MS = 4;
/** Keys whose values a defragment step moves before checking the clock. */
const DEFRAG_STEP_KEYS = 256;
/**
 * The value log defragments itself once its dead bytes pass both this and its live bytes: an
 * append-only log never reuses space, as bbolt reuses freed pages, so without this the disk
 * would grow with every overwrite until someone called Defragment.
 */
export const AUTO_DEFRAG_MIN_DEAD_BYTES = 64 * 2 ** 20;
/** Output chunks of a snapshot expanded for a peer (values read back from the log). */
const EXPAND_CHUNK_BYTES = 1 << 20;

export interface MvccStateMachineOptions extends StoreOptions {
  /** Values on disk (node/storage/value-log.ts) instead of the heap; Defragment then rewrites it. */
  valueLog?: ValueLog;
}

export class MvccStateMachine implements StateMachine {
  readonly store: MvccStore;
  readonly hub: WatchHub;
  readonly auth = new AuthStore();
  readonly leaseKeys: LeaseKeys = (id) => this.store.lease(id)?.keys;

  private readonly valueLog: ValueLog | undefined;

  /** monoMs: the clock that bounds a chunked range's slices (the member's scheduler in test/sim). */
  constructor(
    opts: MvccStateMachineOptions = {},
    private readonly monoMs: () => number = () => performance.now(),
  ) {
    const { valueLog, ...storeOpts } = opts;
    this.valueLog = valueLog;
    this.store = new MvccStore(valueLog ? { ...storeOpts, values: valueLog } : storeOpts);
    this.hub = new WatchHub(this.store);
  }

  apply(cmd: mvcc.Command, index: number): mvcc.CommandResponse {
    return this.store.apply(cmd, index) as unknown as mvcc.CommandResponse;
  }
  quotaAllows(cmd: mvcc.Command): boolean {
    return this.store.quotaAllows(cmd);
  }
  afterApply(): void {
    this.hub.notify();
  }
  backgroundStep(): boolean {
    return this.hub.syncStep(1000);
  }
  backgroundPending(): boolean {
    return this.hub.unsyncedCount() > 0;
  }
  progressTick(): void {
    this.hub.progressTick();
  }
  range(req: mvcc.RangeRequest): mvcc.RangeResponse {
    return this.store.range(req);
  }

  txnRead(req: mvcc.TxnRequest): mvcc.TxnResponse {
    return this.store.txnRead(req);
  }
  async rangeChunked(req: mvcc.RangeRequest, yieldToLoop: () => Promise<unknown>): Promise<mvcc.RangeResponse> {
    const it = this.store.rangeSteps(req, RANGE_STEP_KEYS);
    try {
      let slice = this.monoMs();
      for (;;) {
        const r = it.next();
        if (r.done) return r.value;
        if (this.monoMs() - slice > RANGE_SLICE_MS) {
          await yieldToLoop();
          slice = this.monoMs();
        }
      }
    } finally {
      it.return(undefined as never);
    }
  }
  currentRevision(): number {
    return this.store.currentRevision();
  }
  compactRevision(): number {
    return this.store.compactRevision();
  }
  compactStep(maxKeys: number): boolean {
    return this.store.compactStep(maxKeys);
  }
  physicalCompactionPending(): boolean {
    return this.store.physicalCompactionPending();
  }
  openWatchStream(sink: WatchSink): WatchStream {
    const hub = this.hub;
    const id = hub.openStream({ send: (resp) => sink(resp) });
    return {
      create: (req) => {
        hub.createWatch(id, req);
      },
      cancel: (watchId) => {
        hub.cancelWatch(id, watchId);
      },
      resume: () => hub.resume(id),
      requestProgress: () => hub.requestProgress(id),
      close: () => hub.closeStream(id),
    };
  }
  snapshotChunks(maxChunkBytes: number): Iterable<Uint8Array> {
    return this.store.snapshotChunks(maxChunkBytes);
  }
  localSnapshot(maxChunkBytes: number): ReturnType<NonNullable<StateMachine['localSnapshot']>> {
    const log = this.valueLog;
    if (!log?.keepsValues()) return undefined;
    const id = log.beginSnapshot();
    return {
      chunks: this.store.snapshotChunks(maxChunkBytes, () => log.sealSnapshot(id)),
      durable: () => log.syncSnapshot(id),
      end: (saved) => log.endSnapshot(id, saved),
    };
  }
  snapshotCostBytes(): number {
    return this.valueLog?.keepsValues() ? this.store.indexSizeBytes() : this.store.sizeBytes();
  }
  snapshotExpander(read: boolean): SnapshotExpander {
    if (read && !this.valueLog) throw new Error('a snapshot that names value offsets, and no value log to read them from');
    return new SnapshotExpander(read ? this.valueLog : undefined, EXPAND_CHUNK_BYTES);
  }
  pinValues(): () => void {
    return this.valueLog?.pinSegments() ?? (() => undefined);
  }
  exportRevisions(): ReturnType<MvccStore['exportRevisions']> {
    return this.store.exportRevisions();
  }
  restore(chunks: Iterable<Uint8Array>): void {
    this.store.restore(chunks);
    this.hub.notify();
  }
  beginRestore(opts?: { checked?: boolean }): { write(chunk: Uint8Array): void; finish(): void } {
    const r = this.store.beginRestore(opts);
    return {
      write: (c) => r.write(c),
      finish: () => {
        r.finish();
        this.hub.notify();
      },
    };
  }
  hash(): mvcc.HashResponse {
    return this.store.hash();
  }
  hashKV(revision: number): mvcc.HashKVResponse {
    return this.store.hashKV(revision);
  }
  sizeBytes(): number {
    // What the disk holds: retired segments too, until the snapshots that free them (value-log.ts, 3).
    return this.store.totalSizeBytes() + (this.valueLog?.retiredBytes() ?? 0);
  }
  sizeInUseBytes(): number {
    return this.store.sizeBytes();
  }
  snapshotsToFree(): number {
    return this.valueLog?.snapshotsToFree() ?? 0;
  }
  /** True when the value log holds more dead bytes than live ones (and at least AUTO_DEFRAG_MIN_DEAD_BYTES). */
  defragWanted(): boolean {
    const log = this.valueLog;
    if (!log || log.defragRunning()) return false;
    const dead = this.store.totalSizeBytes() - this.store.sizeBytes();
    return dead >= AUTO_DEFRAG_MIN_DEAD_BYTES && dead > log.totalBytes() - dead;
  }
  /**
   * Rewrites the value log's held values into a new segment and deletes the old ones, in slices
   * between applies (store.relocateStep). Without a value log there is nothing to give back.
   */
  async defragment(yieldToLoop: () => Promise<unknown>): Promise<{ reclaimedBytes: number }> {
    const log = this.valueLog;
    if (!log || log.defragRunning()) return { reclaimedBytes: 0 };
    log.beginDefrag();
    try {
      const cursor = { from: '' as string | undefined, rev: 0 };
      let slice = this.monoMs();
      while (!this.store.relocateStep(cursor, DEFRAG_STEP_KEYS)) {
        if (this.monoMs() - slice > RANGE_SLICE_MS) {
          await yieldToLoop();
          slice = this.monoMs();
        }
      }
      return log.endDefrag();
    } catch (e: unknown) {
      log.abortDefrag();
      throw e;
    }
  }
  stats(): { readonly putBytes: number; readonly compactedRevisions: number } {
    return this.store.stats;
  }
  keyCount(): number {
    return this.store.keyCount();
  }
  openReads(): number {
    return this.store.openReads();
  }
  watcherCount(): number {
    return this.hub.watcherCount();
  }
  slowWatchers(): number {
    return this.hub.unsyncedCount();
  }
  pendingEvents(): number {
    return this.hub.pendingEventCount();
  }
  alarms(): mvcc.AlarmMember[] {
    return this.store.alarms();
  }
  leaseTimeToLive(req: mvcc.LeaseTimeToLiveRequest, nowMs: number): mvcc.LeaseTimeToLiveResponse {
    return this.store.leaseTimeToLive(req, nowMs);
  }
  leaseLeases(nowMs: number): mvcc.LeaseLeasesResponse {
    const r = this.store.leaseLeases();
    return { ...r, leases: this.store.lessor.byExpiry(r.leases.map((l) => l.ID), nowMs).map((ID) => ({ ID })) };
  }
  leasePromote(nowMs: number, extendMs: number): void {
    this.store.lessor.promote(nowMs, extendMs);
  }
  leaseDemote(): void {
    this.store.lessor.demote();
  }
  leaseRenew(id: mvcc.LeaseId, nowMs: number): { ttl: number; clearCheckpoint: boolean; expired?: true } {
    const r = this.store.lessor.renew(id, nowMs);
    return { ttl: r.TTL, clearCheckpoint: r.clearCheckpoint, ...(r.expired ? { expired: r.expired } : {}) };
  }
  leaseExpired(nowMs: number, max: number): mvcc.LeaseId[] {
    return this.store.lessor.expired(nowMs, max);
  }
  leaseCheckpointsDue(nowMs: number, intervalMs: number, max: number): mvcc.LeaseCheckpoint[] {
    return this.store.lessor.checkpointsDue(nowMs, intervalMs, max);
  }
}
