// The bbolt writer and reader round trip on seeded random buckets: small (inline) and big
// (leaf pages, branch levels, overflow pages for big values), empty ones; and the written file
// keeps bbolt's invariants that `tx.Check` (run by etcdutl snapshot status) verifies: valid metas,
// every page below the high-water mark referenced exactly once, keys ascending.
import { describe, expect, it } from 'vitest';
import { TestRng } from '../mvcc/testing/rng.js';
import { BoltReader, bufferSource } from './reader.js';
import { BoltWriter, MemoryPageSink, sizeOnly, type LazyValue, type PageSink, type Row } from './writer.js';
import { BRANCH_PAGE, BUCKET_LEAF_FLAG, ELEMENT_BYTES, FREELIST_PAGE, LEAF_PAGE, PAGE_HEADER_BYTES, readMetaPage } from './format.js';

function randomBytes(rng: TestRng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

function randomBucket(rng: TestRng): Array<readonly [Buffer, Buffer]> {
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

/** 1 to 12 buckets of randomBucket rows, in name order. */
function randomBuckets(seed: number): Array<readonly [Buffer, Array<readonly [Buffer, Buffer]>]> {
  const rng = new TestRng(seed);
  const names = new Set<string>();
  const nb = 1 + rng.int(12);
  while (names.size < nb) names.add(`b${rng.int(1000)}`);
  return [...names].sort().map((n) => [Buffer.from(n), randomBucket(rng)] as const);
}

/** Takes pages only in ascending positions, building them in its own memory (as a stream does). */
class SequentialSink implements PageSink {
  private readonly parts: Buffer[] = [];
  private end = 0;
  private last: Buffer | undefined;
  alloc(bytes: number): Buffer {
    this.last = Buffer.alloc(bytes, 0xee); // garbage the writer must overwrite
    return this.last;
  }
  write(position: number, data: Buffer): void {
    expect(position).toBe(this.end);
    expect(data).toBe(this.last);
    this.parts.push(data);
    this.end += data.byteLength;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
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
      const buckets = randomBuckets(seed);
      const sink = new MemoryPageSink();
      const w = new BoltWriter(sink);
      for (const [name, rows] of buckets) await w.bucket(name, rows);
      const { sizeBytes: size } = await w.finish();
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

  // The streamed way (etcd-snapshot-stream.ts): a sizing pass that sees only lengths, then a
  // pass that writes the metas first and every page in ascending order, values placed lazily,
  // into a sink that hands out the page memory: the same bytes as the positioned writer.
  for (const seed of [6, 7, 8, 9, 10, 11, 12, 13]) {
    it(`sized then streamed gives the positioned writer's bytes, seed ${seed}`, async () => {
      const buckets = randomBuckets(seed);
      const positioned = new MemoryPageSink();
      const w0 = new BoltWriter(positioned);
      for (const [name, rows] of buckets) await w0.bucket(name, rows);
      const want = await w0.finish();

      const sizer = new BoltWriter(undefined);
      for (const [name, rows] of buckets) await sizer.bucket(name, rows.map(([k, v]) => [k, sizeOnly(v.byteLength)] as const));
      const layout = await sizer.finish();
      expect(layout, `seed ${seed}`).toEqual(want);

      const lazy = (v: Buffer): LazyValue => ({ byteLength: v.byteLength, writeInto: (out, at) => void out.set(v, at) });
      const streamed = new SequentialSink();
      const w1 = new BoltWriter(streamed, { layout });
      for (const [name, rows] of buckets) await w1.bucket(name, rows.map(([k, v], i) => [k, i % 2 ? lazy(v) : v] as const));
      expect(await w1.finish()).toEqual(want);
      expect(streamed.bytes().equals(positioned.bytes()), `seed ${seed}`).toBe(true);
    });
  }

  it('a streamed pass whose rows differ from the sizing pass fails at finish', async () => {
    const rows: Row[] = Array.from({ length: 300 }, (_, i) => [Buffer.from(`k${String(i).padStart(4, '0')}`), Buffer.alloc(40)]);
    const sizer = new BoltWriter(undefined);
    await sizer.bucket(Buffer.from('b'), rows);
    const layout = await sizer.finish();
    const w = new BoltWriter(new SequentialSink(), { layout });
    await w.bucket(Buffer.from('b'), rows.slice(0, 200));
    await expect(w.finish()).rejects.toThrow(/changed between sizing and writing/);
  });

  it('refuses keys out of order', async () => {
    const w = new BoltWriter(new MemoryPageSink());
    await expect(w.bucket(Buffer.from('a'), [[Buffer.from('b'), Buffer.alloc(0)], [Buffer.from('a'), Buffer.alloc(0)]])).rejects.toThrow(/ascending/);
  });

  it('refuses a file that is not bbolt', () => {
    expect(() => BoltReader.open(bufferSource(Buffer.alloc(8192)))).toThrow(/no valid meta page/);
  });
});
