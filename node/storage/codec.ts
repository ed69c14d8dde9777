// A compact binary codec for Raft entries, hard states and snapshot metadata, used by the WAL
// records and the snapshot files (and reusable by the peer transport).
// Integers are unsigned LEB128 varints: terms and indexes as JS numbers (below 2^53), node ids as
// uint64 bigints (up to 10 bytes). An id below 2^53 has the bytes it had when ids were numbers, so
// WALs and snapshots written by the old code read back unchanged. Byte strings are a varint length
// followed by the bytes.
//
//   entry      = varint term, varint index, u8 type (0 normal, 1 confChange), bytes data
//   hardState  = varint term, varint vote, varint commit
//   confState  = varint nVoters, varint voter*, varint nLearners, varint learner*
//   snapMeta   = varint index, varint term, confState
//
// Decoding throws CodecError on truncated or malformed input; it never reads past its slice.

import type { ConfState, Entry, EntryType, HardState, SnapshotMetadata } from '../raft/types.js';
import { newEntry } from '../raft/entry.js';

export class CodecError extends Error {
  readonly code = 'ErrCodec';
  constructor(msg: string) {
    super(`storage codec: ${msg}`);
  }
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_SAFE_BIG = BigInt(MAX_SAFE);
const MAX_U64 = 2n ** 64n - 1n;

/** A growable byte writer. */
export class ByteWriter {
  private buf: Uint8Array;
  private pos = 0;

  /**
   * `alloc` gives every buffer the writer fills. Only the written bytes are ever read (view()),
   * so an uninitialized one serves: frame.ts gives WAL records Buffer.allocUnsafe, a slice of
   * Node's shared pool below 4 KiB, instead of a zero-filled allocation of their own (a malloc
   * and a free per record). Not for bytes that are kept: a pool slice holds its whole 8 KiB
   * slab, and Buffer#slice is a view, not a copy.
   */
  constructor(
    initialBytes = 256,
    private readonly alloc: (n: number) => Uint8Array = (n) => new Uint8Array(n),
  ) {
    this.buf = alloc(Math.max(16, initialBytes));
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = this.alloc(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  get length(): number {
    return this.pos;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
  }

  varint(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > MAX_SAFE) throw new CodecError(`varint out of range: ${v}`);
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  /** A uint64 node id. */
  id(v: bigint): void {
    if (typeof v !== 'bigint' || v < 0n || v > MAX_U64) throw new CodecError(`node id out of range: ${String(v)}`);
    if (v <= MAX_SAFE_BIG) return this.varint(Number(v));
    this.ensure(10);
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Bytes as they are (no length before them). */
  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** The written bytes (a view, valid until the next write). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** A bounds-checked reader over a slice. */
export class ByteReader {
  pos: number;
  constructor(
    private readonly buf: Uint8Array,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(): number {
    if (this.pos >= this.end) throw new CodecError('truncated u8');
    return this.buf[this.pos++]!;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw new CodecError('truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (result > MAX_SAFE) throw new CodecError('varint exceeds 2^53');
        return result;
      }
      mul *= 0x80;
    }
    throw new CodecError('varint too long');
  }

  /** A uint64 node id (see ByteWriter.id). */
  id(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new CodecError('truncated node id');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        if (result > MAX_U64) throw new CodecError('node id exceeds 2^64');
        return result;
      }
      shift += 7n;
    }
    throw new CodecError('node id too long');
  }

  /** A view of the next length-prefixed byte string (no copy). */
  bytes(): Uint8Array {
    const n = this.varint();
    if (n > this.end - this.pos) throw new CodecError(`byte string of ${n} overruns the buffer`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

function entryTypeCode(t: EntryType): number {
  switch (t) {
    case 'normal':
      return 0;
    case 'confChange':
      return 1;
    default: {
      const never: never = t;
      throw new CodecError(`unknown entry type ${String(never)}`);
    }
  }
}

function entryTypeOf(code: number): EntryType {
  if (code === 0) return 'normal';
  if (code === 1) return 'confChange';
  throw new CodecError(`unknown entry type code ${code}`);
}

export function writeEntry(w: ByteWriter, e: Entry): void {
  w.varint(e.term);
  w.varint(e.index);
  w.u8(entryTypeCode(e.type));
  w.bytes(e.data);
}

/** An entry's bytes up to its data (the data's length included): writeEntry without the data. */
export function writeEntryHead(w: ByteWriter, e: Entry): void {
  w.varint(e.term);
  w.varint(e.index);
  w.u8(entryTypeCode(e.type));
  w.varint(e.data.length);
}

/** Reads one entry. With copy=false the data is a view into the reader's buffer. */
export function readEntry(r: ByteReader, copy = true): Entry {
  const term = r.varint();
  const index = r.varint();
  const type = entryTypeOf(r.u8());
  const view = r.bytes();
  // new Uint8Array(view) copies into a plain Uint8Array (Buffer#slice would share the memory).
  return newEntry(term, index, type, copy ? new Uint8Array(view) : view);
}

export function encodeEntry(e: Entry): Uint8Array {
  const w = new ByteWriter(16 + e.data.length);
  writeEntry(w, e);
  return w.view().slice();
}

export function decodeEntry(buf: Uint8Array): Entry {
  const r = new ByteReader(buf);
  const e = readEntry(r);
  if (r.remaining !== 0) throw new CodecError(`${r.remaining} trailing bytes after entry`);
  return e;
}

/** A batch: varint count, then the entries. */
export function writeEntries(w: ByteWriter, entries: readonly Entry[]): void {
  w.varint(entries.length);
  for (const e of entries) writeEntry(w, e);
}

export function readEntries(r: ByteReader, copy = true): Entry[] {
  const n = r.varint();
  if (n > r.remaining) throw new CodecError(`entry count ${n} exceeds the bytes left`);
  const out: Entry[] = [];
  for (let i = 0; i < n; i++) out.push(readEntry(r, copy));
  return out;
}

export function encodeEntries(entries: readonly Entry[]): Uint8Array {
  const w = new ByteWriter(64);
  writeEntries(w, entries);
  return w.view().slice();
}

export function decodeEntries(buf: Uint8Array): Entry[] {
  const r = new ByteReader(buf);
  const out = readEntries(r);
  if (r.remaining !== 0) throw new CodecError(`${r.remaining} trailing bytes after entries`);
  return out;
}

export function writeHardState(w: ByteWriter, hs: HardState): void {
  w.varint(hs.term);
  w.id(hs.vote);
  w.varint(hs.commit);
}

export function readHardState(r: ByteReader): HardState {
  const term = r.varint();
  const vote = r.id();
  const commit = r.varint();
  return { term, vote, commit };
}

export function encodeHardState(hs: HardState): Uint8Array {
  const w = new ByteWriter(32);
  writeHardState(w, hs);
  return w.view().slice();
}

export function decodeHardState(buf: Uint8Array): HardState {
  const r = new ByteReader(buf);
  const hs = readHardState(r);
  if (r.remaining !== 0) throw new CodecError(`${r.remaining} trailing bytes after hard state`);
  return hs;
}

export function writeConfState(w: ByteWriter, cs: ConfState): void {
  w.varint(cs.voters.length);
  for (const v of cs.voters) w.id(v);
  w.varint(cs.learners.length);
  for (const l of cs.learners) w.id(l);
}

export function readConfState(r: ByteReader): ConfState {
  const nv = r.varint();
  if (nv > r.remaining) throw new CodecError('voter count overruns the buffer');
  const voters: bigint[] = [];
  for (let i = 0; i < nv; i++) voters.push(r.id());
  const nl = r.varint();
  if (nl > r.remaining) throw new CodecError('learner count overruns the buffer');
  const learners: bigint[] = [];
  for (let i = 0; i < nl; i++) learners.push(r.id());
  return { voters, learners };
}

export function writeSnapshotMetadata(w: ByteWriter, m: SnapshotMetadata): void {
  w.varint(m.index);
  w.varint(m.term);
  writeConfState(w, m.confState);
}

export function readSnapshotMetadata(r: ByteReader): SnapshotMetadata {
  const index = r.varint();
  const term = r.varint();
  const confState = readConfState(r);
  return { index, term, confState };
}

export function encodeSnapshotMetadata(m: SnapshotMetadata): Uint8Array {
  const w = new ByteWriter(64);
  writeSnapshotMetadata(w, m);
  return w.view().slice();
}

export function decodeSnapshotMetadata(buf: Uint8Array): SnapshotMetadata {
  const r = new ByteReader(buf);
  const m = readSnapshotMetadata(r);
  if (r.remaining !== 0) throw new CodecError(`${r.remaining} trailing bytes after snapshot metadata`);
  return m;
}
