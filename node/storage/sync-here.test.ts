// When the WAL's fdatasync may block the calling thread (StorageOptions.syncHere): only for a
// small, lone write on a quick disk, and only when the owner agrees. Anything else goes to a worker.
import { describe, expect, it } from 'vitest';
import { openStorage, SYNC_HERE_MAX_BYTES, SYNC_HERE_SLOW_MS } from './storage.js';
import { MemoryFs } from './memory-fs.js';
import type { WalFile, WalFs } from './fs.js';
import { entries, wrapOpenedFiles } from '../../test/storage/helpers.js';

const DIR = '/data/member';

interface Watched {
  fs: WalFs;
  /** The `here` of every fdatasync of a WAL segment, in order. */
  syncs: boolean[];
  /** While set, a WAL fdatasync waits for release(). */
  hold: (on: boolean) => void;
  /** Milliseconds each fdatasync takes on the storage's clock from now on. */
  syncTakes: (ms: number) => void;
  nowMs: () => number;
}

/** MemoryFs that records how each WAL fdatasync was asked for, on a clock the test moves. */
function watchedFs(): Watched {
  const mem = new MemoryFs();
  const syncs: boolean[] = [];
  let clock = 0;
  let takes = 0;
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const wrap = (path: string, f: WalFile): WalFile => ({
    writev: (chunks, position) => f.writev(chunks, position),
    datasync: async (here) => {
      if (path.includes('/wal/')) syncs.push(here === true);
      clock += takes;
      if (gate) await gate;
      return f.datasync(here);
    },
    truncate: (len) => f.truncate(len),
    close: () => f.close(),
  });
  return {
    fs: wrapOpenedFiles(mem, wrap),
    syncs,
    hold: (on) => {
      if (on) gate = new Promise<void>((r) => (open = r));
      else {
        gate = undefined;
        open?.();
      }
    },
    syncTakes: (ms) => (takes = ms),
    nowMs: () => clock,
  };
}

const hs = (commit: number) => ({ term: 1, vote: 1n, commit });

describe('storage: fdatasync on the calling thread (syncHere)', () => {
  it('never without the option', async () => {
    const w = watchedFs();
    const { storage } = await openStorage(DIR, { fs: w.fs, nowMs: w.nowMs });
    w.syncs.length = 0;
    for (let i = 1; i <= 3; i++) await storage.save(hs(i - 1), entries(i, i, 1, 100), true);
    expect(w.syncs).toEqual([false, false, false]);
    await storage.close();
  });

  it('a small lone write syncs here while the owner agrees, in a worker once it does not', async () => {
    const w = watchedFs();
    let agree = true;
    const { storage } = await openStorage(DIR, { fs: w.fs, nowMs: w.nowMs, syncHere: () => agree });
    w.syncs.length = 0;
    await storage.save(hs(0), entries(1, 1, 1, 100), true);
    agree = false;
    await storage.save(hs(1), entries(2, 2, 1, 100), true);
    agree = true;
    await storage.save(hs(2), entries(3, 3, 1, 100), true);
    expect(w.syncs).toEqual([true, false, true]);
    await storage.close();
  });

  it('a write larger than SYNC_HERE_MAX_BYTES syncs in a worker', async () => {
    const w = watchedFs();
    const { storage } = await openStorage(DIR, { fs: w.fs, nowMs: w.nowMs, syncHere: () => true });
    w.syncs.length = 0;
    await storage.save(hs(0), entries(1, 1, 1, SYNC_HERE_MAX_BYTES + 1), true);
    await storage.save(hs(1), entries(2, 2, 1, 100), true);
    expect(w.syncs).toEqual([false, true]);
    await storage.close();
  });

  it('after a slow fdatasync the next goes to a worker, and a quick one brings it back', async () => {
    const w = watchedFs();
    const { storage } = await openStorage(DIR, { fs: w.fs, nowMs: w.nowMs, syncHere: () => true });
    w.syncs.length = 0;
    w.syncTakes(SYNC_HERE_SLOW_MS + 1);
    await storage.save(hs(0), entries(1, 1, 1, 100), true);
    w.syncTakes(0.2);
    await storage.save(hs(1), entries(2, 2, 1, 100), true);
    await storage.save(hs(2), entries(3, 3, 1, 100), true);
    expect(w.syncs).toEqual([true, false, true]);
    await storage.close();
  });

  it('while another fdatasync is in flight, or saves wait behind this one, it goes to a worker', async () => {
    const w = watchedFs();
    let agree = false;
    const { storage } = await openStorage(DIR, { fs: w.fs, nowMs: w.nowMs, syncHere: () => agree });
    w.syncs.length = 0;
    w.hold(true);
    const first = storage.save(hs(0), entries(1, 1, 1, 100), true);
    await new Promise<void>((r) => setImmediate(r));
    // The first sync is held in a worker: the next write must not block behind it here.
    agree = true;
    const second = storage.save(hs(1), entries(2, 2, 1, 100), true);
    await new Promise<void>((r) => setImmediate(r));
    w.hold(false);
    await Promise.all([first, second]);
    expect(w.syncs).toEqual([false, false]);
    // Three saves at once: the writer takes the first alone and the other two wait behind it, then
    // they sync while its sync is still in flight: both in a worker. A lone save after them: here.
    await Promise.all([3, 4, 5].map((i) => storage.save(hs(i - 1), entries(i, i, 1, 100), true)));
    await storage.save(hs(5), entries(6, 6, 1, 100), true);
    expect(w.syncs.slice(2)).toEqual([false, false, true]);
    await storage.close();
  });

  it('what was synced here reads back after a crash', async () => {
    const w = watchedFs();
    const { storage } = await openStorage(DIR, { fs: w.fs, nowMs: w.nowMs, syncHere: () => true });
    const es = entries(1, 5, 1, 200);
    for (const e of es) await storage.save(hs(e.index - 1), [e], true);
    expect(w.syncs.slice(-5)).toEqual([true, true, true, true, true]);
    (w.fs as unknown as MemoryFs).crash();
    const again = await openStorage(DIR, { fs: w.fs });
    expect(again.recovered.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
    await again.storage.close();
  });
});
