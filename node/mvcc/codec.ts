// A compact binary codec for Command (the Raft entry payload of every write).
// Layout: [version=1][tag] then fields in a fixed order. Integers are zigzag varints
// (exact for any integral JS number up to 2^53 and beyond as long as it is an integer);
// ids (lease ids, alarm member ids) are bigints written in the same zigzag form, so entries
// written when they were numbers read back unchanged;
// byte strings are a varint length and the bytes. Decoded byte fields are views into the
// input (no copy); the store copies what it keeps.
import { allocEntry } from '../lib/entry-arena.js';
import { uvarintSize } from '../lib/varint-size.js';
import type {
  Command,
  Compare,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from './types.js';
import { CompareTarget } from './types.js';
import { EMPTY } from './bytes.js';
import { assertNever } from './errors.js';

const CODEC_VERSION = 1;

/** Ids within ±2^52 zigzag below 2^53, so the number path writes them exactly. */
const MAX_SAFE_HALF = 2n ** 52n;

const TAG = {
  put: 1,
  deleteRange: 2,
  txn: 3,
  compaction: 4,
  leaseGrant: 5,
  leaseRevoke: 6,
  leaseCheckpoint: 7,
  alarm: 8,
} as const;

const OP_RANGE = 1;
const OP_PUT = 2;
const OP_DELETE = 3;
const OP_TXN = 4;

/** Bytes ByteWriter.varint(v) writes. */
export function varintSize(v: number): number {
  return uvarintSize(v >= 0 ? v * 2 : -v * 2 - 1);
}

/** Bytes ByteWriter.varintBig(v) writes. */
export function varintBigSize(v: bigint): number {
  if (v === 0n) return 1; // no lease: most revisions, and cheaper than the range check
  if (v >= -MAX_SAFE_HALF && v <= MAX_SAFE_HALF) return varintSize(Number(v));
  let z = v >= 0n ? v * 2n : -v * 2n - 1n;
  let n = 1;
  while (z >= 0x80n) {
    z >>= 7n;
    n++;
  }
  return n;
}

/** Up to this many bytes a JS loop copies faster than a call into native code. */
const SHORT_COPY_BYTES = 64;

/** Growable byte writer. */
export class ByteWriter {
  private buf: Buffer;
  private pos = 0;
  /** `alloc` gives the first buffer (a proposal's comes from the raft entry arena); growth uses Buffer.allocUnsafe. */
  constructor(initialBytes = 64, alloc: (n: number) => Buffer = Buffer.allocUnsafe) {
    this.buf = alloc(initialBytes);
  }
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  get length(): number {
    return this.pos;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  /** Unsigned varint of a non-negative integer. */
  uvarint(v: number): void {
    this.ensure(10);
    if (v < 0x80000000) {
      while (v >= 0x80) {
        this.buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buf[this.pos++] = v;
      return;
    }
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }
  /** Signed (zigzag) varint. */
  varint(v: number): void {
    this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }
  /** A bigint (an int64 or uint64 id) as a zigzag varint: the same bytes varint() writes for a safe integer. */
  varintBig(v: bigint): void {
    if (v === 0n) {
      // No lease: most revisions. One byte, without the range checks' BigInt compares.
      this.ensure(1);
      this.buf[this.pos++] = 0;
      return;
    }
    if (v >= -MAX_SAFE_HALF && v <= MAX_SAFE_HALF) {
      this.varint(Number(v));
      return;
    }
    let z = v >= 0n ? v * 2n : -v * 2n - 1n;
    this.ensure(11);
    while (z >= 0x80n) {
      this.buf[this.pos++] = Number(z & 0x7fn) | 0x80;
      z >>= 7n;
    }
    this.buf[this.pos++] = Number(z);
  }
  bytes(b: Uint8Array | undefined): void {
    const n = b === undefined ? 0 : b.length;
    this.uvarint(n);
    if (n === 0) return;
    this.ensure(n);
    this.buf.set(b as Uint8Array, this.pos);
    this.pos += n;
  }
  /** A latin1 string as length-prefixed bytes (one byte per char), like bytes(). */
  latin1(str: string): void {
    const n = str.length;
    this.uvarint(n);
    this.ensure(n);
    if (n > SHORT_COPY_BYTES) {
      this.pos += this.buf.write(str, this.pos, n, 'latin1');
      return;
    }
    // Short keys (most of them): a loop costs less than the call into Buffer.write.
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) buf[pos++] = str.charCodeAt(i) & 0xff;
    this.pos = pos;
  }
  /** Appends what another writer holds (a record body staged there), without a view of it. */
  append(w: ByteWriter): void {
    const n = w.pos;
    this.ensure(n);
    if (n > SHORT_COPY_BYTES) {
      w.buf.copy(this.buf, this.pos, 0, n);
      this.pos += n;
      return;
    }
    const from = w.buf;
    const to = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) to[pos++] = from[i]!;
    this.pos = pos;
  }
  /** Leaves n bytes unwritten (room a caller fills in place, e.g. a header before the command). */
  skip(n: number): void {
    this.ensure(n);
    this.pos += n;
  }
  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** The written bytes (a view; the writer must not be reused afterwards). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
  /** A view of the written bytes, valid until the next write or reset. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
  reset(): void {
    this.pos = 0;
  }
  /** Copy out the written bytes and reset, keeping the buffer. */
  take(): Uint8Array {
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    this.pos = 0;
    return out;
  }
}

/** Byte reader; throws MvccError('snapshotInvalid') style errors through `fail`. */
export class ByteReader {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    private readonly what = 'command',
  ) {}
  private fail(): never {
    throw new Error(`mvcc: truncated or malformed ${this.what}`);
  }
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  u8(): number {
    if (this.pos >= this.buf.length) this.fail();
    return this.buf[this.pos++]!;
  }
  uvarint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) this.fail();
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 0x80;
    }
    return this.fail();
  }
  varint(): number {
    const z = this.uvarint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }
  /** A zigzag varint as a bigint, exact for any int64 or uint64 (up to 11 bytes: a uint64 zigzags to 65 bits). */
  varintBig(): bigint {
    // Zero (no lease: nearly every put) returns the literal, one shared BigInt; computed, each
    // would be a fresh 16-byte BigInt kept by its revision for as long as the revision lives.
    if (this.buf[this.pos] === 0) {
      this.pos++;
      return 0n;
    }
    let z = 0n;
    let shift = 0n;
    for (let i = 0; i < 11; i++) {
      if (this.pos >= this.buf.length) this.fail();
      const b = this.buf[this.pos++]!;
      z |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return (z & 1n) === 0n ? z >> 1n : -((z + 1n) >> 1n);
      shift += 7n;
    }
    return this.fail();
  }
  bytes(): Uint8Array {
    const n = this.uvarint();
    if (n === 0) return EMPTY;
    if (this.pos + n > this.buf.length) this.fail();
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

function writeRange(w: ByteWriter, r: RangeRequest): void {
  w.u8((r.keysOnly ? 1 : 0) | (r.countOnly ? 2 : 0) | (r.serializable ? 4 : 0));
  w.bytes(r.key);
  w.bytes(r.rangeEnd);
  w.varint(r.limit ?? 0);
  w.varint(r.revision ?? 0);
  w.varint(r.sortOrder ?? 0);
  w.varint(r.sortTarget ?? 0);
  w.varint(r.minModRevision ?? 0);
  w.varint(r.maxModRevision ?? 0);
  w.varint(r.minCreateRevision ?? 0);
  w.varint(r.maxCreateRevision ?? 0);
}

function readRange(r: ByteReader): RangeRequest {
  const f = r.u8();
  return {
    keysOnly: (f & 1) !== 0,
    countOnly: (f & 2) !== 0,
    serializable: (f & 4) !== 0,
    key: r.bytes(),
    rangeEnd: r.bytes(),
    limit: r.varint(),
    revision: r.varint(),
    sortOrder: r.varint() as RangeRequest['sortOrder'],
    sortTarget: r.varint() as RangeRequest['sortTarget'],
    minModRevision: r.varint(),
    maxModRevision: r.varint(),
    minCreateRevision: r.varint(),
    maxCreateRevision: r.varint(),
  };
}

function writePut(w: ByteWriter, p: PutRequest): void {
  w.u8((p.prevKv ? 1 : 0) | (p.ignoreValue ? 2 : 0) | (p.ignoreLease ? 4 : 0));
  w.bytes(p.key);
  w.bytes(p.value);
  w.varintBig(p.lease ?? 0n);
}

function readPut(r: ByteReader): PutRequest {
  const f = r.u8();
  return {
    prevKv: (f & 1) !== 0,
    ignoreValue: (f & 2) !== 0,
    ignoreLease: (f & 4) !== 0,
    key: r.bytes(),
    value: r.bytes(),
    lease: r.varintBig(),
  };
}

function writeDelete(w: ByteWriter, d: DeleteRangeRequest): void {
  w.u8(d.prevKv ? 1 : 0);
  w.bytes(d.key);
  w.bytes(d.rangeEnd);
}

function readDelete(r: ByteReader): DeleteRangeRequest {
  const f = r.u8();
  return { prevKv: (f & 1) !== 0, key: r.bytes(), rangeEnd: r.bytes() };
}

function writeCompare(w: ByteWriter, c: Compare): void {
  w.u8(c.result);
  w.u8(c.target);
  w.bytes(c.key);
  w.bytes(c.rangeEnd);
  switch (c.target) {
    case CompareTarget.VALUE:
      w.bytes(c.value);
      break;
    case CompareTarget.VERSION:
      w.varint(c.version ?? 0);
      break;
    case CompareTarget.CREATE:
      w.varint(c.createRevision ?? 0);
      break;
    case CompareTarget.MOD:
      w.varint(c.modRevision ?? 0);
      break;
    case CompareTarget.LEASE:
      w.varintBig(c.lease ?? 0n);
      break;
    default:
      assertNever(c.target);
  }
}

function readCompare(r: ByteReader): Compare {
  const result = r.u8() as Compare['result'];
  const target = r.u8() as Compare['target'];
  const key = r.bytes();
  const rangeEnd = r.bytes();
  const c: Compare = { result, target, key, rangeEnd };
  switch (target) {
    case CompareTarget.VALUE:
      c.value = r.bytes();
      break;
    case CompareTarget.VERSION:
      c.version = r.varint();
      break;
    case CompareTarget.CREATE:
      c.createRevision = r.varint();
      break;
    case CompareTarget.MOD:
      c.modRevision = r.varint();
      break;
    case CompareTarget.LEASE:
      c.lease = r.varintBig();
      break;
    default:
      throw new Error(`mvcc: bad compare target ${String(target)}`);
  }
  return c;
}

function writeOps(w: ByteWriter, ops: RequestOp[] | undefined): void {
  const list = ops ?? [];
  w.uvarint(list.length);
  for (const op of list) {
    if ('requestRange' in op) {
      w.u8(OP_RANGE);
      writeRange(w, op.requestRange);
    } else if ('requestPut' in op) {
      w.u8(OP_PUT);
      writePut(w, op.requestPut);
    } else if ('requestDeleteRange' in op) {
      w.u8(OP_DELETE);
      writeDelete(w, op.requestDeleteRange);
    } else if ('requestTxn' in op) {
      w.u8(OP_TXN);
      writeTxn(w, op.requestTxn);
    } else {
      assertNever(op);
    }
  }
}

function readOps(r: ByteReader, depth: number): RequestOp[] {
  const n = r.uvarint();
  const out: RequestOp[] = [];
  for (let i = 0; i < n; i++) {
    const tag = r.u8();
    switch (tag) {
      case OP_RANGE:
        out.push({ requestRange: readRange(r) });
        break;
      case OP_PUT:
        out.push({ requestPut: readPut(r) });
        break;
      case OP_DELETE:
        out.push({ requestDeleteRange: readDelete(r) });
        break;
      case OP_TXN:
        out.push({ requestTxn: readTxn(r, depth + 1) });
        break;
      default:
        throw new Error(`mvcc: bad request op tag ${tag}`);
    }
  }
  return out;
}

function writeTxn(w: ByteWriter, t: TxnRequest): void {
  const cmp = t.compare ?? [];
  w.uvarint(cmp.length);
  for (const c of cmp) writeCompare(w, c);
  writeOps(w, t.success);
  writeOps(w, t.failure);
}

function readTxn(r: ByteReader, depth: number): TxnRequest {
  if (depth > 64) throw new Error('mvcc: txn nested too deeply');
  const n = r.uvarint();
  const compare: Compare[] = [];
  for (let i = 0; i < n; i++) compare.push(readCompare(r));
  const success = readOps(r, depth);
  const failure = readOps(r, depth);
  return { compare, success, failure };
}

/** Encode into the given writer (lets a caller batch or prefix its own envelope). */
export function writeCommand(w: ByteWriter, cmd: Command): void {
  w.u8(CODEC_VERSION);
  w.u8(TAG[cmd.type]);
  switch (cmd.type) {
    case 'put':
      writePut(w, cmd.req);
      break;
    case 'deleteRange':
      writeDelete(w, cmd.req);
      break;
    case 'txn':
      writeTxn(w, cmd.req);
      break;
    case 'compaction':
      w.varint(cmd.req.revision);
      w.u8(cmd.req.physical ? 1 : 0);
      break;
    case 'leaseGrant':
      w.varint(cmd.req.TTL);
      w.varintBig(cmd.req.ID ?? 0n);
      break;
    case 'leaseRevoke':
      w.varintBig(cmd.req.ID);
      break;
    case 'leaseCheckpoint':
      w.uvarint(cmd.req.checkpoints.length);
      for (const cp of cmd.req.checkpoints) {
        w.varintBig(cp.ID);
        w.varint(cp.remainingTTL);
      }
      break;
    case 'alarm':
      w.u8(cmd.req.action);
      w.varintBig(cmd.req.memberID);
      w.u8(cmd.req.alarm);
      break;
    default:
      assertNever(cmd);
  }
}

/**
 * `headroom` bytes are left unwritten before the command, for the caller's own header: the
 * proposal is then one buffer, and a 64 KiB value is copied once (not again into an envelope).
 */
export function encodeCommand(cmd: Command, headroom = 0): Uint8Array {
  // With headroom the result is a raft entry's payload, kept in raft's in-memory log: from the entry arena.
  const size = headroom + (cmd.type === 'put' ? 16 + cmd.req.key.length + (cmd.req.value?.length ?? 0) : 128);
  const w = new ByteWriter(size, headroom > 0 ? allocEntry : Buffer.allocUnsafe);
  w.skip(headroom);
  writeCommand(w, cmd);
  return w.finish();
}

/** Decode from a reader positioned at a command (lets a caller strip its own envelope first). */
export function readCommand(r: ByteReader): Command {
  const version = r.u8();
  if (version !== CODEC_VERSION) throw new Error(`mvcc: unknown command codec version ${version}`);
  const tag = r.u8();
  switch (tag) {
    case TAG.put:
      return { type: 'put', req: readPut(r) };
    case TAG.deleteRange:
      return { type: 'deleteRange', req: readDelete(r) };
    case TAG.txn:
      return { type: 'txn', req: readTxn(r, 0) };
    case TAG.compaction:
      return { type: 'compaction', req: { revision: r.varint(), physical: r.u8() === 1 } };
    case TAG.leaseGrant:
      return { type: 'leaseGrant', req: { TTL: r.varint(), ID: r.varintBig() } };
    case TAG.leaseRevoke:
      return { type: 'leaseRevoke', req: { ID: r.varintBig() } };
    case TAG.leaseCheckpoint: {
      const n = r.uvarint();
      const checkpoints = [];
      for (let i = 0; i < n; i++) checkpoints.push({ ID: r.varintBig(), remainingTTL: r.varint() });
      return { type: 'leaseCheckpoint', req: { checkpoints } };
    }
    case TAG.alarm: {
      const action = r.u8() as 0 | 1 | 2;
      const memberID = r.varintBig();
      const alarm = r.u8() as 0 | 1 | 2;
      return { type: 'alarm', req: { action, memberID, alarm } };
    }
    default:
      throw new Error(`mvcc: unknown command tag ${tag}`);
  }
}

/** Decode a command. Throws on malformed input (a corrupt entry is a broken invariant). */
export function decodeCommand(bytes: Uint8Array): Command {
  const r = new ByteReader(bytes);
  const cmd = readCommand(r);
  if (r.remaining !== 0) throw new Error(`mvcc: ${r.remaining} trailing bytes after command`);
  return cmd;
}

