// The value log: what is appended reads back (from the write buffer and from the file), a flipped
// bit is caught, a restart starts empty (derived mode) or cut back to a snapshot's end (kept mode),
// a defragment with the store gives the disk back (kept: once no snapshot may name the old segments),
// and a snapshot that names offsets restores, and expands for a peer, to the state of one that does not.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MvccStore, SnapshotExpander } from '../mvcc/index.js';
import { TestRng } from '../mvcc/testing/rng.js';
import { MemorySyncFileOps, nodeSyncFileOps } from './sync-file-ops.js';
import { ValueLog, ValueLogCorruptError } from './value-log.js';

function bytes(rng: TestRng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

function defragment(store: MvccStore, log: ValueLog, stepKeys: number): { reclaimedBytes: number } {
  log.beginDefrag();
  const cursor = { from: '' as string | undefined, rev: 0 };
  while (!store.relocateStep(cursor, stepKeys));
  return log.endDefrag();
}

describe('value log', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: values of any size read back, buffered or written`, () => {
      const rng = new TestRng(seed);
      const log = ValueLog.open(new MemorySyncFileOps(), '/v', { writeBufferBytes: 4096 });
      const kept: Array<[number, Buffer]> = [];
      for (let i = 0; i < 300; i++) {
        const v = bytes(rng, 1 + rng.int(rng.chance(0.1) ? 10_000 : 500));
        kept.push([log.append(v) as number, v]);
        const [ref, want] = kept[rng.int(kept.length)]!;
        expect(Buffer.from(log.read(ref, want.length)).equals(want), `seed ${seed} value at ${ref}`).toBe(true);
      }
      log.flush();
      for (const [ref, want] of kept) {
        expect(Buffer.from(log.read(ref, want.length)).equals(want)).toBe(true);
        // readInto: the same bytes at an offset of a bigger buffer, nothing around them touched.
        const out = Buffer.alloc(want.length + 10, 0xee);
        log.readInto(ref, want.length, out, 5);
        expect(out.subarray(5, 5 + want.length).equals(want), `seed ${seed} readInto at ${ref}`).toBe(true);
        expect([...out.subarray(0, 5), ...out.subarray(5 + want.length)].every((x) => x === 0xee)).toBe(true);
      }
    });
  }

  it("a flipped bit fails readInto too (a value read straight into the caller's buffer)", () => {
    const ops = new MemorySyncFileOps();
    const log = ValueLog.open(ops, '/v', { writeBufferBytes: 64 });
    const v = Buffer.alloc(20_000, 3);
    const ref = log.append(v) as number;
    log.flush();
    [...ops.files.values()][0]!.bytes[ref + 4 + 9000]! ^= 0x01;
    expect(() => log.readInto(ref, v.length, Buffer.alloc(v.length), 0)).toThrow(ValueLogCorruptError);
  });

  it('a flipped bit in a segment fails the read with ValueLogCorruptError', () => {
    const ops = new MemorySyncFileOps();
    const log = ValueLog.open(ops, '/v', { writeBufferBytes: 64 });
    const ref = log.append(Buffer.from('a value that will rot')) as number;
    log.flush();
    const file = [...ops.files.values()][0]!;
    file.bytes[ref + 4 + 3]! ^= 0x10;
    expect(() => log.read(ref, 21)).toThrow(ValueLogCorruptError);
  });

  it('open deletes what a previous run left: the log is derived state', () => {
    const ops = new MemorySyncFileOps();
    const a = ValueLog.open(ops, '/v');
    a.append(Buffer.alloc(100));
    a.flush();
    expect(ops.readdir('/v')).toEqual(['0000000000000000.vseg']);
    const b = ValueLog.open(ops, '/v'); // kill -9 and start again
    expect(b.totalBytes()).toBe(0);
    expect(ops.files.get('/v/0000000000000000.vseg')?.len).toBe(0);
  });

  it('defragment after compaction deletes the old segment and keeps every value (real disk)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vlog-'));
    try {
      writeFileSync(join(dir, '0000000000000007.vlog'), 'left by a crashed run');
      const log = ValueLog.open(nodeSyncFileOps, dir, { writeBufferBytes: 64 * 1024 });
      const store = new MvccStore({ values: log });
      const rng = new TestRng(9);
      let index = 0;
      const latest = new Map<string, Buffer>();
      for (let round = 0; round < 4; round++) {
        for (let k = 0; k < 50; k++) {
          const v = bytes(rng, 2000 + rng.int(2000));
          latest.set(`k${k}`, v);
          store.apply({ type: 'put', req: { key: Buffer.from(`k${k}`), value: v } }, ++index);
        }
      }
      store.apply({ type: 'compaction', req: { revision: store.currentRevision() } }, ++index);
      while (!store.compactStep(1000));
      const before = log.totalBytes();
      const live = [...latest.values()].reduce((n, v) => n + v.length + 4, 0);
      expect(before).toBeGreaterThan(3 * live);
      expect(store.totalSizeBytes() - store.sizeBytes()).toBe(before - live + 50 * 4);
      const { reclaimedBytes } = defragment(store, log, 7);
      expect(reclaimedBytes).toBe(before);
      expect(log.totalBytes()).toBe(live);
      expect(readdirSync(dir)).toEqual([`${before.toString(16).padStart(16, '0')}.vseg`]);
      for (const [k, v] of latest) expect(Buffer.from(store.range({ key: Buffer.from(k) }).kvs[0]!.value).equals(v)).toBe(true);
      // Writes after the defragment go on in the new segment.
      store.apply({ type: 'put', req: { key: Buffer.from('k0'), value: Buffer.from('after') } }, ++index);
      expect(Buffer.from(store.range({ key: Buffer.from('k0') }).kvs[0]!.value).toString()).toBe('after');
      log.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a store on the log restores a snapshot to the same hash as one in the heap', () => {
    const rng = new TestRng(4);
    const heap = new MvccStore();
    for (let i = 1; i <= 200; i++) heap.apply({ type: 'put', req: { key: Buffer.from(`k${rng.int(40)}`), value: bytes(rng, rng.int(3000)) } }, i);
    const log = ValueLog.open(new MemorySyncFileOps(), '/v', { writeBufferBytes: 8192 });
    const onLog = new MvccStore({ values: log });
    onLog.restore(heap.snapshotChunks(10_000));
    expect(onLog.hash()).toEqual(heap.hash());
    expect(onLog.hashKV(0)).toEqual(heap.hashKV(0));
  });

  describe('kept mode: snapshots that name offsets', () => {
    const KEEP = { keep: { retainSnapshots: 2 }, writeBufferBytes: 4096 };

    function load(store: MvccStore, rng: TestRng, from: number, n: number): number {
      for (let i = 0; i < n; i++) store.apply({ type: 'put', req: { key: Buffer.from(`k${rng.int(30)}`), value: bytes(rng, rng.int(5000)) } }, from + i);
      return from + n;
    }

    /** A local snapshot as the member takes it (mvcc-adapter localSnapshot): chunks, then durable. */
    async function snapshot(store: MvccStore, log: ValueLog): Promise<Uint8Array[]> {
      const id = log.beginSnapshot();
      const chunks = [...store.snapshotChunks(3000, () => log.sealSnapshot(id))];
      await log.syncSnapshot(id);
      log.endSnapshot(id, true);
      return chunks;
    }

    function expand(chunks: Uint8Array[], values: ValueLog | undefined): Array<Uint8Array | number> {
      const e = new SnapshotExpander(values, 5000);
      const out = chunks.flatMap((c) => e.write(c));
      expect(e.ended()).toBe(true);
      return out;
    }

    for (const seed of [1, 2, 3]) {
      it(`seed ${seed}: a restart adopts the snapshot, cuts the log back to its end, and replay goes on from there`, async () => {
        const rng = new TestRng(seed);
        const ops = new MemorySyncFileOps();
        const log = ValueLog.open(ops, '/v', KEEP);
        const store = new MvccStore({ values: log });
        let index = load(store, rng, 1, 100);
        const chunks = await snapshot(store, log);
        const atSnapshot = store.hashKV(0);
        // Written after the snapshot, then lost in a crash (the WAL would replay them).
        index = load(store, rng, index, 40);
        log.flush();
        const tornEnd = log.endOffset();

        const log2 = ValueLog.open(ops, '/v', KEEP);
        const back = new MvccStore({ values: log2 });
        back.restore(chunks);
        expect(back.hashKV(0), `seed ${seed}`).toEqual(atSnapshot);
        expect(log2.endOffset()).toBeLessThan(tornEnd);
        // The same as a restore of the values themselves, into a heap store.
        const heap = new MvccStore();
        heap.restore(expand(chunks, log2) as Uint8Array[]);
        expect(heap.hashKV(0)).toEqual(atSnapshot);
        expect(heap.hash()).toEqual(back.hash());
        // The measuring pass gives the lengths of what the reading pass yields.
        expect(expand(chunks, undefined)).toEqual(expand(chunks, log2).map((c) => (c as Uint8Array).length));
        // Replay appends after the cut; everything reads back.
        load(back, new TestRng(seed + 100), 101, 40);
        load(heap, new TestRng(seed + 100), 101, 40);
        expect(back.hashKV(0)).toEqual(heap.hashKV(0));
      });
    }

    it('a key with thousands of revisions streams across chunks by offset, and restores and expands the same', async () => {
      const rng = new TestRng(6);
      const ops = new MemorySyncFileOps();
      const log = ValueLog.open(ops, '/v', KEEP);
      const store = new MvccStore({ values: log });
      let index = load(store, rng, 1, 20);
      for (let i = 0; i < 3000; i++) store.apply({ type: 'put', req: { key: Buffer.from('hot'), value: bytes(rng, rng.int(3) === 0 ? 0 : rng.int(100)) } }, index++);
      index = load(store, rng, index, 20);
      const chunks = await snapshot(store, log);
      // The hot key's record (~3000 offsets) is cut into chunks of about 3000 bytes.
      for (const c of chunks) expect(c.length).toBeLessThan(3100);
      const want = store.hashKV(0);
      const back = new MvccStore({ values: ValueLog.open(ops, '/v', KEEP) });
      back.restore(chunks);
      expect(back.hashKV(0)).toEqual(want);
      const heap = new MvccStore();
      heap.restore(expand(chunks, log) as Uint8Array[]);
      expect(heap.hashKV(0)).toEqual(want);
      expect(heap.hash()).toEqual(store.hash());
    });

    it('a format-1 snapshot (one from a peer, or an older build) starts a new segment; the old ones stay until two snapshots no longer name them', async () => {
      const rng = new TestRng(5);
      const ops = new MemorySyncFileOps();
      const log = ValueLog.open(ops, '/v', KEEP);
      const store = new MvccStore({ values: log });
      load(store, rng, 1, 50);
      log.flush();
      const want = store.hashKV(0);
      const log2 = ValueLog.open(ops, '/v', KEEP);
      const back = new MvccStore({ values: log2 });
      back.restore(store.snapshotChunks(3000)); // carries its values
      expect(back.hashKV(0)).toEqual(store.hashKV(0));
      expect(log2.retiredBytes()).toBeGreaterThan(0);
      expect(log2.snapshotsToFree()).toBe(2);
      expect(ops.readdir('/v').length).toBe(2);
      await snapshot(back, log2);
      expect(log2.snapshotsToFree()).toBe(1);
      expect(ops.readdir('/v').length).toBe(2);
      await snapshot(back, log2);
      expect(ops.readdir('/v').length).toBe(1);
      expect(log2.retiredBytes()).toBe(0);
      expect(log2.snapshotsToFree()).toBe(0);
      expect(back.hashKV(0)).toEqual(want);
    });

    it('after a Defragment the old segments stay while a retained snapshot names them, and a restart from either snapshot reads every value', async () => {
      const rng = new TestRng(6);
      const ops = new MemorySyncFileOps();
      const log = ValueLog.open(ops, '/v', KEEP);
      const store = new MvccStore({ values: log });
      let index = load(store, rng, 1, 120);
      const first = await snapshot(store, log);
      const firstHash = store.hashKV(0);
      store.apply({ type: 'compaction', req: { revision: store.currentRevision() } }, index++);
      while (!store.compactStep(1000));
      defragment(store, log, 7);
      const oldFiles = ops.readdir('/v').length;
      expect(log.retiredBytes()).toBeGreaterThan(0);
      // The first snapshot began before the Defragment: it does not count towards freeing.
      expect(log.snapshotsToFree()).toBe(2);
      index = load(store, rng, index, 20);
      const second = await snapshot(store, log);
      const secondHash = store.hashKV(0);
      expect(log.snapshotsToFree()).toBe(1);
      // The first snapshot is still retained (retainSnapshots 2) and names the old segments.
      expect(ops.readdir('/v').length).toBe(oldFiles);
      const files = new Map([...ops.files].map(([p, f]) => [p, { bytes: Buffer.from(f.bytes), len: f.len }]));
      for (const [chunks, want] of [
        [second, secondHash],
        [first, firstHash],
      ] as const) {
        const copy = new MemorySyncFileOps();
        for (const [p, f] of files) copy.files.set(p, { bytes: Buffer.from(f.bytes), len: f.len });
        const back = new MvccStore({ values: ValueLog.open(copy, '/v', KEEP) });
        back.restore(chunks);
        expect(back.hashKV(0)).toEqual(want);
      }
      // A third snapshot: neither retained one names the old segments any more.
      load(store, rng, index, 5);
      await snapshot(store, log);
      expect(log.retiredBytes()).toBe(0);
      expect(log.snapshotsToFree()).toBe(0);
      expect(ops.readdir('/v').length).toBeLessThan(oldFiles);
    });

    it('a segment the snapshot names that is gone, or a value past its recorded end, stops the restore', async () => {
      const rng = new TestRng(7);
      const ops = new MemorySyncFileOps();
      const log = ValueLog.open(ops, '/v', KEEP);
      const store = new MvccStore({ values: log });
      load(store, rng, 1, 30);
      const chunks = await snapshot(store, log);
      for (const p of [...ops.files.keys()]) ops.unlink(p);
      expect(() => new MvccStore({ values: ValueLog.open(ops, '/v', KEEP) }).restore(chunks)).toThrow(/segment 0000000000000000\.vseg, named by the snapshot, is missing/);
      // Into a store whose values are in the heap: refused.
      expect(() => new MvccStore().restore(chunks)).toThrow(/value offsets/);
    });
  });
});
