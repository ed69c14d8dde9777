// bbolt's on-disk layout (go.etcd.io/bbolt, internal/common: page.go, meta.go, bucket.go), the
// part a writer and a reader of a whole database need. Little-endian, as bbolt writes it on
// every platform etcd runs on.
//   page header (16 bytes): id u64, flags u16, count u16, overflow u32 (extra pages it spans)
//   meta (64 bytes after the header): magic u32, version u32, pageSize u32, flags u32,
//     root bucket {root pgid u64, sequence u64}, freelist pgid u64, high-water pgid u64,
//     txid u64, checksum u64 = FNV-1a 64 of the 56 bytes before it. Meta page id = txid % 2.
//   leaf element (16): flags u32 (1 = bucket), pos u32, ksize u32, vsize u32
//   branch element (16): pos u32, ksize u32, pgid u64
//   pos counts from the element itself; keys and values follow the element array, packed.
//   A bucket value is {root pgid u64, sequence u64}; root 0 means inline: a leaf page image
//   (header + elements + data) follows, allowed while that image is at most pageSize / 4.
//   Freelist page: count = number of free ids (0xFFFF: the first u64 holds the count), then ids.

export const MAGIC = 0xed0cdaed;
export const VERSION = 2;
export const DEFAULT_PAGE_SIZE = 4096;
export const PAGE_HEADER_BYTES = 16;
export const ELEMENT_BYTES = 16;
export const BUCKET_HEADER_BYTES = 16;
export const META_BYTES = 64;

export const BRANCH_PAGE = 0x01;
export const LEAF_PAGE = 0x02;
export const META_PAGE = 0x04;
export const FREELIST_PAGE = 0x10;
export const BUCKET_LEAF_FLAG = 0x01;
export const PGID_NO_FREELIST = 0xffffffffffffffffn;

export class BoltFormatError extends Error {
  readonly code = 'ErrBoltFormat';
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

export function fnv1a64(b: Uint8Array): bigint {
  let h = FNV_OFFSET;
  for (const x of b) h = ((h ^ BigInt(x)) * FNV_PRIME) & MASK64;
  return h;
}

export interface Meta {
  readonly pageSize: number;
  readonly flags: number;
  readonly rootPgid: number;
  readonly rootSequence: bigint;
  readonly freelistPgid: bigint;
  /** The high-water mark: pages [0, pgid) are in use or free. */
  readonly pgid: number;
  readonly txid: bigint;
}

/** Writes a meta page (header + meta with its checksum) into `page` at offset 0. */
export function writeMetaPage(page: Buffer, m: Meta): void {
  page.writeBigUInt64LE(m.txid % 2n, 0);
  page.writeUInt16LE(META_PAGE, 8);
  page.writeUInt16LE(0, 10);
  page.writeUInt32LE(0, 12);
  const o = PAGE_HEADER_BYTES;
  page.writeUInt32LE(MAGIC, o);
  page.writeUInt32LE(VERSION, o + 4);
  page.writeUInt32LE(m.pageSize, o + 8);
  page.writeUInt32LE(m.flags, o + 12);
  page.writeBigUInt64LE(BigInt(m.rootPgid), o + 16);
  page.writeBigUInt64LE(m.rootSequence, o + 24);
  page.writeBigUInt64LE(m.freelistPgid, o + 32);
  page.writeBigUInt64LE(BigInt(m.pgid), o + 40);
  page.writeBigUInt64LE(m.txid, o + 48);
  page.writeBigUInt64LE(fnv1a64(page.subarray(o, o + 56)), o + 56);
}

/** Reads and validates a meta page; undefined when its magic, version or checksum is wrong. */
export function readMetaPage(page: Buffer): Meta | undefined {
  const o = PAGE_HEADER_BYTES;
  if (page.byteLength < o + META_BYTES) return undefined;
  if (page.readUInt16LE(8) !== META_PAGE) return undefined;
  if (page.readUInt32LE(o) !== MAGIC || page.readUInt32LE(o + 4) !== VERSION) return undefined;
  if (page.readBigUInt64LE(o + 56) !== fnv1a64(page.subarray(o, o + 56))) return undefined;
  return {
    pageSize: page.readUInt32LE(o + 8),
    flags: page.readUInt32LE(o + 12),
    rootPgid: Number(page.readBigUInt64LE(o + 16)),
    rootSequence: page.readBigUInt64LE(o + 24),
    freelistPgid: page.readBigUInt64LE(o + 32),
    pgid: Number(page.readBigUInt64LE(o + 40)),
    txid: page.readBigUInt64LE(o + 48),
  };
}

/** Writes a page header into out at 0. */
function pageHeader(out: Buffer, id: number, flags: number, count: number, overflow: number): void {
  out.writeBigUInt64LE(BigInt(id), 0);
  out.writeUInt16LE(flags, 8);
  out.writeUInt16LE(count, 10);
  out.writeUInt32LE(overflow, 12);
}

/**
 * A value the writer places in its page itself when it encodes the page (e.g. read from a file
 * straight into the page): only its length is needed before, to lay out the pages.
 */
export interface LazyValue {
  readonly byteLength: number;
  /** Writes exactly byteLength bytes into out at `at`. */
  writeInto(out: Buffer, at: number): void;
}

export type PageValue = Uint8Array | LazyValue;

export interface LeafItem {
  readonly key: Uint8Array;
  readonly value: PageValue;
  /** BUCKET_LEAF_FLAG for a sub-bucket. */
  readonly flags: number;
}

export function leafItemBytes(it: LeafItem): number {
  return ELEMENT_BYTES + it.key.byteLength + it.value.byteLength;
}

/**
 * A leaf page image holding `items`, page id `id`, written into `out` (its length is the image's:
 * header + elements + data, zeroed after the data). `out` may be uninitialized memory.
 */
export function encodeLeafPage(out: Buffer, id: number, items: readonly LeafItem[], overflow: number): Buffer {
  pageHeader(out, id, LEAF_PAGE, items.length, overflow);
  let data = PAGE_HEADER_BYTES + ELEMENT_BYTES * items.length;
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    const e = PAGE_HEADER_BYTES + ELEMENT_BYTES * i;
    out.writeUInt32LE(it.flags, e);
    out.writeUInt32LE(data - e, e + 4);
    out.writeUInt32LE(it.key.byteLength, e + 8);
    out.writeUInt32LE(it.value.byteLength, e + 12);
    out.set(it.key, data);
    data += it.key.byteLength;
    const v = it.value;
    if (v instanceof Uint8Array) out.set(v, data);
    else v.writeInto(out, data);
    data += v.byteLength;
  }
  out.fill(0, data);
  return out;
}

export interface BranchItem {
  readonly key: Uint8Array;
  readonly pgid: number;
}

/** A branch page image, as encodeLeafPage. */
export function encodeBranchPage(out: Buffer, id: number, items: readonly BranchItem[], overflow: number): Buffer {
  pageHeader(out, id, BRANCH_PAGE, items.length, overflow);
  let data = PAGE_HEADER_BYTES + ELEMENT_BYTES * items.length;
  items.forEach((it, i) => {
    const e = PAGE_HEADER_BYTES + ELEMENT_BYTES * i;
    out.writeUInt32LE(data - e, e);
    out.writeUInt32LE(it.key.byteLength, e + 4);
    out.writeBigUInt64LE(BigInt(it.pgid), e + 8);
    out.set(it.key, data);
    data += it.key.byteLength;
  });
  out.fill(0, data);
  return out;
}

export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}
