// A node's disk in the simulator: it keeps apart what was written and what was made durable.
// write*() queues a write; sync() makes every queued write durable; crash() loses the writes
// that were not synced yet (optionally keeping a prefix of them, as a real disk may have
// flushed some on its own). Only durable state survives into the next incarnation.
//
// Durable layout, like a WAL plus a snapshot file: the latest snapshot, the hard state, and
// the entries after the snapshot (contiguous, index snapshot.index+1 ...).
//
// `lieAboutSync` is a deliberately broken disk (acknowledges a sync of the hard state but
// loses it on crash). It exists only so a test can prove the simulator notices when the
// persistence contract is broken; normal runs never turn it on.
import type { Entry, HardState, Snapshot } from '../../node/raft/types.js';
import { EMPTY_HARD_STATE } from '../../node/raft/types.js';

type DiskOp =
  | { readonly kind: 'hardState'; readonly hs: HardState }
  | { readonly kind: 'entries'; readonly entries: readonly Entry[] }
  | { readonly kind: 'snapshot'; readonly snap: Snapshot; readonly keepFollowing: boolean };

export interface DurableState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot;
  /** Entries after snapshot.metadata.index, contiguous. */
  readonly entries: readonly Entry[];
}

export interface SimDiskOptions {
  lieAboutSync?: boolean;
}

export class SimDisk {
  private hardState: HardState;
  private snapshot: Snapshot;
  private entries: Entry[];
  private pending: DiskOp[] = [];
  /** Hard state as it was before the last lied-about sync (for the broken-disk mode). */
  private staleHardState: HardState | undefined;
  syncs = 0;

  constructor(
    initial: Snapshot,
    private readonly opts: SimDiskOptions = {},
  ) {
    this.hardState = EMPTY_HARD_STATE;
    this.snapshot = initial;
    this.entries = [];
  }

  writeHardState(hs: HardState): void {
    this.pending.push({ kind: 'hardState', hs });
  }

  writeEntries(entries: readonly Entry[]): void {
    if (entries.length > 0) this.pending.push({ kind: 'entries', entries });
  }

  /**
   * Store a snapshot. keepFollowing: keep the log entries after it (a local compaction);
   * otherwise the whole log is replaced (a snapshot received from the leader).
   */
  writeSnapshot(snap: Snapshot, keepFollowing: boolean): void {
    this.pending.push({ kind: 'snapshot', snap, keepFollowing });
  }

  hasPending(): boolean {
    return this.pending.length > 0;
  }

  sync(): void {
    this.syncs++;
    if (this.opts.lieAboutSync && this.staleHardState === undefined) this.staleHardState = this.hardState;
    for (const op of this.pending) this.applyOp(op);
    this.pending = [];
  }

  /**
   * Power loss: unsynced writes are gone, except the first `keepPending` of them, which the
   * disk happened to flush in order before the crash.
   */
  crash(keepPending = 0): void {
    const kept = this.pending.slice(0, Math.max(0, keepPending));
    this.pending = [];
    for (const op of kept) this.applyOp(op);
    if (this.opts.lieAboutSync && this.staleHardState !== undefined) {
      // The broken disk: the hard state "synced" since the last crash was never on the platter.
      this.hardState = this.staleHardState;
    }
    this.staleHardState = undefined;
  }

  /** What survives a restart. Only meaningful when nothing is pending (after sync or crash). */
  durable(): DurableState {
    if (this.pending.length > 0) throw new Error('SimDisk.durable() with unsynced writes pending');
    return { hardState: this.hardState, snapshot: this.snapshot, entries: this.entries.slice() };
  }

  durableHardState(): HardState {
    return this.hardState;
  }

  private applyOp(op: DiskOp): void {
    switch (op.kind) {
      case 'hardState':
        this.hardState = op.hs;
        return;
      case 'entries': {
        const first = op.entries[0] as Entry;
        const base = this.snapshot.metadata.index;
        if (first.index <= base) {
          // Entries already covered by the snapshot: keep only the part after it.
          const rest = op.entries.filter((e) => e.index > base);
          if (rest.length > 0) this.applyOp({ kind: 'entries', entries: rest });
          return;
        }
        const offset = first.index - base - 1;
        if (offset > this.entries.length) {
          throw new Error(`SimDisk: gap in log: appending ${first.index} after ${base + this.entries.length}`);
        }
        this.entries.length = offset; // drop the conflicting suffix
        for (const e of op.entries) this.entries.push(e);
        return;
      }
      case 'snapshot': {
        const idx = op.snap.metadata.index;
        const base = this.snapshot.metadata.index;
        // A received snapshot may repeat the current index (a joiner gets the index-0
        // bootstrap snapshot that carries the initial membership); a local one must be newer.
        if (idx < base || (idx === base && op.keepFollowing)) return;
        if (op.keepFollowing) {
          this.entries = this.entries.slice(Math.min(this.entries.length, idx - base));
        } else {
          this.entries = [];
        }
        this.snapshot = op.snap;
        return;
      }
      default: {
        const never: never = op;
        throw new Error(`unknown disk op ${String(never)}`);
      }
    }
  }
}
