// The bbolt writer and reader round trip on seeded random buckets: small (inline) and big
// (leaf pages, branch levels, overflow pages for big values), empty ones; and the written file
// keeps bbolt's invariants that `tx.Check` (run by etcdutl snapshot status) verifies: valid metas,
// every page below the high-water mark referenced exactly once, keys ascending.
import { describe, expect, it } from 'vitest';
import { TestRng } from '../mvcc/testing/rng.js';
import { BoltReader, bufferSource } from './reader.js';
import { BoltWriter, MemoryPageSink, type Row } from './writer.js';
import { BRANCH_PAGE, BUCKET_LEAF_FLAG, ELEMENT_BYTES, FREELIST_PAGE, LEAF_PAGE, PAGE_HEADER_BYTES, readMetaPage } from './format.js';

function randomBytes(rng: TestRng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

function randomBucket(rng: TestRng): Row[] {
  const kind = rng.int(4);
  const n = kind === 0 ? 0 : kind === 1 ? 1 + rng.int(5) : kind === 2 ? 50 + rng.int(400) : 2000 + rng.int(3000);
  const keys = new Map<string, Buffer>();
  while (keys.size < n) {
    const k = randomBytes(rng, 1 + rng.int(rng.chance(0.05) ? 600 : 24));
    const big = rng.chance(0.01);
    keys.set(k.toString('hex'), big ? randomBytes(rng, 4096 + rng.int(20000)) : randomBytes(rng, rng.int(120)));
  }
  return [...keys.entries()].map(([k, v]) => [Buffer.from(k, 'hex'), v] as const).sort((a, b) => Buffer.compare(a[0], b[0]));
}

/** Walks the tree as bbolt's tx.Check does: counts references per page. */
function checkPages(db: Buffer): void {
  const ps = 4096;
  const meta = readMetaPage(db.subarray(ps, 2 * ps))!;
  expect(readMetaPage(db.subarray(0, ps))).toBeDefined();
  expect(db.byteLength).toBe(meta.pgid * ps);
  const refs = new Array<number>(meta.pgid).fill(0);
  refs[0]! += 1;
  refs[1]! += 1;
  const fl = Number(meta.freelistPgid);
  expect(db.readUInt16LE(fl * ps + 8)).toBe(FREELIST_PAGE);
  refs[fl]! += 1;
  const visit = (pgid: number): void => {
    const p = db.subarray(pgid * ps);
    const overflow = p.readUInt32LE(12);
    for (let i = 0; i <= overflow; i++) refs[pgid + i]! += 1;
    expect(Number(p.readBigUInt64LE(0))).toBe(pgid);
    const flags = p.readUInt16LE(8);
    const count = p.readUInt16LE(10);
    for (let i = 0; i < count; i++) {
      const e = PAGE_HEADER_BYTES + ELEMENT_BYTES * i;
      if (flags === BRANCH_PAGE) visit(Number(p.readBigUInt64LE(e + 8)));
      else {
        expect(flags).toBe(LEAF_PAGE);
        if (p.readUInt32LE(e) & BUCKET_LEAF_FLAG) {
          const pos = e + p.readUInt32LE(e + 4);
          const root = Number(p.readBigUInt64LE(pos + p.readUInt32LE(e + 8)));
          if (root !== 0) visit(root);
        }
      }
    }
  };
  visit(meta.rootPgid);
  expect(refs.every((n) => n === 1)).toBe(true);
}

describe('bbolt writer and reader', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`round trip, seed ${seed}`, async () => {
      const rng = new TestRng(seed);
      const names = new Set<string>();
      const nb = 1 + rng.int(12);
      while (names.size < nb) names.add(`b${rng.int(1000)}`);
      const buckets = [...names].sort().map((n) => [Buffer.from(n), randomBucket(rng)] as const);
      const sink = new MemoryPageSink();
      const w = new BoltWriter(sink);
      for (const [name, rows] of buckets) await w.bucket(name, rows);
      const size = await w.finish();
      const db = sink.bytes();
      expect(db.byteLength, `seed ${seed}`).toBe(size);
      checkPages(db);
      const r = BoltReader.open(bufferSource(db));
      expect(r.bucketNames()).toEqual(buckets.map(([n]) => n.toString()));
      for (const [name, rows] of buckets) {
        const got = [...r.rows(name.toString())];
        expect(got.length, `seed ${seed} bucket ${name.toString()}`).toBe(rows.length);
        for (let i = 0; i < rows.length; i++) {
          expect(got[i]![0].equals(rows[i]![0])).toBe(true);
          expect(got[i]![1].equals(rows[i]![1])).toBe(true);
        }
      }
    });
  }

  it('refuses keys out of order', async () => {
    const w = new BoltWriter(new MemoryPageSink());
    await expect(w.bucket(Buffer.from('a'), [[Buffer.from('b'), Buffer.alloc(0)], [Buffer.from('a'), Buffer.alloc(0)]])).rejects.toThrow(/ascending/);
  });

  it('refuses a file that is not bbolt', () => {
    expect(() => BoltReader.open(bufferSource(Buffer.alloc(8192)))).toThrow(/no valid meta page/);
  });
});
