// Where a simulated node keeps what must survive a crash. Two implementations:
// - SimDiskStore: the simulator's own small disk model (sim-disk.ts), synchronous and fast;
//   the default for seed sweeps.
// - WalStore (wal-store.ts): the member's real WAL and snapshot files (node/storage) running on
//   the in-memory file system twin (MemoryFs), which tears unsynced writes on crash. Slower and
//   asynchronous; `--wal` runs the simulator on it, so raft and the real recovery code are
//   checked together.
// Async work is queued; the cluster waits until every store is idle before the next event, so
// nothing a node sent can be observed before the write it depends on has finished.
import type { Entry, HardState, Snapshot } from '../../node/raft/types.js';
import type { SimRng } from './rng.js';
import { SimDisk, type DurableState, type SimDiskOptions } from './sim-disk.js';

export interface PersistRequest {
  /** A snapshot received from the leader: it replaces the log. */
  readonly snapshot?: Snapshot;
  readonly entries: readonly Entry[];
  readonly hardState?: HardState;
  /** Make this and everything before it durable. */
  readonly sync: boolean;
}

export interface NodeStore {
  persist(req: PersistRequest): void;
  /** A snapshot the node took itself (log compaction); made durable. */
  saveLocalSnapshot(snap: Snapshot): void;
  /** Power cut: unsynced writes are lost (some may survive, torn). */
  crash(rng: SimRng): void;
  /** What the next incarnation starts from (the store is usable again afterwards). */
  recover(): DurableState | Promise<DurableState>;
  /** Pending asynchronous work, if any. */
  idle(): Promise<void> | undefined;
  /** Whether asynchronous work is still running. */
  busy(): boolean;
  /** Errors raised by asynchronous work since the last call (a storage bug or misuse). */
  takeErrors(): string[];
}

export class SimDiskStore implements NodeStore {
  readonly disk: SimDisk;

  constructor(initial: Snapshot, opts: SimDiskOptions) {
    this.disk = new SimDisk(initial, opts);
  }

  persist(req: PersistRequest): void {
    if (req.snapshot !== undefined) this.disk.writeSnapshot(req.snapshot, false);
    this.disk.writeEntries(req.entries);
    if (req.hardState !== undefined) this.disk.writeHardState(req.hardState);
    if (req.sync) this.disk.sync();
  }

  saveLocalSnapshot(snap: Snapshot): void {
    this.disk.writeSnapshot(snap, true);
    this.disk.sync();
  }

  crash(rng: SimRng): void {
    this.disk.crash(rng.chance(0.3) ? rng.intn(3) : 0);
  }

  recover(): DurableState {
    return this.disk.durable();
  }

  idle(): undefined {
    return undefined;
  }

  busy(): boolean {
    return false;
  }

  takeErrors(): string[] {
    return [];
  }
}
