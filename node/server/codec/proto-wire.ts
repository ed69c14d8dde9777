// Protobuf wire primitives for the hand-written codecs of the hot RPCs (kv-codec.ts,
// txn-codec.ts, watch-codec.ts, lease-codec.ts). They reproduce what @grpc/proto-loader (protobufjs) does with LOADER_OPTIONS, so
// a message coded here and one coded there are the same bytes and the same objects; the codecs'
// tests prove it against proto-loader on seeded random messages.
//
// Decoding reads only what a well-formed message of the expected shape holds. Anything else (an
// unknown field, an unexpected wire type, a varint past 10 bytes, a length past the end) makes
// the reader give up (`ok = false`), and the caller hands the bytes to proto-loader, which then
// answers as it always did: one behaviour for odd input, and no second parser to keep in step.
// The same goes for a message nested deeper than MAX_NESTING (protobufjs's own limit is 100).

import { uvarintSize } from '../../lib/varint-size.js';

const TWO_32 = 4294967296;

export const WIRE_VARINT = 0;
export const WIRE_LEN = 2;

/** Sub-messages nested deeper than this are left to proto-loader (a Txn nests 2 per level). */
export const MAX_NESTING = 64;

export class WireReader {
  pos = 0;
  ok = true;
  /** The low and high 32 bits of the last varint64 read. */
  lo = 0;
  hi = 0;
  /** Bytes of the last varint read. */
  size = 0;
  /** Where the message being read ends: the input's end, or a sub-message's (see message()). */
  end: number;
  /** Sub-messages open around the reader's position. */
  private depth = 0;

  constructor(readonly buf: Buffer) {
    this.end = buf.length;
  }

  /** A varint of up to 10 bytes into lo/hi; false (and ok = false) if it is malformed. */
  varint(): boolean {
    const b = this.buf;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    let i = this.pos;
    for (let n = 0; n < 10; n++) {
      if (i >= this.end) return (this.ok = false);
      const x = b[i++]!;
      if (shift < 28) lo |= (x & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (x & 0x0f) << 28;
        hi |= (x & 0x7f) >> 4;
      } else hi |= (x & 0x7f) << (shift - 32);
      shift += 7;
      if (x < 0x80) {
        this.size = i - this.pos;
        this.pos = i;
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        return true;
      }
    }
    return (this.ok = false);
  }

  /**
   * A varint that protobufjs reads with uint32() (tags, lengths, int32, enums, bools): that
   * reads 5 bytes, then skips 5 more whatever they hold, so only a varint of at most 5 bytes (or
   * exactly 10) means to it what it means here; any other length is left to proto-loader.
   */
  varint32(): boolean {
    if (!this.varint()) return false;
    if (this.size > 5 && this.size !== 10) return (this.ok = false);
    return true;
  }

  /** A tag: the field number times 8 plus the wire type, or -1 when malformed. */
  tag(): number {
    if (!this.varint32() || this.hi !== 0) return -1;
    return this.lo;
  }

  /** int64 as protobufjs's LongBits.toNumber(false) gives it (the sign from bit 63). */
  int64(): number {
    let lo = this.lo;
    let hi = this.hi;
    if (hi >>> 31) {
      lo = (~lo + 1) >>> 0;
      hi = ~hi >>> 0;
      if (!lo) hi = (hi + 1) >>> 0;
      return -(lo + hi * TWO_32);
    }
    return lo + hi * TWO_32;
  }

  /** int64 exactly, as a bigint (ids: lease ids use all 64 bits). */
  int64Big(): bigint {
    if (this.hi === 0 && this.lo <= 0x7fffffff) return BigInt(this.lo);
    return BigInt.asIntN(64, (BigInt(this.hi) << 32n) | BigInt(this.lo));
  }

  /** uint64 as LongBits.toNumber(true). */
  uint64(): number {
    return this.lo + this.hi * TWO_32;
  }

  /** int32 and enums: protobufjs's uint32() | 0, the low 32 bits. */
  int32(): number {
    return this.lo | 0;
  }

  /** bool: protobufjs's uint32() !== 0, the low 32 bits. */
  bool(): boolean {
    return this.lo !== 0;
  }

  /** A length-delimited field's bytes, a view into the input (protobufjs's BufferReader slices too). */
  bytes(): Buffer | undefined {
    const stop = this.fieldEnd();
    if (stop < 0) return undefined;
    const start = this.pos;
    this.pos = stop;
    return start === stop ? Buffer.alloc(0) : this.buf.subarray(start, stop);
  }

  /**
   * A sub-message: `decode` reads the length-delimited field that starts here, and must read it
   * to its end. undefined (and ok = false) when the length is malformed or runs past the end,
   * when `decode` gives up, or past MAX_NESTING.
   */
  message<T>(decode: (r: WireReader) => T | undefined): T | undefined {
    const stop = this.fieldEnd();
    if (stop < 0 || this.depth >= MAX_NESTING) return this.fail();
    const outer = this.end;
    this.end = stop;
    this.depth++;
    const v = decode(this);
    this.depth--;
    this.end = outer;
    return v !== undefined && this.pos === stop ? v : this.fail();
  }

  /** The end of the length-delimited field whose length varint starts here; -1 if it is malformed. */
  private fieldEnd(): number {
    if (!this.varint32() || this.hi !== 0 || this.pos + this.lo > this.end) {
      this.ok = false;
      return -1;
    }
    return this.pos + this.lo;
  }

  private fail(): undefined {
    this.ok = false;
    return undefined;
  }
}

/**
 * Bytes of an int64/uint64 field's varint for a safe integer: negative numbers take 10 bytes
 * (two's complement over 64 bits), as protobufjs writes them.
 */
export function int64Size(n: number): number {
  return n < 0 ? 10 : uvarintSize(n);
}

/** Bytes of a 64-bit id's varint (int64 or uint64; a negative int64 takes 10). */
export function int64BigSize(n: bigint): number {
  return idVarint(n).length;
}

/**
 * A 64-bit id's varint bytes, from a small memo: every response header carries the same
 * cluster and member ids, and BigInt arithmetic per call showed in the profile (~2% of a
 * member's busy time under reads).
 */
function idVarint(n: bigint): Uint8Array {
  for (let i = 0; i < ID_MEMO; i++) if (memoIds[i] === n) return memoBytes[i]!;
  let x = BigInt.asUintN(64, n);
  const out: number[] = [];
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  const bytes = Uint8Array.from(out);
  memoIds[memoNext] = n;
  memoBytes[memoNext] = bytes;
  memoNext = (memoNext + 1) % ID_MEMO;
  return bytes;
}

const ID_MEMO = 8;
const memoIds: (bigint | undefined)[] = new Array<bigint | undefined>(ID_MEMO).fill(undefined);
const memoBytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(ID_MEMO).fill(undefined);
let memoNext = 0;

/** A safe integer, as every int64 this codec writes must be (anything else goes to proto-loader). */
export function isInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n);
}

export class WireWriter {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  byte(x: number): void {
    this.buf[this.pos++] = x;
  }

  /** A non-negative integer below 2^53 as a varint. */
  uvarint(n: number): void {
    const b = this.buf;
    let p = this.pos;
    while (n >= 0x80000000) {
      b[p++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    while (n >= 0x80) {
      b[p++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    b[p++] = n;
    this.pos = p;
  }

  /** A safe integer as an int64 varint (negative: 10 bytes of two's complement). */
  int64(n: number): void {
    if (n >= 0) return this.uvarint(n);
    const hiSigned = Math.floor(n / TWO_32);
    let lo = (n - hiSigned * TWO_32) >>> 0;
    let hi = hiSigned >>> 0;
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < 9; i++) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo = (lo >>> 7) | ((hi & 0x7f) << 25);
      hi >>>= 7;
    }
    b[p++] = lo & 0x01;
    this.pos = p;
  }

  /** A 64-bit id (int64 or uint64) as its varint: the low 64 bits of two's complement. */
  int64Big(n: bigint): void {
    const v = idVarint(n);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  bytes(v: Uint8Array): void {
    this.uvarint(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  /** A string as UTF-8 with its length; only well-formed ones (see watch-codec.ts's stringField). */
  string(v: string): void {
    this.uvarint(Buffer.byteLength(v));
    this.pos += this.buf.write(v, this.pos);
  }
}
