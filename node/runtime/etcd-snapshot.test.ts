// tsetcd's store → etcd's bbolt layout → a new store, on seeded random histories (puts,
// deletes, txns, leases, compactions): the new store has the same current and compacted
// revision, the same HashKV at every revision still held, the same ranges and leases; and the
// rows are in etcd's encodings (revision keys, tombstones, KeyValue protobuf, meta keys).
import { describe, expect, it } from 'vitest';
import { MvccStore, type Command, type ValueStore } from '../mvcc/index.js';
import { ValueLog } from '../storage/value-log.js';
import { MemorySyncFileOps } from '../storage/sync-file-ops.js';
import { TestRng } from '../mvcc/testing/rng.js';
import { BoltReader, bufferSource } from '../bbolt/reader.js';
import { MemoryPageSink } from '../bbolt/writer.js';
import { writeEtcdDb } from './etcd-snapshot-export.js';
import { etcdSnapshotStream, removeStaleSnapshotFiles } from './etcd-snapshot-stream.js';
import { readEtcdDb, verifySnapshotFile } from './etcd-snapshot-import.js';
import { BoltWriter } from '../bbolt/writer.js';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUCKET, META_KEY, compactRevOf, decodeKeyValue, encodeKeyValue, encodeLease, leaseKey, parseRevKey, revKey } from './etcd-schema.js';

const b = (s: string): Buffer => Buffer.from(s);

function randomStore(seed: number, values?: ValueStore): MvccStore {
  const rng = new TestRng(seed);
  const s = new MvccStore(values ? { values } : {});
  let index = 0;
  const leases: bigint[] = [];
  const apply = (cmd: Command): void => {
    s.apply(cmd, ++index);
  };
  const key = (): Buffer => b(`k${rng.int(40)}`);
  const steps = 200 + rng.int(800);
  for (let i = 0; i < steps; i++) {
    const x = rng.int(100);
    if (x < 55) {
      const lease = leases.length > 0 && rng.chance(0.2) ? leases[rng.int(leases.length)]! : 0n;
      apply({ type: 'put', req: { key: key(), value: Buffer.alloc(rng.int(rng.chance(0.02) ? 9000 : 200), rng.int(256)), lease } });
    } else if (x < 70) apply({ type: 'deleteRange', req: { key: key(), ...(rng.chance(0.3) ? { rangeEnd: b('k5') } : {}) } });
    else if (x < 82) apply({ type: 'txn', req: { success: [{ requestPut: { key: key(), value: b('t') } }, { requestDeleteRange: { key: key() } }, { requestPut: { key: key(), value: b('u') } }] } });
    else if (x < 90) {
      const r = s.apply({ type: 'leaseGrant', req: { TTL: 10 + rng.int(100) } }, ++index);
      if (r.ok) leases.push((r.response as { ID: bigint }).ID);
    } else if (x < 94 && leases.length > 0) apply({ type: 'leaseRevoke', req: { ID: leases.splice(rng.int(leases.length), 1)[0]! } });
    else if (x < 97 && s.currentRevision() > 3) apply({ type: 'compaction', req: { revision: s.compactRevision() + 1 + rng.int(s.currentRevision() - s.compactRevision()) } });
  }
  for (let i = 0; i < 100; i++) s.compactStep(1000);
  return s;
}

async function exportDb(s: MvccStore): Promise<Buffer> {
  const sink = new MemoryPageSink();
  await writeEtcdDb(sink, { store: s, consistentIndex: 77, term: 5, confState: { voters: [1n, 2n, 3n], learners: [] } });
  return sink.bytes();
}

describe('etcd snapshot export and import', () => {
  for (const seed of [11, 12, 13, 14, 15, 16]) {
    it(`round trip keeps revisions, history, leases (seed ${seed})`, async () => {
      const s = randomStore(seed);
      const db = await exportDb(s);
      const r = BoltReader.open(bufferSource(db));
      const contents = readEtcdDb(r, 1);
      const t = new MvccStore();
      t.importRevisions(contents.header, contents.revisions);
      expect(t.currentRevision(), `seed ${seed}`).toBe(s.currentRevision());
      expect(t.compactRevision(), `seed ${seed}`).toBe(s.compactRevision());
      for (let rev = Math.max(1, s.compactRevision()); rev <= s.currentRevision(); rev++) {
        expect(t.hashKV(rev).hash, `seed ${seed} rev ${rev}`).toBe(s.hashKV(rev).hash);
      }
      const all = { key: b('\0'), rangeEnd: b('\0') };
      expect(t.range(all)).toEqual(s.range(all));
      expect(t.leaseLeases().leases).toEqual(s.leaseLeases().leases);
      // Every key's lease attachments came back too: revoking a lease deletes the same keys.
      for (const l of s.leaseLeases().leases) {
        const a = s.apply({ type: 'leaseRevoke', req: { ID: l.ID } }, 1e6);
        const c = t.apply({ type: 'leaseRevoke', req: { ID: l.ID } }, 1e6);
        expect(c.ok).toBe(a.ok);
      }
      expect(t.hashKV(0).hash).toBe(s.hashKV(0).hash);
      r.close();
    });
  }

  it('the export pins history until released, and walks the same rows on each pass', async () => {
    const s = randomStore(21);
    await exportDb(s);
    expect(s.openReads()).toBe(0);
    const e = s.exportRevisions();
    expect(s.openReads()).toBe(1);
    const first = [...e.revisions()];
    expect([...e.revisions()]).toEqual(first);
    e.release();
    e.release();
    expect(s.openReads()).toBe(0);
    expect(() => e.revisions().next()).toThrow(/released/);
  });

  it("writes etcd's encodings: revision keys, tombstones, KeyValue, meta", async () => {
    const s = new MvccStore();
    s.apply({ type: 'put', req: { key: b('a'), value: b('1') } }, 1);
    s.apply({ type: 'put', req: { key: b('a'), value: b('2') } }, 2);
    s.apply({ type: 'deleteRange', req: { key: b('a') } }, 3);
    s.apply({ type: 'compaction', req: { revision: 3 } }, 4);
    const r = BoltReader.open(bufferSource(await exportDb(s)));
    expect(r.bucketNames()).toEqual(['alarm', 'auth', 'authRoles', 'authUsers', 'cluster', 'key', 'lease', 'members', 'members_removed', 'meta']);
    const rows = [...r.rows(BUCKET.key)];
    // Compaction at 3 keeps "a"@3 (its newest revision at or below 3) and the tombstone at 4.
    expect(rows.map(([k]) => k.toString('hex'))).toEqual([revKey(3, 0, false).toString('hex'), revKey(4, 0, true).toString('hex')]);
    expect(rows[0]![0].byteLength).toBe(17);
    expect(parseRevKey(rows[1]![0])).toEqual({ main: 4, sub: 0, tombstone: true });
    expect(decodeKeyValue(rows[0]![1])).toMatchObject({ createRevision: 2, modRevision: 3, version: 2 });
    expect(rows[1]![1]).toEqual(Buffer.from([0x0a, 0x01, 0x61])); // a tombstone: KeyValue{key: "a"}
    expect(r.get(BUCKET.meta, META_KEY.storageVersion)?.toString()).toBe('3.6.0');
    expect(r.get(BUCKET.meta, META_KEY.consistentIndex)?.readBigUInt64BE(0)).toBe(77n);
    expect(r.get(BUCKET.meta, META_KEY.term)?.readBigUInt64BE(0)).toBe(5n);
    expect(compactRevOf(r.get(BUCKET.meta, META_KEY.finishedCompactRev))).toBe(3);
    expect(r.get(BUCKET.cluster, 'clusterVersion')?.toString()).toBe('3.6.0');
    // gogoproto's field order and zero-omission; the one-allocation path (number lease) and the
    // general one (bigint lease) agree.
    const kv = { key: b('k'), createRevision: 2, modRevision: 300, version: 1, value: b('v') };
    expect(encodeKeyValue({ ...kv, lease: 0 })).toEqual(Buffer.from([0x0a, 0x01, 0x6b, 0x10, 0x02, 0x18, 0xac, 0x02, 0x20, 0x01, 0x2a, 0x01, 0x76]));
    expect(encodeKeyValue({ ...kv, lease: 0n })).toEqual(encodeKeyValue({ ...kv, lease: 0 }));
    const big = { key: Buffer.alloc(300, 1), createRevision: 2 ** 40, modRevision: 2 ** 52 + 1, version: 127, value: Buffer.alloc(20_000, 2) };
    expect(encodeKeyValue({ ...big, lease: 2 ** 50 + 3 })).toEqual(encodeKeyValue({ ...big, lease: 2n ** 50n + 3n }));
    expect(decodeKeyValue(encodeKeyValue({ ...big, lease: 2 ** 50 + 3 }))).toMatchObject({ createRevision: 2 ** 40, modRevision: 2 ** 52 + 1, version: 127, lease: 2n ** 50n + 3n });
  });

  it("reads etcd's own rows: a 63-bit lease id is kept exactly, with its keys; a revision-bump marker row counts for the revision only", async () => {
    const bigLease = 0x7a1b2c3d4e5f6071n;
    const sink = new MemoryPageSink();
    const w = new BoltWriter(sink);
    await w.bucket(b('key'), [
      [revKey(2, 0, false), encodeKeyValue({ key: b('a'), createRevision: 2, modRevision: 2, version: 1, value: b('x'), lease: bigLease })],
      [revKey(3, 0, false), encodeKeyValue({ key: b('b'), createRevision: 3, modRevision: 3, version: 1, value: b('y'), lease: 0n })],
      [revKey(9, 0, false), Buffer.alloc(0)], // etcdutl restore --bump-revision
    ]);
    await w.bucket(b('lease'), [[leaseKey(bigLease), encodeLease({ id: bigLease, ttl: 60, remainingTtl: 0 })]]);
    await w.bucket(b('meta'), [[b('scheduledCompactRev'), revKey(9, 0, false)]]); // --mark-compacted
    await w.finish();
    const contents = readEtcdDb(BoltReader.open(bufferSource(sink.bytes())), 1);
    const t = new MvccStore();
    t.importRevisions(contents.header, contents.revisions);
    expect(t.currentRevision()).toBe(9);
    expect(t.compactRevision()).toBe(9);
    const id = bigLease;
    expect(t.leaseLeases().leases.map((l) => l.ID)).toEqual([id]);
    const a = t.range({ key: b('a') }).kvs[0]!;
    expect(a.lease).toBe(id);
    t.apply({ type: 'leaseRevoke', req: { ID: id } }, 2);
    expect(t.range({ key: b('a') }).kvs).toEqual([]);
    expect(t.range({ key: b('b') }).kvs.length).toBe(1);
  });

  it('checks the trailing sha256 of a snapshot file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsetcd-snapfile-'));
    try {
      const db = await exportDb(randomStore(31));
      const good = join(dir, 'good.db');
      writeFileSync(good, Buffer.concat([db, createHash('sha256').update(db).digest()]));
      expect(await verifySnapshotFile(good)).toEqual({ dbBytes: db.byteLength, hashChecked: true });
      const bad = join(dir, 'bad.db');
      const corrupt = Buffer.from(db);
      corrupt[5000] = corrupt[5000]! ^ 1;
      writeFileSync(bad, Buffer.concat([corrupt, createHash('sha256').update(db).digest()]));
      await expect(verifySnapshotFile(bad)).rejects.toThrow(/sha256 mismatch/);
      const bare = join(dir, 'bare.db');
      writeFileSync(bare, db);
      await expect(verifySnapshotFile(bare)).rejects.toThrow(/--skip-hash-check/);
      expect(await verifySnapshotFile(bare, true)).toEqual({ dbBytes: db.byteLength, hashChecked: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const seed of [41, 42, 43]) {
    it(`the stream gives the same database as the export, from a value log too, and releases the pin (read to the end, or abandoned) (seed ${seed})`, async () => {
      for (const values of [undefined, ValueLog.open(new MemorySyncFileOps(), '/vlog', { writeBufferBytes: 4096 })]) {
        const s = randomStore(seed, values);
        const input = { store: s, consistentIndex: 77, term: 5, confState: { voters: [1n, 2n, 3n], learners: [] } };
        const whole = await exportDb(s);
        const st = await etcdSnapshotStream(input);
        expect(st.sizeBytes).toBe(whole.byteLength);
        const parts: Uint8Array[] = [];
        for await (const c of st.chunks) parts.push(c);
        expect(Buffer.concat(parts).equals(whole), `seed ${seed}`).toBe(true);
        expect(s.openReads()).toBe(0);
        const st2 = await etcdSnapshotStream(input);
        expect(s.openReads()).toBe(1);
        for await (const c of st2.chunks) {
          expect(c.byteLength).toBeGreaterThan(0);
          break; // the client went away
        }
        expect(s.openReads()).toBe(0);
        const st3 = await etcdSnapshotStream(input);
        await st3.chunks[Symbol.asyncIterator]().return?.(); // abandoned before the first chunk
        expect(s.openReads()).toBe(0);
      }
    });
  }

  it('the stream keeps going while the store changes, and gives the state of its start', async () => {
    const s = randomStore(44, ValueLog.open(new MemorySyncFileOps(), '/vlog', { writeBufferBytes: 4096 }));
    const input = { store: s, consistentIndex: 77, term: 5, confState: { voters: [1n, 2n, 3n], learners: [] } };
    const whole = await exportDb(s);
    const st = await etcdSnapshotStream(input);
    let index = 1e5;
    const parts: Uint8Array[] = [];
    for await (const c of st.chunks) {
      parts.push(c);
      s.apply({ type: 'put', req: { key: b(`new${index}`), value: Buffer.alloc(20_000, 7) } }, ++index);
      s.apply({ type: 'compaction', req: { revision: s.currentRevision() } }, ++index);
      s.compactStep(1000);
    }
    expect(Buffer.concat(parts).equals(whole)).toBe(true);
  });

  it('removes the temporary files older builds left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsetcd-snapstream-'));
    try {
      mkdirSync(join(dir, 'tsetcd-snapshot-left-by-a-crash'));
      mkdirSync(join(dir, 'wal'));
      await removeStaleSnapshotFiles(dir);
      expect(readdirSync(dir)).toEqual(['wal']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
