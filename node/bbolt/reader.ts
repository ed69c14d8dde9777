// Reads a bbolt database (an etcd backend file or an etcd snapshot) page by page: the newer
// valid meta page, the root bucket's B+tree, and each top-level bucket's rows in key order
// (inline buckets included). Pages are fetched through a positioned-read source, so a big file
// need not be held in memory. Read-only; the freelist is not needed for reading.
// Layout facts: format.ts.

import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import {
  BRANCH_PAGE,
  BUCKET_HEADER_BYTES,
  BUCKET_LEAF_FLAG,
  BoltFormatError,
  DEFAULT_PAGE_SIZE,
  ELEMENT_BYTES,
  LEAF_PAGE,
  PAGE_HEADER_BYTES,
  readMetaPage,
  type Meta,
} from './format.js';

/** Positioned reads of the database file. */
export interface PageSource {
  readonly sizeBytes: number;
  read(position: number, length: number): Buffer;
  close?(): void;
}

export function bufferSource(b: Buffer): PageSource {
  return {
    sizeBytes: b.byteLength,
    read: (pos, len) => {
      if (pos + len > b.byteLength) throw new BoltFormatError(`bbolt: read past the end (${pos}+${len} > ${b.byteLength})`);
      return b.subarray(pos, pos + len);
    },
  };
}

/** A file source; `sizeBytes` may be cut short (e.g. to drop a snapshot's trailing sha256). */
export function fileSource(path: string, sizeBytes?: number): PageSource {
  const fd = openSync(path, 'r');
  const size = sizeBytes ?? fstatSync(fd).size;
  return {
    sizeBytes: size,
    read: (pos, len) => {
      if (pos + len > size) throw new BoltFormatError(`bbolt: read past the end (${pos}+${len} > ${size})`);
      const out = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const n = readSync(fd, out, got, len - got, pos + got);
        if (n === 0) throw new BoltFormatError('bbolt: short read');
        got += n;
      }
      return out;
    },
    close: () => closeSync(fd),
  };
}

export type Row = readonly [key: Buffer, value: Buffer];

interface Element {
  readonly flags: number;
  readonly key: Buffer;
  readonly value: Buffer;
}

export class BoltReader {
  private constructor(
    private readonly src: PageSource,
    readonly meta: Meta,
  ) {}

  static open(src: PageSource): BoltReader {
    const metas: Meta[] = [];
    const m0 = src.sizeBytes >= PAGE_HEADER_BYTES + 64 ? readMetaPage(src.read(0, PAGE_HEADER_BYTES + 64)) : undefined;
    if (m0) metas.push(m0);
    const ps = m0?.pageSize ?? DEFAULT_PAGE_SIZE;
    const m1 = src.sizeBytes >= ps + PAGE_HEADER_BYTES + 64 ? readMetaPage(src.read(ps, PAGE_HEADER_BYTES + 64)) : undefined;
    if (m1) metas.push(m1);
    if (metas.length === 0) throw new BoltFormatError('bbolt: no valid meta page (not a bbolt database, or corrupt)');
    metas.sort((a, b) => (a.txid < b.txid ? 1 : a.txid > b.txid ? -1 : 0));
    const meta = metas[0]!;
    if (meta.pgid * meta.pageSize > src.sizeBytes) throw new BoltFormatError(`bbolt: file of ${src.sizeBytes} bytes is shorter than its ${meta.pgid} pages`);
    return new BoltReader(src, meta);
  }

  close(): void {
    this.src.close?.();
  }

  private page(pgid: number): Buffer {
    const ps = this.meta.pageSize;
    if (pgid < 2 || pgid >= this.meta.pgid) throw new BoltFormatError(`bbolt: page ${pgid} out of range`);
    const head = this.src.read(pgid * ps, PAGE_HEADER_BYTES);
    const overflow = head.readUInt32LE(12);
    return this.src.read(pgid * ps, (overflow + 1) * ps);
  }

  private *elements(p: Buffer): Generator<Element> {
    const flags = p.readUInt16LE(8);
    const count = p.readUInt16LE(10);
    for (let i = 0; i < count; i++) {
      const e = PAGE_HEADER_BYTES + ELEMENT_BYTES * i;
      if (flags === LEAF_PAGE) {
        const pos = e + p.readUInt32LE(e + 4);
        const ks = p.readUInt32LE(e + 8);
        const vs = p.readUInt32LE(e + 12);
        yield { flags: p.readUInt32LE(e), key: p.subarray(pos, pos + ks), value: p.subarray(pos + ks, pos + ks + vs) };
      } else if (flags === BRANCH_PAGE) {
        yield* this.elements(this.page(Number(p.readBigUInt64LE(e + 8))));
      } else {
        throw new BoltFormatError(`bbolt: unexpected page flags ${flags}`);
      }
    }
  }

  /** The leaf elements of a bucket given its bucket value (header, maybe an inline page). */
  private *bucketElements(bucketValue: Buffer): Generator<Element> {
    const root = Number(bucketValue.readBigUInt64LE(0));
    if (root === 0) yield* this.elements(bucketValue.subarray(BUCKET_HEADER_BYTES));
    else yield* this.elements(this.page(root));
  }

  /** Names of the top-level buckets, in order. */
  bucketNames(): string[] {
    const out: string[] = [];
    for (const e of this.elements(this.page(this.meta.rootPgid))) if (e.flags & BUCKET_LEAF_FLAG) out.push(e.key.toString('latin1'));
    return out;
  }

  private bucketValue(name: string): Buffer | undefined {
    for (const e of this.elements(this.page(this.meta.rootPgid))) {
      if (e.flags & BUCKET_LEAF_FLAG && e.key.toString('latin1') === name) return e.value;
    }
    return undefined;
  }

  hasBucket(name: string): boolean {
    return this.bucketValue(name) !== undefined;
  }

  /** The rows (not nested buckets) of a top-level bucket, in key order; none if it is missing. */
  *rows(name: string): Generator<Row> {
    const v = this.bucketValue(name);
    if (v === undefined) return;
    for (const e of this.bucketElements(v)) if (!(e.flags & BUCKET_LEAF_FLAG)) yield [e.key, e.value];
  }

  get(bucket: string, key: string | Uint8Array): Buffer | undefined {
    const k = typeof key === 'string' ? Buffer.from(key, 'latin1') : Buffer.from(key);
    for (const [rk, rv] of this.rows(bucket)) if (rk.equals(k)) return rv;
    return undefined;
  }
}
