// The value log: what is appended reads back (from the write buffer and from the file), a flipped
// bit is caught, a restart starts empty, and a defragment with the store gives the disk back.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MvccStore } from '../mvcc/index.js';
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
      for (const [ref, want] of kept) expect(Buffer.from(log.read(ref, want.length)).equals(want)).toBe(true);
    });
  }

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
    expect(ops.readdir('/v')).toEqual(['0000000000000000.vlog']);
    const b = ValueLog.open(ops, '/v'); // kill -9 and start again
    expect(b.totalBytes()).toBe(0);
    expect(ops.files.get('/v/0000000000000000.vlog')?.len).toBe(0);
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
      expect(readdirSync(dir)).toEqual(['0000000000000001.vlog']);
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
});
