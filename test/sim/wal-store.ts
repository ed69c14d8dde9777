// A simulated node's durable state kept by the member's real storage (node/storage: WAL
// segments, snapshot files, recovery) on the in-memory file system twin. A crash is
// MemoryFs.crash with tearing: per file a random prefix of the unsynced writes survives, the
// last one possibly torn. Recovery is openStorage on the same MemoryFs, as after a real restart.
import type { Snapshot } from '../../node/raft/types.js';
import { MemoryFs, openStorage, type MemberStorage } from '../../node/storage/index.js';
import type { NodeStore, PersistRequest } from './node-store.js';
import type { SimRng } from './rng.js';
import type { DurableState } from './sim-disk.js';

const DIR = '/member';

export class WalStore implements NodeStore {
  private readonly fs = new MemoryFs();
  private storage: MemberStorage | undefined;
  /** Work is chained, so writes reach the storage in Ready order. */
  private tail: Promise<void> | undefined;
  private pending = 0;
  private life = 0;
  private errors: string[] = [];

  constructor(
    /** The bootstrap snapshot (from configuration, like etcd's --initial-cluster): used when the WAL has none. */
    private readonly initial: Snapshot,
    private readonly segmentSizeBytes = 64 * 1024,
  ) {}

  private chain(what: string, fn: (st: MemberStorage) => Promise<void>): void {
    const st = this.storage;
    if (st === undefined) {
      this.errors.push(`${what}: storage is not open`);
      return;
    }
    const life = this.life;
    this.pending++;
    const run = (): Promise<void> => fn(st);
    const p = (this.tail ?? Promise.resolve()).then(run).then(
      () => {
        if (life === this.life) this.pending--;
      },
      (err: unknown) => {
        if (life !== this.life) return; // the process crashed meanwhile: its writes may fail
        this.pending--;
        this.errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
    this.tail = p;
  }

  persist(req: PersistRequest): void {
    this.chain('save', async (st) => {
      if (req.snapshot !== undefined) await st.saveSnapshot(req.snapshot);
      if (req.entries.length > 0 || req.hardState !== undefined || req.sync) {
        await st.save(req.hardState, req.entries, req.sync);
      }
    });
  }

  saveLocalSnapshot(snap: Snapshot): void {
    this.chain('saveSnapshot', async (st) => {
      await st.saveSnapshot(snap);
      await st.releaseTo(snap.metadata.index);
    });
  }

  crash(rng: SimRng): void {
    this.life++;
    this.pending = 0;
    this.tail = undefined;
    this.storage = undefined;
    this.fs.crash({ tear: true, rng });
  }

  async recover(): Promise<DurableState> {
    if (this.storage !== undefined) {
      // First start, or a restart without a crash: close cleanly first.
      await this.idle();
      await this.storage.close();
      this.storage = undefined;
    }
    const { storage, recovered } = await openStorage(DIR, {
      fs: this.fs.process(),
      segmentSizeBytes: this.segmentSizeBytes,
      retainSegments: 1,
      retainSnapshots: 2,
      nowMs: () => 0,
    });
    this.storage = storage;
    return {
      hardState: recovered.hardState,
      snapshot: recovered.snapshot ?? this.initial,
      entries: recovered.entries,
    };
  }

  idle(): Promise<void> | undefined {
    return this.pending > 0 ? this.tail : undefined;
  }

  busy(): boolean {
    return this.pending > 0;
  }

  takeErrors(): string[] {
    const e = this.errors;
    this.errors = [];
    return e;
  }
}
