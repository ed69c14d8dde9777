// Writes a whole bbolt database in one pass, bucket by bucket, rows in key order: what etcd's
// `snapshot save` receives is such a file, so tsetcd's snapshot stream is one too (see
// node/runtime/etcd-snapshot-export.ts). The database is written as a fresh, compact one:
// leaf pages filled up in key order, then the branch levels above them bottom-up, small buckets
// inline in their parent's leaf (as bbolt keeps them), an empty freelist, and the two meta pages
// (they name the root page and the page count, known only at the end).
// Three ways to run it:
// - positioned (a file, or memory in tests): pages in ascending order, the metas written last;
// - sizing (no sink): the same steps with nothing encoded or written, only the page ids counted,
//   so rows may give their values' lengths only (LazyValue); finish() gives the layout;
// - streaming (a sink and that layout): the metas and freelist first, then every page in
//   ascending order, so the bytes can go out as they are made, with no temporary file. The layout
//   depends only on the keys' and values' lengths and order, so a second pass over the same rows
//   meets it exactly (finish() checks).
// A sink that offers alloc() has each page built in its own memory (no copy per page); a
// LazyValue writes its bytes straight into the page. Memory stays bounded by one page plus one
// branch key per leaf page written.
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
  type LazyValue,
  type LeafItem,
  type PageValue,
} from './format.js';

export type { LazyValue, PageValue } from './format.js';

/** Where pages go, in ascending position unless the metas come last (positioned mode). */
export interface PageSink {
  write(position: number, data: Buffer): Promise<void> | void;
  /**
   * Memory for the next page image, which write() then gets back (so it need not copy it); its
   * contents may be anything, the writer fills all of it. Without it each page is a new Buffer.
   */
  alloc?(bytes: number): Buffer;
}

export type Row = readonly [key: Uint8Array, value: PageValue];

/** What the meta pages say: page count (high-water mark) and the root bucket's page. */
export interface BoltLayout {
  readonly pgid: number;
  readonly rootPgid: number;
  readonly sizeBytes: number;
}

/** Collects a Buffer of the whole database: the in-memory twin of a file sink. */
export class MemoryPageSink implements PageSink {
  private parts: Array<{ pos: number; data: Uint8Array }> = [];
  private end = 0;
  write(position: number, data: Buffer): void {
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
    const items = this.items;
    const pgid = await this.w.writePages((out, id, pages) => encodeLeafPage(out, id, items, pages - 1), this.bytes);
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
        const pgid = await this.w.writePages((out, id, pages) => encodeBranchPage(out, id, items, pages - 1), bytes);
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
  /**
   * Streaming: the layout a sizing pass over the same rows gave. The metas and the freelist are
   * written first, then every page in ascending order; finish() checks the layout came out.
   */
  readonly layout?: BoltLayout;
}

const YIELD_ROWS = 2048;
/** Pages 0 and 1 are the metas, page 2 the freelist. */
const FIRST_DATA_PAGE = 3;

/**
 * Usage: `await w.bucket(name, rows)` for each top-level bucket in ascending name order (rows in
 * ascending key order), then `await w.finish()`. Nested buckets are not needed by etcd.
 * `new BoltWriter(undefined)` only sizes (see the file header).
 */
export class BoltWriter {
  readonly pageSize: number;
  private next = FIRST_DATA_PAGE;
  private readonly root: TreeBuilder;
  private finished = false;
  private headWritten = false;
  private readonly maybeYield: (() => Promise<void>) | undefined;
  private readonly layout: BoltLayout | undefined;

  constructor(
    private readonly sink: PageSink | undefined,
    opts: BoltWriterOptions = {},
  ) {
    this.pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
    this.maybeYield = opts.maybeYield;
    this.layout = opts.layout;
    if (this.layout && !sink) throw new BoltFormatError('bbolt writer: a layout needs a sink');
    this.root = new TreeBuilder(this);
  }

  /** Allocates enough pages for `bytes`, has encode(out, firstId, pageCount) fill them; returns firstId. */
  async writePages(encode: (out: Buffer, id: number, pages: number) => void, bytes: number): Promise<number> {
    const pages = Math.max(1, Math.ceil(bytes / this.pageSize));
    const id = this.next;
    this.next += pages;
    const sink = this.sink;
    if (!sink) return id;
    if (this.layout && !this.headWritten) await this.writeHead(this.layout);
    const n = pages * this.pageSize;
    const out = sink.alloc ? sink.alloc(n) : Buffer.allocUnsafe(n);
    encode(out, id, pages);
    await sink.write(id * this.pageSize, out);
    return id;
  }

  async bucket(name: Uint8Array, rows: Iterable<Row> | AsyncIterable<Row>): Promise<void> {
    if (this.finished) throw new BoltFormatError('bbolt writer: finished');
    const inlineMax = this.pageSize / 4;
    const head: LeafItem[] = [];
    let bytes = PAGE_HEADER_BYTES;
    let tree: TreeBuilder | undefined;
    let count = 0;
    const take = async (key: Uint8Array, value: PageValue): Promise<void> => {
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
    let value: PageValue;
    if (tree) {
      const v = Buffer.alloc(BUCKET_HEADER_BYTES);
      v.writeBigUInt64LE(BigInt(await tree.finish()), 0);
      value = v;
    } else {
      for (let i = 1; i < head.length; i++) {
        if (compareKeys(head[i - 1]!.key, head[i]!.key) >= 0) throw new BoltFormatError('bbolt writer: keys must be strictly ascending');
      }
      // root 0 = inline; the page image follows the bucket header. Sizing: its length only.
      const n = BUCKET_HEADER_BYTES + bytes;
      if (this.sink) {
        const v = Buffer.alloc(n);
        encodeLeafPage(v.subarray(BUCKET_HEADER_BYTES), 0, head, 0);
        value = v;
      } else value = sizeOnly(n);
    }
    await this.root.add({ key: name, value, flags: BUCKET_LEAF_FLAG });
  }

  /** Writes the root bucket, the freelist and the metas (unless streamed first); returns the layout. */
  async finish(): Promise<BoltLayout> {
    if (this.finished) throw new BoltFormatError('bbolt writer: finished twice');
    this.finished = true;
    const rootPgid = await this.root.finish();
    const out: BoltLayout = { pgid: this.next, rootPgid, sizeBytes: this.next * this.pageSize };
    if (!this.sink) return out;
    if (this.layout) {
      if (this.layout.pgid !== out.pgid || this.layout.rootPgid !== out.rootPgid) {
        throw new BoltFormatError(`bbolt writer: the rows changed between sizing and writing (pages ${out.pgid} vs ${this.layout.pgid}, root ${out.rootPgid} vs ${this.layout.rootPgid})`);
      }
      return out;
    }
    await this.sink.write(2 * this.pageSize, this.freelistPage());
    await this.sink.write(0, this.metaPages(out));
    return out;
  }

  /** Streaming: the metas and the freelist, before page 3. */
  private async writeHead(layout: BoltLayout): Promise<void> {
    this.headWritten = true;
    const ps = this.pageSize;
    const n = FIRST_DATA_PAGE * ps;
    const out = this.sink!.alloc ? this.sink!.alloc(n) : Buffer.allocUnsafe(n);
    this.metaPages(layout).copy(out, 0);
    this.freelistPage().copy(out, 2 * ps);
    await this.sink!.write(0, out);
  }

  private freelistPage(): Buffer {
    const freelist = Buffer.alloc(this.pageSize);
    freelist.writeBigUInt64LE(2n, 0);
    freelist.writeUInt16LE(FREELIST_PAGE, 8);
    return freelist;
  }

  private metaPages(layout: BoltLayout): Buffer {
    const metas = Buffer.alloc(2 * this.pageSize);
    for (const txid of [0n, 1n]) {
      writeMetaPage(metas.subarray(Number(txid) * this.pageSize, (Number(txid) + 1) * this.pageSize), {
        pageSize: this.pageSize,
        flags: 0,
        rootPgid: layout.rootPgid,
        rootSequence: 0n,
        freelistPgid: 2n,
        pgid: layout.pgid,
        txid,
      });
    }
    return metas;
  }
}

/** A value known by its length only (a sizing pass). */
export function sizeOnly(byteLength: number): LazyValue {
  return {
    byteLength,
    writeInto() {
      throw new BoltFormatError('bbolt writer: a sizing value was asked for its bytes');
    },
  };
}
