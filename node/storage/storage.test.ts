import { describe, expect, it } from 'vitest';
import { openStorage as openStorageDefault } from './storage.js';
import type { StorageOptions } from './types.js';
import { MemoryFs } from './memory-fs.js';
import { errnoError, withFaults, type FsOp, type WalFs } from './fs.js';
import { StorageCorruptError, StorageStoppedError, StorageWriteError } from './errors.js';
import { scanSegment } from './frame.js';
import { snapshotFileChunks, snapshotFileName } from './snapshot-file.js';
import type { Entry, Snapshot } from '../raft/types.js';
import { collectingLogger, entries, entry, TestRng, withCrc32cFrames, withCrc32cSnapshotFile } from '../../test/storage/helpers.js';

const DIR = '/data/member';

// Small segments keep the in-memory files (and their scans) small. A 40-byte read size (not a
// multiple of the 8-byte frame alignment) puts chunk boundaries inside nearly every record, so the
// torn-tail and bit-flip proofs below run across them.
function openStorage(dir: string, opts: StorageOptions): ReturnType<typeof openStorageDefault> {
  return openStorageDefault(dir, { segmentSizeBytes: 16 * 1024, readChunkBytes: 40, ...opts });
}
const cs = { voters: [1n, 2n, 3n], learners: [] };

function ids(es: readonly Entry[]): string {
  return es.map((e) => `${e.index}/${e.term}`).join(' ');
}

function snap(index: number, term: number, size = 32): Snapshot {
  return { metadata: { index, term, confState: cs }, data: Uint8Array.from({ length: size }, (_, i) => (i + index) & 0xff) };
}

async function lastSegment(fs: MemoryFs): Promise<string> {
  const segs = (await fs.readdir(`${DIR}/wal`)).filter((n) => n.endsWith('.wal'));
  return `${DIR}/wal/${segs[segs.length - 1]}`;
}

describe('storage: recovery', () => {
  it('a fresh dir recovers empty; saved entries, hard state and overwrites come back, newest term wins', async () => {
    const fs = new MemoryFs();
    const a = await openStorage(DIR, { fs });
    expect(a.recovered).toEqual({ hardState: { term: 0, vote: 0n, commit: 0 }, entries: [] });
    await a.storage.save({ term: 1, vote: 2n, commit: 0 }, entries(1, 5, 1), true);
    await a.storage.save({ term: 2, vote: 3n, commit: 3 }, entries(4, 6, 2), true); // overwrite 4..5
    await a.storage.save(undefined, entries(6, 7, 3), true); // overwrite 6
    await a.storage.close();
    const b = await openStorage(DIR, { fs });
    expect(ids(b.recovered.entries)).toBe('1/1 2/1 3/1 4/2 5/2 6/3 7/3');
    expect(b.recovered.entries[5]).toEqual(entry(6, 3));
    expect(b.recovered.hardState).toEqual({ term: 2, vote: 3n, commit: 3 });
    expect(b.recovered.snapshot).toBeUndefined();
  });

  it('rejects a gap and non-contiguous entries (an assertion, not a disk error)', async () => {
    const { storage } = await openStorage(DIR, { fs: new MemoryFs() });
    await expect(storage.save(undefined, entries(3, 4, 1), true)).rejects.toThrow(/gap/);
    await expect(storage.save(undefined, [entry(1, 1), entry(3, 1)], true)).rejects.toThrow(/contiguous/);
    await storage.save(undefined, entries(1, 2, 1), true); // still usable
  });

  it('group commit: concurrent saves share fdatasyncs and resolve in order', async () => {
    const fs = new MemoryFs();
    const { storage } = await openStorage(DIR, { fs });
    const before = fs.stats.datasyncs;
    const order: number[] = [];
    const ps: Promise<void>[] = [];
    for (let i = 1; i <= 200; i++) ps.push(storage.save({ term: 1, vote: 1n, commit: i - 1 }, [entry(i, 1)], true).then(() => void order.push(i)));
    await Promise.all(ps);
    expect(order).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    // The first save is written alone; everything queued behind it goes in one more batch.
    expect(fs.stats.datasyncs - before).toBeLessThanOrEqual(2);
  });

  it('a save without mustSync is not durable: a crash loses it', async () => {
    const fs = new MemoryFs();
    const { storage } = await openStorage(DIR, { fs });
    await storage.save({ term: 1, vote: 1n, commit: 1 }, entries(1, 2, 1), true);
    await storage.save({ term: 1, vote: 1n, commit: 2 }, entries(3, 3, 1), false);
    fs.crash();
    const r = await openStorage(DIR, { fs });
    expect(ids(r.recovered.entries)).toBe('1/1 2/1');
    expect(r.recovered.hardState.commit).toBe(1);
  });

  it('a commit-index-only save costs no write: it goes out in front of the next write, or at close', async () => {
    const fs = new MemoryFs();
    const a = await openStorage(DIR, { fs });
    await a.storage.save({ term: 1, vote: 1n, commit: 0 }, entries(1, 2, 1), true);
    const writes = fs.stats.writes;
    await a.storage.save({ term: 1, vote: 1n, commit: 2 }, [], false);
    expect(fs.stats.writes).toBe(writes);
    await a.storage.save(undefined, entries(3, 3, 1), true);
    expect(fs.stats.writes).toBe(writes + 1);
    fs.crash();
    const b = await openStorage(DIR, { fs });
    expect(ids(b.recovered.entries)).toBe('1/1 2/1 3/1');
    expect(b.recovered.hardState.commit).toBe(2);
    await b.storage.save({ term: 1, vote: 1n, commit: 3 }, [], false);
    await b.storage.close();
    const c = await openStorage(DIR, { fs });
    expect(c.recovered.hardState.commit).toBe(3);
  });

  it('held commit-index records stay in their segment when the next write cuts a new one', async () => {
    const fs = new MemoryFs();
    const { storage } = await openStorage(DIR, { fs, segmentSizeBytes: 512 });
    for (let i = 1; i <= 30; i++) {
      await storage.save(undefined, [entry(i, 1, 40)], true);
      await storage.save({ term: 1, vote: 1n, commit: i }, [], false);
    }
    await storage.close();
    const r = await openStorage(DIR, { fs, segmentSizeBytes: 512 });
    expect(r.recovered.entries.map((e) => e.index)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(r.recovered.hardState.commit).toBe(30);
  });

  it('zeroAheadBytes: a write that ends past what the segment holds carries zeros that far beyond it (within the segment); the log recovers', async () => {
    const mem = new MemoryFs();
    const writes: Array<{ pos: number; len: number; zeroTail: number }> = [];
    const fs: WalFs = {
      readdir: (d) => mem.readdir(d),
      readFile: (p) => mem.readFile(p),
      openRead: (p) => mem.openRead(p),
      mkdirp: (d) => mem.mkdirp(d),
      rename: (a, b) => mem.rename(a, b),
      unlink: (p) => mem.unlink(p),
      syncDir: (d) => mem.syncDir(d),
      readSync: (p, at, n) => mem.readSync(p, at, n),
      open: async (path, mode) => {
        const f = await mem.open(path, mode);
        if (!path.includes('/wal/')) return f;
        return {
          writev: (chunks, pos) => {
            const last = chunks[chunks.length - 1];
            const zeroTail = chunks.length > 1 && last !== undefined && last.every((b) => b === 0) ? last.byteLength : 0;
            writes.push({ pos, len: chunks.reduce((n, c) => n + c.byteLength, 0), zeroTail });
            return f.writev(chunks, pos);
          },
          datasync: () => f.datasync(),
          truncate: (n) => f.truncate(n),
          close: () => f.close(),
        };
      },
    };
    const segmentSizeBytes = 4096;
    const { storage } = await openStorage(DIR, { fs, segmentSizeBytes, zeroAheadBytes: 1024 });
    for (let i = 1; i <= 40; i++) await storage.save({ term: 1, vote: 1n, commit: i - 1 }, [entry(i, 1, 100)], true);
    await storage.close();
    // Every write starts where the records end, never inside zeros it has not reached yet...
    let held = 0; // the file holds records and zeros up to here
    let padded = 0;
    for (const w of writes) {
      const end = w.pos + w.len - w.zeroTail;
      if (w.zeroTail > 0) {
        // ...and carries zeros only when its records end past what the file holds: 1 KiB of them,
        // or up to the segment's end.
        expect(end).toBeGreaterThan(held);
        expect(w.zeroTail).toBe(Math.min(1024, segmentSizeBytes - end));
        padded++;
      }
      held = w.pos === 0 ? w.pos + w.len : Math.max(held, w.pos + w.len);
    }
    expect(padded).toBeGreaterThan(3);
    expect(writes.filter((w) => w.pos > 0 && w.zeroTail === 0).length).toBeGreaterThan(padded);
    const r = await openStorage(DIR, { fs: mem, segmentSizeBytes });
    expect(r.recovered.entries.map((e) => e.index)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(r.recovered.hardState.commit).toBe(39);
  });

  it('rolls segments, keeps continuity, and recovers across many segments', async () => {
    const fs = new MemoryFs();
    const { storage } = await openStorage(DIR, { fs, segmentSizeBytes: 512 });
    for (let i = 1; i <= 60; i++) await storage.save({ term: 1, vote: 1n, commit: i }, [entry(i, 1, 40)], i % 3 === 0);
    await storage.close();
    const segs = (await fs.readdir(`${DIR}/wal`)).filter((n) => n.endsWith('.wal'));
    expect(segs.length).toBeGreaterThan(5);
    const r = await openStorage(DIR, { fs, segmentSizeBytes: 512 });
    expect(r.recovered.entries.map((e) => e.index)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(r.recovered.hardState.commit).toBe(60);
  });

  it('a missing middle segment is corruption', async () => {
    const fs = new MemoryFs();
    const { storage } = await openStorage(DIR, { fs, segmentSizeBytes: 512 });
    for (let i = 1; i <= 40; i++) await storage.save(undefined, [entry(i, 1, 40)], true);
    await storage.close();
    const segs = (await fs.readdir(`${DIR}/wal`)).filter((n) => n.endsWith('.wal'));
    await fs.unlink(`${DIR}/wal/${segs[2]}`);
    await expect(openStorage(DIR, { fs, segmentSizeBytes: 512 })).rejects.toThrow(/segment is missing/);
  });
});

describe('storage: snapshots and purge', () => {
  it("loads the newest snapshot and the log after it; a member's own snapshot keeps the log beyond it", async () => {
    const fs = new MemoryFs();
    const { storage } = await openStorage(DIR, { fs });
    await storage.save({ term: 1, vote: 1n, commit: 8 }, entries(1, 10, 1), true);
    await storage.saveSnapshot(snap(5, 1));
    await storage.saveSnapshot(snap(8, 1));
    await storage.close();
    const r = await openStorage(DIR, { fs });
    expect(r.recovered.snapshot?.metadata.index).toBe(8);
    expect(r.recovered.snapshot?.data).toEqual(snap(8, 1).data);
    expect(ids(r.recovered.entries)).toBe('9/1 10/1');
    expect(r.recovered.hardState.commit).toBe(8);
  });

  it('a data dir written before 2026-12-02 (CRC-32C frames, TSSNAP01 snapshot files) recovers, and goes on with CRC-32 beside them', async () => {
    const fs = new MemoryFs();
    const opts = { fs, segmentSizeBytes: 1024 };
    const { storage } = await openStorage(DIR, opts);
    for (let i = 1; i <= 20; i++) await storage.save({ term: 1, vote: 1n, commit: i }, [entry(i, 1, 40)], true);
    await storage.saveSnapshot(snap(12, 1, 3000));
    for (let i = 21; i <= 25; i++) await storage.save({ term: 1, vote: 1n, commit: i }, [entry(i, 1, 40)], true);
    await storage.close();
    // Rewrite every file into the old formats.
    const segs = (await fs.readdir(`${DIR}/wal`)).filter((n) => n.endsWith('.wal')).sort();
    for (const [i, n] of segs.entries()) {
      const bytes = await fs.readFile(`${DIR}/wal/${n}`);
      fs.poke(`${DIR}/wal/${n}`, withCrc32cFrames(bytes, scanSegment(bytes, i === segs.length - 1).records.map((r) => r.offset)));
    }
    const snapPath = `${DIR}/snap/${snapshotFileName(12, 1)}`;
    fs.poke(snapPath, withCrc32cSnapshotFile(await fs.readFile(snapPath)));
    expect(Buffer.from((await fs.readFile(snapPath)).subarray(0, 8)).toString()).toBe('TSSNAP01');

    const a = await openStorage(DIR, opts);
    expect(a.recovered.snapshot?.metadata.index).toBe(12);
    expect(a.recovered.snapshot?.data).toEqual(snap(12, 1, 3000).data);
    expect(a.recovered.entries.map((e) => e.index)).toEqual(Array.from({ length: 13 }, (_, i) => i + 13));
    for (const e of a.recovered.entries) expect(e).toEqual(entry(e.index, 1, 40));
    const reader = (await a.storage.openSnapshot!(12, 1))!;
    const parts: Uint8Array[] = [];
    for await (const c of reader.chunks()) parts.push(c);
    expect(Buffer.concat(parts)).toEqual(Buffer.from(snap(12, 1, 3000).data));
    // New records land after the old ones, in the same last segment and in new ones.
    for (let i = 26; i <= 40; i++) await a.storage.save({ term: 1, vote: 1n, commit: i }, [entry(i, 1, 40)], true);
    await a.storage.saveSnapshot(snap(30, 1));
    await a.storage.close();
    const b = await openStorage(DIR, opts);
    expect(b.recovered.snapshot?.metadata.index).toBe(30);
    expect(b.recovered.entries.map((e) => e.index)).toEqual(Array.from({ length: 10 }, (_, i) => i + 31));
    for (const e of b.recovered.entries) expect(e).toEqual(entry(e.index, 1, 40));
    await b.storage.close();
  });

  it('an installed snapshot that does not match the log replaces it; commit is raised to the snapshot', async () => {
    const fs = new MemoryFs();
    const { storage } = await openStorage(DIR, { fs });
    await storage.save({ term: 2, vote: 0n, commit: 2 }, entries(1, 6, 1), true);
    // The leader sends a snapshot at 4/term 2: our 4/1 conflicts, so the whole log goes.
    await storage.saveSnapshot(snap(4, 2));
    await storage.save(undefined, entries(5, 5, 2), true);
    await storage.close();
    const r = await openStorage(DIR, { fs });
    expect(r.recovered.snapshot?.metadata).toMatchObject({ index: 4, term: 2 });
    expect(ids(r.recovered.entries)).toBe('5/2');
    expect(r.recovered.hardState).toEqual({ term: 2, vote: 0n, commit: 4 });
  });

  it('accepts snapshot data as an async iterable of chunks', async () => {
    const fs = new MemoryFs();
    const { storage } = await openStorage(DIR, { fs });
    await storage.save(undefined, entries(1, 3, 1), true);
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 10; i++) yield new Uint8Array(1000).fill(i);
    }
    await storage.saveSnapshot({ metadata: { index: 3, term: 1, confState: cs }, data: chunks() });
    await storage.close();
    const r = await openStorage(DIR, { fs });
    expect(r.recovered.snapshot?.data.length).toBe(10_000);
    expect(r.recovered.snapshot?.data[9999]).toBe(9);
  });

  it('a large snapshot (3.5 MiB in one buffer) is written in slices and reads back byte for byte', async () => {
    const fs = new MemoryFs();
    const { storage } = await openStorage(DIR, { fs });
    await storage.save(undefined, entries(1, 3, 1), true);
    const data = Uint8Array.from({ length: 3.5 * 1024 * 1024 }, (_, i) => (i * 7 + (i >> 20)) & 0xff);
    const writesBefore = fs.stats.writes;
    await storage.saveSnapshot({ metadata: { index: 3, term: 1, confState: cs }, data });
    expect(fs.stats.writes - writesBefore).toBeGreaterThanOrEqual(3);
    await storage.close();
    const r = await openStorage(DIR, { fs });
    expect(Buffer.from(r.recovered.snapshot!.data).equals(Buffer.from(data))).toBe(true);
  });

  it('a snapshot older than the saved one is a no-op, also when it races a newer one', async () => {
    const fs = new MemoryFs();
    const { storage } = await openStorage(DIR, { fs });
    await storage.save(undefined, entries(1, 9, 1), true);
    await storage.saveSnapshot(snap(8, 1));
    await storage.saveSnapshot(snap(7, 1));
    expect((await fs.readdir(`${DIR}/snap`)).length).toBe(1);
    // An own snapshot at 9 races an installed one at 20 (term 2); whichever lands first, 20 wins.
    const own = storage.saveSnapshot(snap(9, 1));
    await storage.saveSnapshot(snap(20, 2));
    await own;
    await storage.save(undefined, entries(21, 22, 2), true);
    await storage.close();
    const r = await openStorage(DIR, { fs });
    expect(r.recovered.snapshot?.metadata).toMatchObject({ index: 20, term: 2 });
    expect(ids(r.recovered.entries)).toBe('21/2 22/2');
  });

  it('releaseTo purges segments wholly before the snapshot, keeping retainSegments; recovery still works', async () => {
    const fs = new MemoryFs();
    const opts = { fs, segmentSizeBytes: 512, retainSegments: 1, retainSnapshots: 2 };
    const { storage } = await openStorage(DIR, opts);
    for (let i = 1; i <= 60; i++) await storage.save({ term: 1, vote: 1n, commit: i }, [entry(i, 1, 40)], true);
    const segsBefore = (await fs.readdir(`${DIR}/wal`)).length;
    await storage.releaseTo(50); // no snapshot yet: nothing may go
    expect((await fs.readdir(`${DIR}/wal`)).length).toBe(segsBefore);
    await storage.saveSnapshot(snap(20, 1));
    await storage.saveSnapshot(snap(40, 1));
    await storage.saveSnapshot(snap(50, 1));
    await storage.releaseTo(50);
    const segsAfter = (await fs.readdir(`${DIR}/wal`)).filter((n) => n.endsWith('.wal'));
    expect(segsAfter.length).toBeLessThan(segsBefore);
    expect((await fs.readdir(`${DIR}/snap`)).length).toBe(2);
    for (let i = 61; i <= 70; i++) await storage.save({ term: 1, vote: 1n, commit: i }, [entry(i, 1, 40)], true);
    await storage.close();
    const r = await openStorage(DIR, opts);
    expect(r.recovered.snapshot?.metadata.index).toBe(50);
    expect(r.recovered.entries.map((e) => e.index)).toEqual(Array.from({ length: 20 }, (_, i) => i + 51));
    expect(r.recovered.hardState.commit).toBe(70);
  });

  it('snapshot purge never counts a newer file without a durable marker (it could push out the only usable one)', async () => {
    const fs = new MemoryFs();
    const opts = { fs, retainSnapshots: 1, retainSegments: 0, segmentSizeBytes: 512 };
    const { storage } = await openStorage(DIR, opts);
    for (let i = 1; i <= 30; i++) await storage.save({ term: 1, vote: 1n, commit: i }, [entry(i, 1, 40)], true);
    await storage.saveSnapshot(snap(5, 1));
    // A newer snapshot file whose marker never made it (a crash between rename and marker).
    const chunks: Uint8Array[] = [];
    for await (const c of snapshotFileChunks(snap(25, 1).metadata, snap(25, 1).data)) chunks.push(c);
    fs.poke(`${DIR}/snap/${snapshotFileName(25, 1)}`, Buffer.concat(chunks));
    await storage.saveSnapshot(snap(20, 1));
    await storage.releaseTo(20);
    const names = (await fs.readdir(`${DIR}/snap`)).sort();
    expect(names).toEqual([snapshotFileName(20, 1), snapshotFileName(25, 1)]);
    fs.crash();
    const r = await openStorage(DIR, opts);
    expect(r.recovered.snapshot?.metadata.index).toBe(20);
    expect(r.recovered.entries.map((e) => e.index)).toEqual(Array.from({ length: 10 }, (_, i) => i + 21));
  });

  it('a corrupt newest snapshot file falls back to an older one the WAL still covers', async () => {
    const fs = new MemoryFs();
    const { logger, lines } = collectingLogger();
    const { storage } = await openStorage(DIR, { fs, logger });
    await storage.save(undefined, entries(1, 10, 1), true);
    await storage.saveSnapshot(snap(5, 1));
    await storage.saveSnapshot(snap(9, 1));
    await storage.close();
    const names = (await fs.readdir(`${DIR}/snap`)).sort();
    const newest = `${DIR}/snap/${names[names.length - 1]}`;
    const bytes = (await fs.readFile(newest)).slice();
    bytes[20] = (bytes[20] as number) ^ 1;
    fs.poke(newest, bytes);
    const r = await openStorage(DIR, { fs, logger });
    expect(r.recovered.snapshot?.metadata.index).toBe(5);
    expect(ids(r.recovered.entries)).toBe('6/1 7/1 8/1 9/1 10/1');
    expect(lines.some((l) => l['msg'] === 'skipping invalid snapshot file')).toBe(true);
  });

  it('recovery skips the segments the newest snapshot covers; when its file is damaged, every segment is replayed for an older one', async () => {
    const fs = new MemoryFs();
    const opts = { fs, segmentSizeBytes: 512 };
    const { storage } = await openStorage(DIR, opts);
    for (let i = 1; i <= 30; i++) await storage.save({ term: 1, vote: 1n, commit: i }, [entry(i, 1, 40)], true);
    await storage.saveSnapshot(snap(10, 1));
    for (let i = 31; i <= 50; i++) await storage.save({ term: 1, vote: 1n, commit: i }, [entry(i, 1, 40)], true);
    await storage.saveSnapshot(snap(40, 1));
    for (let i = 51; i <= 60; i++) await storage.save({ term: 1, vote: 1n, commit: i }, [entry(i, 1, 40)], true);
    await storage.close();
    const segs = (await fs.readdir(`${DIR}/wal`)).filter((n) => n.endsWith('.wal')).sort();
    expect(segs.length).toBeGreaterThan(4);

    // The newest snapshot (40) checks out: only the segments from the one holding entry 41 are read.
    const a = await openStorage(DIR, opts);
    expect(a.recovered.snapshot?.metadata.index).toBe(40);
    expect(a.recovered.entries.map((e) => e.index)).toEqual(Array.from({ length: 20 }, (_, i) => i + 41));
    for (const e of a.recovered.entries) expect(e).toEqual(entry(e.index, 1, 40));
    expect(a.recovered.hardState.commit).toBe(60);
    expect(a.recovered.stats!.walSegmentsRead).toBeLessThan(segs.length);
    expect(a.recovered.stats!.entriesReplayed).toBeLessThan(60);
    await a.storage.close();

    // Damage the newest snapshot file: recovery replays every segment and starts from snapshot 10.
    const newest = `${DIR}/snap/${snapshotFileName(40, 1)}`;
    const bytes = (await fs.readFile(newest)).slice();
    bytes[20] = (bytes[20] as number) ^ 1;
    fs.poke(newest, bytes);
    const b = await openStorage(DIR, opts);
    expect(b.recovered.snapshot?.metadata.index).toBe(10);
    expect(b.recovered.entries.map((e) => e.index)).toEqual(Array.from({ length: 50 }, (_, i) => i + 11));
    expect(b.recovered.hardState.commit).toBe(60);
    expect(b.recovered.stats!.walSegmentsRead).toBe(segs.length);
    await b.storage.close();
  });

  it('a crash at every step of saveSnapshot leaves the old snapshot or the new one, never neither', async () => {
    // Count the fs operations of one saveSnapshot, then crash just before each of them in turn.
    const countOps = async (): Promise<number> => {
      let n = 0;
      let counting = false;
      const fs = withFaults(new MemoryFs(), () => {
        if (counting) n++;
        return undefined;
      });
      const { storage } = await openStorage(DIR, { fs });
      await storage.save({ term: 1, vote: 1n, commit: 6 }, entries(1, 8, 1), true);
      await storage.saveSnapshot(snap(3, 1));
      counting = true;
      await storage.saveSnapshot(snap(6, 1));
      return n;
    };
    const total = await countOps();
    expect(total).toBeGreaterThan(6);
    const seen = new Set<number>();
    for (let crashAt = 0; crashAt <= total; crashAt++) {
      for (const tear of [false, true]) {
        const mem = new MemoryFs();
        let n = 0;
        let armed = false;
        const fs = withFaults(mem, (op: FsOp) => {
          if (!armed) return undefined;
          if (n++ === crashAt) {
            mem.crash({ tear, rng: new TestRng(crashAt) });
            return errnoError('EIO', `simulated crash before ${op}`);
          }
          return undefined;
        });
        const { storage } = await openStorage(DIR, { fs });
        await storage.save({ term: 1, vote: 1n, commit: 6 }, entries(1, 8, 1), true);
        await storage.saveSnapshot(snap(3, 1));
        armed = true;
        await storage.saveSnapshot(snap(6, 1)).catch(() => undefined);
        armed = false;
        if (n <= crashAt) mem.crash(); // finished before the crash point: crash after it
        const r = await openStorage(DIR, { fs: mem });
        const idx = r.recovered.snapshot?.metadata.index;
        expect([3, 6], `crash before op ${crashAt} tear=${tear}`).toContain(idx);
        expect(r.recovered.snapshot?.data).toEqual(snap(idx as number, 1).data);
        expect(r.recovered.entries[r.recovered.entries.length - 1]?.index).toBe(8);
        seen.add(idx as number);
      }
    }
    expect([...seen].sort()).toEqual([3, 6]);
  });
});

describe('storage: bounded reads at restart', () => {
  /** The in-memory disk, recording every read recovery makes. */
  function recordingFs(inner: MemoryFs): { fs: import('./fs.js').WalFs; reads: number[]; readFileCalls: number } {
    const rec = { reads: [] as number[], readFileCalls: 0, fs: undefined as unknown as import('./fs.js').WalFs };
    rec.fs = {
      ...withFaults(inner, () => undefined),
      readFile: async (p) => {
        rec.readFileCalls++;
        return inner.readFile(p);
      },
      openRead: async (p) => {
        const f = await inner.openRead(p);
        return { sizeBytes: f.sizeBytes, close: () => f.close(), read: async (pos, len) => {
          const b = await f.read(pos, len);
          rec.reads.push(b.length);
          return b;
        } };
      },
    };
    return rec;
  }

  it('a data dir many times the read size (segments and snapshot) restarts in bounded reads, exactly, and reports what it read', async () => {
    const disk = new MemoryFs();
    const { storage } = await openStorageDefault(DIR, { fs: disk, segmentSizeBytes: 64 * 1024 });
    for (let i = 1; i <= 400; i++) await storage.save({ term: 1, vote: 1n, commit: i - 1 }, [entry(i, 1, 500)], true);
    const data = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31 + (i >> 12)) & 0xff);
    await storage.saveSnapshot({ metadata: { index: 200, term: 1, confState: cs }, data });
    for (let i = 401; i <= 600; i++) await storage.save({ term: 1, vote: 1n, commit: i - 1 }, [entry(i, 1, 500)], true);
    await storage.close();
    const segments = (await disk.readdir(`${DIR}/wal`)).length;
    expect(segments).toBeGreaterThan(3);

    const READ = 4096;
    const rec = recordingFs(disk);
    const { logger, lines } = collectingLogger();
    const r = await openStorageDefault(DIR, { fs: rec.fs, segmentSizeBytes: 64 * 1024, readChunkBytes: READ, snapshotData: 'stream', logger });
    // Nothing read whole; no read larger than the read size (every record here is smaller).
    expect(rec.readFileCalls).toBe(0);
    expect(Math.max(...rec.reads)).toBeLessThanOrEqual(READ);
    expect(r.recovered.snapshot?.metadata.index).toBe(200);
    expect(r.recovered.snapshot?.data.length).toBe(0);
    expect(r.recovered.entries.map((e) => e.index)).toEqual(Array.from({ length: 400 }, (_, i) => i + 201));
    for (const e of r.recovered.entries) expect(e).toEqual(entry(e.index, 1, 500));
    // The snapshot streams back byte for byte, in bounded chunks, read from disk as it goes.
    const before = rec.reads.length;
    const parts: Uint8Array[] = [];
    for await (const c of r.recovered.snapshotReader!.chunks()) parts.push(c);
    expect(Math.max(...parts.map((c) => c.length))).toBeLessThanOrEqual(READ);
    expect(Buffer.concat(parts).equals(Buffer.from(data))).toBe(true);
    expect(rec.reads.length - before).toBeGreaterThanOrEqual(300_000 / READ);
    // Startup says how long it took and what it read.
    const stats = r.recovered.stats!;
    expect(stats).toMatchObject({ walSegments: segments, snapshotDataBytes: 300_000 });
    // The segments wholly before the snapshot (index 200) are not read: replay starts at the one
    // holding entry 201, and the recovered log is the same.
    expect(stats.walSegmentsRead).toBeLessThan(segments);
    expect(stats.entriesReplayed).toBeGreaterThanOrEqual(400);
    expect(stats.entriesReplayed).toBeLessThan(600);
    expect(stats.walBytesRead).toBeGreaterThan(400 * 500);
    expect(stats.snapshotBytesRead).toBeGreaterThan(300_000);
    expect(lines.find((l) => l['msg'] === 'recovered storage')).toMatchObject({ walBytesRead: stats.walBytesRead, snapshotBytesRead: stats.snapshotBytesRead, entriesReplayed: stats.entriesReplayed, segmentsRead: stats.walSegmentsRead });
    expect(typeof lines.find((l) => l['msg'] === 'recovered storage')?.['ms']).toBe('number');
    await r.storage.close();
  });

  it('openSnapshot streams a durable snapshot file, and a file damaged after the check fails the stream before its last chunk', async () => {
    const disk = new MemoryFs();
    const { storage } = await openStorage(DIR, { fs: disk });
    await storage.save(undefined, entries(1, 3, 1), true);
    const data = Uint8Array.from({ length: 5000 }, (_, i) => i & 0xff);
    await storage.saveSnapshot({ metadata: { index: 3, term: 1, confState: cs }, data });
    expect(await storage.openSnapshot!(3, 2)).toBeUndefined();
    const reader = (await storage.openSnapshot!(3, 1))!;
    expect(reader.dataBytes).toBe(5000);
    const parts: Uint8Array[] = [];
    for await (const c of reader.chunks()) parts.push(c);
    expect(Buffer.concat(parts).equals(Buffer.from(data))).toBe(true);
    // Flip one data byte: the header and trailer still check out, the stream does not.
    const path = `${DIR}/snap/${snapshotFileName(3, 1)}`;
    const bytes = disk.peek(path)!;
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] as number) ^ 1;
    disk.poke(path, bytes);
    const got: number[] = [];
    await expect((async () => {
      for await (const c of (await storage.openSnapshot!(3, 1))!.chunks()) got.push(c.length);
    })()).rejects.toThrow(/checksum/);
    expect(got.reduce((a, b) => a + b, 0)).toBeLessThan(5000);
    await storage.close();
  });
});

describe('storage: torn tails and corruption', () => {
  async function build(fs: MemoryFs, n: number): Promise<void> {
    const { storage } = await openStorage(DIR, { fs });
    for (let i = 1; i <= n; i++) await storage.save({ term: 1, vote: 1n, commit: i - 1 }, [entry(i, 1, 24)], true);
    await storage.close();
  }

  it('truncation (zeroing or garbage) at every byte offset of the last record recovers cleanly and logs the cut', async () => {
    const base = new MemoryFs();
    await build(base, 6);
    const path = await lastSegment(base);
    const original = (await base.readFile(path)).slice();
    const scan = scanSegment(original, true);
    const last = scan.records[scan.records.length - 1]!;
    // The last save wrote an entries record then a hard-state record: tearing the entries record
    // loses entry 6 (and its hard state); tearing only the hard state keeps entry 6 with commit 4.
    const entriesRec = scan.records[scan.records.length - 2]!;
    expect(last.record.kind).toBe('hardState');
    expect(entriesRec.record.kind).toBe('entries');
    const start = entriesRec.offset;
    const end = scan.end;
    const dv = new DataView(original.buffer);
    // A record survives a cut once its payload is whole (zero fill keeps the zero padding valid)
    // or, with garbage, once its trailer alone is hit (the trailer is not needed to accept a record).
    const survives = (rec: { offset: number }, next: number, cut: number, fill: 'zero' | 'garbage'): boolean =>
      fill === 'zero' ? cut >= rec.offset + 12 + dv.getUint32(rec.offset, true) : cut >= next - 8;
    const rng = new TestRng(99);
    for (let cut = start; cut < end; cut++) {
      for (const fill of ['zero', 'garbage'] as const) {
        const fs = new MemoryFs();
        await build(fs, 6);
        const bytes = original.slice();
        for (let i = cut; i < end; i++) bytes[i] = fill === 'zero' ? 0 : 1 + rng.intn(255);
        fs.poke(path, bytes);
        const { logger, lines } = collectingLogger();
        const r = await openStorage(DIR, { fs, logger });
        const entryKept = survives(entriesRec, last.offset, cut, fill);
        const hsKept = entryKept && survives(last, end, cut, fill);
        const want = entryKept ? 6 : 5;
        const what = `cut at ${cut} (${fill}), seed 99`;
        expect(r.recovered.entries.length, what).toBe(want);
        expect(r.recovered.hardState.commit, what).toBe(hsKept ? 5 : 4);
        const cutLog = lines.find((l) => l['msg'] === 'truncated a torn record at the WAL tail');
        if (fill === 'garbage' && !hsKept) {
          expect(cutLog, `${what} is logged`).toMatchObject({ file: path, offset: entryKept ? last.offset : start });
        }
        // Recovery cut the tail: we can append and recover again.
        await r.storage.save({ term: 1, vote: 1n, commit: 5 }, [entry(want + 1, 2, 24)], true);
        await r.storage.close();
        const again = await openStorage(DIR, { fs });
        expect(again.recovered.entries.length, what).toBe(want + 1);
        await again.storage.close();
      }
    }
  });

  it('a flipped bit in an earlier record (any bit) refuses to start, naming the file and offset', async () => {
    const base = new MemoryFs();
    await build(base, 6);
    const path = await lastSegment(base);
    const original = (await base.readFile(path)).slice();
    const scan = scanSegment(original, true);
    const vi = scan.records.findIndex((r) => r.record.kind === 'entries' && r.record.entries[0]?.index === 3);
    const victim = scan.records[vi]!; // an entries record in the middle
    const size = scan.records[vi + 1]!.offset - victim.offset;
    let refused = 0;
    for (let byte = victim.offset; byte < victim.offset + size; byte++) {
      for (const bit of [0, 3, 7]) {
        const fs = new MemoryFs();
        await build(fs, 6);
        const bytes = original.slice();
        bytes[byte] = (bytes[byte] as number) ^ (1 << bit);
        fs.poke(path, bytes);
        const err = await openStorage(DIR, { fs }).then(
          () => undefined,
          (e: unknown) => e,
        );
        // A flip in the trailer is harmless (the CRC still proves the record); everything else refuses.
        const inTrailer = byte >= victim.offset + size - 8;
        if (inTrailer) continue;
        expect(err, `flip byte ${byte} bit ${bit}`).toBeInstanceOf(StorageCorruptError);
        expect((err as StorageCorruptError).message).toContain(path);
        expect((err as StorageCorruptError).message).toContain(`byte offset ${victim.offset}`);
        refused++;
      }
    }
    expect(refused).toBe(3 * (size - 8));
  });

  it('a flipped bit in the very last record is corruption too, not a torn tail', async () => {
    const fs = new MemoryFs();
    await build(fs, 4);
    const path = await lastSegment(fs);
    const bytes = (await fs.readFile(path)).slice();
    const scan = scanSegment(bytes, true);
    const last = scan.records[scan.records.length - 1]!;
    bytes[last.offset + 13] = (bytes[last.offset + 13] as number) ^ 0x10;
    fs.poke(path, bytes);
    await expect(openStorage(DIR, { fs })).rejects.toThrow(/written completely but damaged/);
  });

  it('a bad record at the end of an older segment is corruption', async () => {
    const fs = new MemoryFs();
    const { storage } = await openStorage(DIR, { fs, segmentSizeBytes: 512 });
    for (let i = 1; i <= 30; i++) await storage.save(undefined, [entry(i, 1, 40)], true);
    await storage.close();
    const segs = (await fs.readdir(`${DIR}/wal`)).filter((n) => n.endsWith('.wal'));
    const first = `${DIR}/wal/${segs[0]}`;
    const bytes = (await fs.readFile(first)).slice();
    const scan = scanSegment(bytes, false);
    const lastRec = scan.records[scan.records.length - 1]!;
    bytes.fill(0, lastRec.offset + 20); // tear the final record of a non-final segment
    fs.poke(first, bytes);
    await expect(openStorage(DIR, { fs, segmentSizeBytes: 512 })).rejects.toThrow(/not the last one/);
  });
});

describe('storage: write errors stop the storage', () => {
  for (const op of ['writev', 'datasync'] as const) {
    it(`ENOSPC on ${op} rejects the save with a clear error, and every later call is refused`, async () => {
      let fail = false;
      const { logger, lines } = collectingLogger();
      const fs = withFaults(new MemoryFs(), (o) => (fail && o === op ? errnoError('ENOSPC', 'no space left on device') : undefined));
      const { storage } = await openStorage(DIR, { fs, logger });
      await storage.save(undefined, entries(1, 3, 1), true);
      fail = true;
      const err = await storage.save(undefined, entries(4, 4, 1), true).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageWriteError);
      expect((err as StorageWriteError).errno).toBe('ENOSPC');
      expect((err as Error).message).toMatch(/ENOSPC/);
      fail = false;
      await expect(storage.save(undefined, entries(5, 5, 1), true)).rejects.toBeInstanceOf(StorageStoppedError);
      await expect(storage.saveSnapshot(snap(3, 1))).rejects.toBeInstanceOf(StorageStoppedError);
      await expect(storage.releaseTo(3)).rejects.toBeInstanceOf(StorageStoppedError);
      expect(lines.some((l) => l['level'] === 'error' && l['errno'] === 'ENOSPC')).toBe(true);
    });
  }

  it('ENOSPC while cutting a new segment rejects the saves behind the cut; the saves before it stay acknowledged', async () => {
    let fail = false;
    const mem = new MemoryFs();
    const fs = withFaults(mem, (o, path) => (fail && o === 'rename' && path.includes('/wal/') ? errnoError('ENOSPC', 'no space') : undefined));
    const { storage } = await openStorage(DIR, { fs, segmentSizeBytes: 1024 });
    await storage.save(undefined, entries(1, 2, 1, 40), true);
    fail = true;
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => storage.save(undefined, [entry(i + 3, 1, 40)], true)));
    const firstRejected = results.findIndex((r) => r.status === 'rejected');
    expect(firstRejected).toBeGreaterThan(0);
    expect(results.slice(firstRejected).every((r) => r.status === 'rejected')).toBe(true);
    const err = (results[firstRejected] as PromiseRejectedResult).reason as StorageWriteError;
    expect(err).toBeInstanceOf(StorageWriteError);
    expect(err.errno).toBe('ENOSPC');
    mem.crash();
    const r = await openStorage(DIR, { fs: mem, segmentSizeBytes: 1024 });
    expect(r.recovered.entries.length).toBeGreaterThanOrEqual(2 + firstRejected);
  });

  it('an I/O error rejects every save queued in the same batch, none resolves', async () => {
    let fail = false;
    const fs = withFaults(new MemoryFs(), (o) => (fail && o === 'datasync' ? errnoError('EIO', 'i/o error') : undefined));
    const { storage } = await openStorage(DIR, { fs });
    await storage.save(undefined, entries(1, 1, 1), true);
    fail = true;
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => storage.save(undefined, [entry(i + 2, 1)], true)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
  });

  it('ENOSPC while writing a snapshot file rejects and stops the storage', async () => {
    let fail = false;
    const fs = withFaults(new MemoryFs(), (o, path) => (fail && o === 'writev' && path.includes('/snap/') ? errnoError('ENOSPC', 'no space') : undefined));
    const { storage } = await openStorage(DIR, { fs });
    await storage.save(undefined, entries(1, 3, 1), true);
    fail = true;
    await expect(storage.saveSnapshot(snap(3, 1))).rejects.toBeInstanceOf(StorageWriteError);
    await expect(storage.save(undefined, entries(4, 4, 1), true)).rejects.toBeInstanceOf(StorageStoppedError);
  });
});
