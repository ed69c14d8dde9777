// Writes a whole bbolt database in one pass, bucket by bucket, rows in key order: what etcd's
// `snapshot save` receives is such a file, so tsetcd's snapshot stream is one too (see
// node/runtime/etcd-snapshot-export.ts). The database is written as a fresh, compact one:
// leaf pages filled up in key order, then the branch levels above them bottom-up, small buckets
// inline in their parent's leaf (as bbolt keeps them), an empty freelist, and the two meta pages
// last (they name the root page, known only at the end). So the sink takes positioned writes;
// memory stays bounded by one page plus one branch key per leaf page written.
// Layout facts: format.ts.

import {
  BUCKET_HEADER_BYTES,
  BUCKET_LEAF_FLAG,
  BoltFormatError,
  DEFAULT_PAGE_SIZE,
  ELEMENT_BYTES,
  FREELIST_PAGE,
  PAGE_HEADER_BYTES,
  compareKeys,
  encodeBranchPage,
  encodeLeafPage,
  leafItemBytes,
  writeMetaPage,
  type BranchItem,
  type LeafItem,
} from './format.js';

/** Where pages go: positioned writes (a file, or memory in tests). */
export interface PageSink {
  write(position: number, data: Uint8Array): Promise<void>;
}

export type Row = readonly [key: Uint8Array, value: Uint8Array];

/** Collects a Buffer of the whole database: the in-memory twin of a file sink. */
export class MemoryPageSink implements PageSink {
  private parts: Array<{ pos: number; data: Uint8Array }> = [];
  private end = 0;
  async write(position: number, data: Uint8Array): Promise<void> {
    this.parts.push({ pos: position, data: Buffer.from(data) });
    this.end = Math.max(this.end, position + data.byteLength);
  }
  bytes(): Buffer {
    const out = Buffer.alloc(this.end);
    for (const p of this.parts) out.set(p.data, p.pos);
    return out;
  }
}

/** Builds one B+tree (a bucket's, or the root bucket's) from items in key order. */
class TreeBuilder {
  private items: LeafItem[] = [];
  private bytes = PAGE_HEADER_BYTES;
  private level: BranchItem[] = [];
  private last: Uint8Array | undefined;

  constructor(private readonly w: BoltWriter) {}

  /** Adds an item; returns a promise only when a page had to be written first (await it). */
  add(it: LeafItem): Promise<void> | undefined {
    if (this.last !== undefined && compareKeys(this.last, it.key) >= 0) throw new BoltFormatError('bbolt writer: keys must be strictly ascending');
    this.last = it.key;
    const n = leafItemBytes(it);
    const push = (): void => {
      this.items.push(it);
      this.bytes += n;
    };
    if (this.items.length > 0 && this.bytes + n > this.w.pageSize) return this.flushLeaf().then(push);
    push();
    return undefined;
  }

  private async flushLeaf(): Promise<void> {
    const first = this.items[0]!;
    const pgid = await this.w.writePages((id, pages) => encodeLeafPage(id, this.items, pages * this.w.pageSize, pages - 1), this.bytes);
    // An own copy: a small Buffer may be a view into Node's shared 8 KiB pool, and keeping
    // one branch key per page must not keep those pools (full of finished rows) alive.
    this.level.push({ key: new Uint8Array(first.key), pgid });
    this.items = [];
    this.bytes = PAGE_HEADER_BYTES;
  }

  /** Writes what is left and the branch levels; returns the root page id. */
  async finish(): Promise<number> {
    if (this.items.length > 0 || this.level.length === 0) await this.flushLeaf();
    let level = this.level;
    while (level.length > 1) {
      const up: BranchItem[] = [];
      let page: BranchItem[] = [];
      let bytes = PAGE_HEADER_BYTES;
      const flush = async (): Promise<void> => {
        const items = page;
        const pgid = await this.w.writePages((id, pages) => encodeBranchPage(id, items, pages * this.w.pageSize, pages - 1), bytes);
        up.push({ key: items[0]!.key, pgid });
        page = [];
        bytes = PAGE_HEADER_BYTES;
      };
      for (const it of level) {
        const n = ELEMENT_BYTES + it.key.byteLength;
        if (page.length > 0 && bytes + n > this.w.pageSize) await flush();
        page.push(it);
        bytes += n;
      }
      await flush();
      level = up;
    }
    return level[0]!.pgid;
  }
}

export interface BoltWriterOptions {
  readonly pageSize?: number;
  /** Awaited every YIELD_ROWS rows of a bucket (to let an event loop breathe); none by default. */
  readonly maybeYield?: () => Promise<void>;
}

const YIELD_ROWS = 2048;

/**
 * Usage: `await w.bucket(name, rows)` for each top-level bucket in ascending name order (rows in
 * ascending key order), then `await w.finish()`. Nested buckets are not needed by etcd.
 */
export class BoltWriter {
  readonly pageSize: number;
  /** Pages 0 and 1 are the metas, page 2 the freelist. */
  private next = 3;
  private readonly root: TreeBuilder;
  private finished = false;
  private readonly maybeYield: (() => Promise<void>) | undefined;

  constructor(
    private readonly sink: PageSink,
    opts: BoltWriterOptions = {},
  ) {
    this.pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
    this.maybeYield = opts.maybeYield;
    this.root = new TreeBuilder(this);
  }

  /** Allocates enough pages for `bytes`, writes encode(firstId, pageCount) there; returns firstId. */
  async writePages(encode: (id: number, pages: number) => Buffer, bytes: number): Promise<number> {
    const pages = Math.max(1, Math.ceil(bytes / this.pageSize));
    const id = this.next;
    this.next += pages;
    await this.sink.write(id * this.pageSize, encode(id, pages));
    return id;
  }

  async bucket(name: Uint8Array, rows: Iterable<Row> | AsyncIterable<Row>): Promise<void> {
    if (this.finished) throw new BoltFormatError('bbolt writer: finished');
    const inlineMax = this.pageSize / 4;
    const head: LeafItem[] = [];
    let bytes = PAGE_HEADER_BYTES;
    let tree: TreeBuilder | undefined;
    let count = 0;
    const take = async (key: Uint8Array, value: Uint8Array): Promise<void> => {
      const it: LeafItem = { key, value, flags: 0 };
      if (tree) {
        await tree.add(it);
        return;
      }
      head.push(it);
      bytes += leafItemBytes(it);
      if (bytes > inlineMax) {
        tree = new TreeBuilder(this);
        for (const h of head) await tree.add(h);
        head.length = 0;
      }
    };
    if (Symbol.iterator in rows) {
      // A sync source: no promise per row, only when a page is written or every YIELD_ROWS rows.
      for (const [key, value] of rows) {
        if (tree) {
          const p = tree.add({ key, value, flags: 0 });
          if (p) await p;
        } else await take(key, value);
        if (++count % YIELD_ROWS === 0 && this.maybeYield) await this.maybeYield();
      }
    } else {
      for await (const [key, value] of rows) {
        await take(key, value);
        if (++count % YIELD_ROWS === 0 && this.maybeYield) await this.maybeYield();
      }
    }
    let value: Buffer;
    if (tree) {
      value = Buffer.alloc(BUCKET_HEADER_BYTES);
      value.writeBigUInt64LE(BigInt(await tree.finish()), 0);
    } else {
      for (let i = 1; i < head.length; i++) {
        if (compareKeys(head[i - 1]!.key, head[i]!.key) >= 0) throw new BoltFormatError('bbolt writer: keys must be strictly ascending');
      }
      // root 0 = inline; the page image follows the bucket header.
      value = Buffer.concat([Buffer.alloc(BUCKET_HEADER_BYTES), encodeLeafPage(0, head, bytes, 0)]);
    }
    await this.root.add({ key: name, value, flags: BUCKET_LEAF_FLAG });
  }

  /** Writes the root bucket, the freelist and the metas; returns the database size in bytes. */
  async finish(): Promise<number> {
    if (this.finished) throw new BoltFormatError('bbolt writer: finished twice');
    this.finished = true;
    const rootPgid = await this.root.finish();
    const pgid = this.next;
    const freelist = Buffer.alloc(this.pageSize);
    freelist.writeBigUInt64LE(2n, 0);
    freelist.writeUInt16LE(FREELIST_PAGE, 8);
    await this.sink.write(2 * this.pageSize, freelist);
    const metas = Buffer.alloc(2 * this.pageSize);
    for (const txid of [0n, 1n]) {
      writeMetaPage(metas.subarray(Number(txid) * this.pageSize, (Number(txid) + 1) * this.pageSize), {
        pageSize: this.pageSize,
        flags: 0,
        rootPgid,
        rootSequence: 0n,
        freelistPgid: 2n,
        pgid,
        txid,
      });
    }
    await this.sink.write(0, metas);
    return pgid * this.pageSize;
  }
}
