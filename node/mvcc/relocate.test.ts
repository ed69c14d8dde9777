// Defragment (store.relocateStep) moves every value still reachable, whatever runs between its
// steps: applies, physical compaction, a restore. A value left behind fails the test on its next
// read (ArrayValues forgets the old part); the replicated state never changes.
import { describe, expect, it } from 'vitest';
import { MvccStore, decodeCommand, encodeCommand, eventOf } from './index.js';
import { TestRng } from './testing/rng.js';
import { randomCommand } from './testing/random-commands.js';
import { ArrayValues } from './testing/array-values.js';

/** Every value the store can still hand out: live ranges, hashes, and watch replay from the log. */
function readAll(s: MvccStore, from: number): unknown {
  const events = [];
  for (let r = from; r <= s.currentRevision(); r++) {
    for (const x of s.changesAt(r) ?? []) events.push(eventOf(x));
  }
  return { kvs: s.range({ key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) }).kvs, hash: s.hash().hash, hashKV: s.hashKV(0).hash, events };
}

/** Where watch replay can start on the compacting store (the heap store never trims its log). */
function replayFrom(s: MvccStore): number {
  return Math.max(s.firstLoggedRevision(), s.compactRevision());
}

describe('defragment: relocateStep', () => {
  for (const seed of [31, 32, 33, 34, 35]) {
    it(`seed ${seed}: values moved between applies and compactions read the same as in the heap`, () => {
      const rng = new TestRng(seed);
      const heap = new MvccStore();
      const values = new ArrayValues();
      let log = new MvccStore({ values });
      let defrag: { from: string | undefined; rev: number } | undefined;
      let defrags = 0;
      for (let i = 1; i <= 2000; i++) {
        const leases = heap.leaseLeases().leases.map((l) => l.ID);
        const cmd = randomCommand(rng, { revision: heap.currentRevision(), compactRevision: heap.compactRevision(), leases });
        const bytes = encodeCommand(cmd);
        expect(log.apply(decodeCommand(bytes), i), `seed ${seed} entry ${i}`).toEqual(heap.apply(decodeCommand(bytes), i));
        if (rng.chance(0.3)) log.compactStep(1 + rng.int(5));
        if (defrag === undefined && rng.chance(0.02)) {
          values.beginDefrag();
          defrag = { from: '', rev: 0 };
        }
        if (defrag !== undefined && rng.chance(0.5) && log.relocateStep(defrag, 1 + rng.int(4))) {
          values.endDefrag();
          defrag = undefined;
          defrags++;
          readAll(log, replayFrom(log)); // every value still reachable reads (an unmoved one throws)
          // The group at the compaction itself may differ after a restore (its compacted tombstones are not in a snapshot).
          expect(readAll(log, replayFrom(log) + 1)).toEqual(readAll(heap, replayFrom(log) + 1));
          expect(log.totalSizeBytes()).toBeLessThanOrEqual(log.sizeBytes() + values.totalBytes());
        }
        if (rng.chance(0.005)) {
          const c = new MvccStore({ values });
          c.restore(log.snapshotChunks(64 + rng.int(4096)));
          log = c;
        }
      }
      expect(defrags, `seed ${seed}`).toBeGreaterThan(3);
      while (!log.compactStep(1000));
      values.beginDefrag();
      const cursor = { from: '' as string | undefined, rev: 0 };
      while (!log.relocateStep(cursor, 7));
      values.endDefrag();
      readAll(log, replayFrom(log));
      expect(readAll(log, replayFrom(log) + 1)).toEqual(readAll(heap, replayFrom(log) + 1));
    });
  }

  it('after compaction and defragment the value bytes held are the live ones', () => {
    const values = new ArrayValues();
    const s = new MvccStore({ values });
    const v = Buffer.alloc(1000, 7);
    for (let i = 0; i < 50; i++) s.apply({ type: 'put', req: { key: Buffer.from('k'), value: v } }, i + 1);
    expect(values.totalBytes()).toBe(50_000);
    s.apply({ type: 'compaction', req: { revision: s.currentRevision() } }, 51);
    while (!s.compactStep(100));
    expect(s.totalSizeBytes() - s.sizeBytes()).toBe(49_000); // dead until defragment
    values.beginDefrag();
    const cursor = { from: '' as string | undefined, rev: 0 };
    while (!s.relocateStep(cursor, 10));
    values.endDefrag();
    expect(values.totalBytes()).toBe(1000);
    expect(s.totalSizeBytes()).toBe(s.sizeBytes());
    expect(s.range({ key: Buffer.from('k') }).kvs[0]?.value).toEqual(v);
  });

  it('moves a value only the watch log still holds (put and delete of one key in one txn, compacted at that revision)', () => {
    const values = new ArrayValues();
    const s = new MvccStore({ values });
    const k = Buffer.from('k');
    const v = Buffer.from('only-in-the-log');
    s.apply({ type: 'txn', req: { success: [{ requestTxn: { success: [{ requestPut: { key: k, value: v } }] } }, { requestTxn: { success: [{ requestDeleteRange: { key: k } }] } }] } }, 1);
    const at = s.currentRevision();
    s.apply({ type: 'compaction', req: { revision: at } }, 2);
    while (!s.compactStep(100));
    expect(s.keyCount()).toBe(1); // only the delete, kept at the compact revision
    values.beginDefrag();
    const cursor = { from: '' as string | undefined, rev: 0 };
    while (!s.relocateStep(cursor, 1));
    values.endDefrag();
    expect(s.changesAt(at)?.map((r) => eventOf(r).kv.value)).toEqual([v, new Uint8Array(0)]);
  });
});
