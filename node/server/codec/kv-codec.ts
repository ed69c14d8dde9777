// Hand-written protobuf codecs for the hottest client messages: RangeRequest and PutRequest in,
// RangeResponse and PutResponse (with ResponseHeader and mvccpb.KeyValue) out, and the pieces
// txn-codec.ts builds on. proto-loader decodes by building protobufjs message objects,
// an int64 `Long` per number, then converting them to plain objects; it encodes by building
// message objects again (`fromObject`). These functions read and write the bytes directly, and
// give the same objects and the same bytes:
//   - decode: defaults filled in (empty Buffers, 0, false), bytes as views into the input,
//     int64 as protobufjs's toNumber gives it; anything but a well-formed message of the expected
//     shape is handed to proto-loader (see proto-wire.ts);
//   - encode: the bytes proto-loader writes for omitProtoDefaults(message) (proto-defaults.ts):
//     fields in number order, proto3 zero values (0, false, empty bytes, empty lists) left off
//     as Go's encoder leaves them, sub-messages written even when empty. A value of a shape
//     proto-loader would convert (a string for bytes, a number that is not a safe integer, a
//     non-array list) sends the whole message to proto-loader.
// method-codec.ts puts them in front of proto-loader's; kv-codec.test.ts proves both directions
// against proto-loader on seeded random messages.

import type { KeyValue, PutRequest, PutResponse, RangeRequest, RangeResponse, ResponseHeader } from '../../mvcc/types.js';
import { MAX_NESTING, WIRE_LEN, WIRE_VARINT, WireReader, WireWriter, int64BigSize, int64Size, isInt } from './proto-wire.js';
import { uvarintSize } from '../../lib/varint-size.js';

/** A message's decoder: undefined when the bytes are not a well-formed message of its shape. */
export type Decode<T> = (r: WireReader) => T | undefined;

/** The default of a bytes field (shared: nothing writes into a decoded request). */
export const EMPTY = Buffer.alloc(0);

/** One varint field's value into the reader's lo/hi, checking the wire type (see varint32). */
export function varintField(r: WireReader, tag: number, wide: boolean): boolean {
  return (tag & 7) === WIRE_VARINT && (wide ? r.varint() : r.varint32());
}

/** A length-delimited field's bytes, checking the wire type. */
export function lenField(r: WireReader, tag: number): Buffer | undefined {
  return (tag & 7) === WIRE_LEN ? r.bytes() : undefined;
}

export function decodeRangeRequest(r: WireReader): RangeRequest | undefined {
  let key: Buffer = EMPTY;
  let rangeEnd: Buffer = EMPTY;
  let limit = 0;
  let revision = 0;
  let sortOrder = 0;
  let sortTarget = 0;
  let serializable = false;
  let keysOnly = false;
  let countOnly = false;
  let minModRevision = 0;
  let maxModRevision = 0;
  let minCreateRevision = 0;
  let maxCreateRevision = 0;
  while (r.pos < r.end) {
    const tag = r.tag();
    const field = tag >>> 3;
    if (field === 1 || field === 2) {
      const v = lenField(r, tag);
      if (v === undefined) return undefined;
      if (field === 1) key = v;
      else rangeEnd = v;
      continue;
    }
    if (tag < 0 || !varintField(r, tag, field <= 4 || field >= 10)) return undefined;
    switch (field) {
      case 3: limit = r.int64(); break;
      case 4: revision = r.int64(); break;
      case 5: sortOrder = r.int32(); break;
      case 6: sortTarget = r.int32(); break;
      case 7: serializable = r.bool(); break;
      case 8: keysOnly = r.bool(); break;
      case 9: countOnly = r.bool(); break;
      case 10: minModRevision = r.int64(); break;
      case 11: maxModRevision = r.int64(); break;
      case 12: minCreateRevision = r.int64(); break;
      case 13: maxCreateRevision = r.int64(); break;
      default: return undefined;
    }
  }
  return {
    key, rangeEnd, limit, revision, sortOrder, sortTarget, serializable, keysOnly, countOnly,
    minModRevision, maxModRevision, minCreateRevision, maxCreateRevision,
  } as RangeRequest;
}

export function decodePutRequest(r: WireReader): PutRequest | undefined {
  let key: Buffer = EMPTY;
  let value: Buffer = EMPTY;
  let lease = 0n;
  let prevKv = false;
  let ignoreValue = false;
  let ignoreLease = false;
  while (r.pos < r.end) {
    const tag = r.tag();
    const field = tag >>> 3;
    if (field === 1 || field === 2) {
      const v = lenField(r, tag);
      if (v === undefined) return undefined;
      if (field === 1) key = v;
      else value = v;
      continue;
    }
    if (tag < 0 || !varintField(r, tag, field === 3)) return undefined;
    switch (field) {
      case 3: lease = r.int64Big(); break;
      case 4: prevKv = r.bool(); break;
      case 5: ignoreValue = r.bool(); break;
      case 6: ignoreLease = r.bool(); break;
      default: return undefined;
    }
  }
  return { key, value, lease, prevKv, ignoreValue, ignoreLease };
}

// ---------------------------------------------------------------- encoding

/** Thrown inside an encoder when a value needs proto-loader's conversions; caught by encoder(). */
export class NotPlain extends Error {}
export const NOT_PLAIN = new NotPlain('not a plain value');

/** An int64 field's size with its tag byte; 0 for a value left off the wire (null, undefined, 0). */
export function intField(n: unknown): number {
  if (n == null || n === 0) return 0;
  if (!isInt(n)) throw NOT_PLAIN;
  return 1 + int64Size(n);
}

/** A 64-bit id field's size (a bigint: lease ids) with its tag byte; 0 for 0n or absent. */
export function idField(n: unknown): number {
  if (n == null || n === 0n) return 0;
  if (typeof n !== 'bigint') throw NOT_PLAIN;
  return 1 + int64BigSize(n);
}

/** A bytes field's size with its tag byte; 0 for a value left off the wire (absent or empty). */
function bytesField(v: unknown): number {
  if (v == null) return 0;
  if (!(v instanceof Uint8Array)) throw NOT_PLAIN;
  return v.length === 0 ? 0 : 1 + uvarintSize(v.length) + v.length;
}

/** A bool field's size with its tag byte; 0 for absent or false. */
export function boolField(v: unknown): number {
  if (v == null || v === false) return 0;
  if (v !== true) throw NOT_PLAIN;
  return 2;
}

/**
 * A string field's size with its tag byte; 0 for absent or empty. A lone surrogate goes to
 * proto-loader, which writes one as 3 bytes of its own below 40 characters and as U+FFFD from
 * 40 on (Buffer would always write U+FFFD).
 */
export function stringField(v: unknown): number {
  if (v == null || v === '') return 0;
  if (typeof v !== 'string' || LONE_SURROGATE.test(v)) throw NOT_PLAIN;
  const n = Buffer.byteLength(v);
  return 1 + uvarintSize(n) + n;
}

const LONE_SURROGATE = /\p{Cs}/u;

/** Written: present and not a proto3 zero value (the sizes above have checked the types). */
export function on(v: unknown): boolean {
  return v != null && v !== 0 && v !== 0n && v !== false && v !== '' && !(v instanceof Uint8Array && v.length === 0);
}

/** A value a message field may hold as it is: a plain object, not a list or bytes. */
export function mustBeMessage(v: unknown): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) throw NOT_PLAIN;
}

type Size<T> = (m: T, s: SubSizes) => number;
type Write<T> = (w: WireWriter, m: T, s: SubSizes) => void;

/**
 * The body sizes of a message's sub-messages, in the order they are written: the sizing pass
 * (which also checks every value) records each one, the writing pass reads them back for the
 * length prefixes. So however deep they nest, sub-messages are measured once and written into
 * the one buffer in place.
 */
export class SubSizes {
  private readonly sizes: number[] = [];
  private next = 0;
  /** Sub-messages open while sizing: one nested deeper than MAX_NESTING goes to proto-loader. */
  private depth = 0;

  /** Empty again, for the next message (encodeWith keeps one). */
  reset(): this {
    this.sizes.length = 0;
    this.next = 0;
    this.depth = 0;
    return this;
  }

  /** A sub-message field's size with its tag and length; 0 when absent (null or undefined). */
  field<T>(m: T | null | undefined, size: Size<T>): number {
    if (m == null) return 0;
    if (this.depth >= MAX_NESTING) throw NOT_PLAIN;
    const i = this.sizes.length;
    this.sizes.push(0);
    this.depth++;
    const n = size(m, this);
    this.depth--;
    this.sizes[i] = n;
    return 1 + uvarintSize(n) + n;
  }

  /** A repeated sub-message field's size: every element is written, even an empty one. */
  list<T>(ms: readonly T[] | null | undefined, size: Size<T>): number {
    if (ms == null) return 0;
    if (!Array.isArray(ms)) throw NOT_PLAIN;
    let n = 0;
    for (const m of ms) {
      if (m == null) throw NOT_PLAIN;
      n += this.field(m, size);
    }
    return n;
  }

  /** Writes a sub-message field sized by field(): its tag (a one-byte field number), length and body. */
  write<T>(w: WireWriter, tag: number, m: T | null | undefined, write: Write<T>): void {
    if (m == null) return;
    w.byte(tag);
    w.uvarint(this.sizes[this.next++]!);
    write(w, m, this);
  }

  writeList<T>(w: WireWriter, tag: number, ms: readonly T[] | null | undefined, write: Write<T>): void {
    if (ms != null) for (const m of ms) this.write(w, tag, m, write);
  }
}

/** encodeWith's sizes, kept between messages: nothing encodes while another message does. */
const SIZES = new SubSizes();

/** A whole message: sized (every value checked), then written into a buffer of exactly that size. */
export function encodeWith<T>(m: T, size: Size<T>, write: Write<T>): Buffer {
  const s = SIZES.reset();
  const w = new WireWriter(Buffer.allocUnsafe(size(m, s)));
  write(w, m, s);
  return w.buf;
}

export function headerSize(h: ResponseHeader): number {
  mustBeMessage(h);
  return idField(h.clusterId) + idField(h.memberId) + intField(h.revision) + intField(h.raftTerm);
}

export function writeHeader(w: WireWriter, h: ResponseHeader): void {
  if (on(h.clusterId)) (w.byte(0x08), w.int64Big(h.clusterId));
  if (on(h.memberId)) (w.byte(0x10), w.int64Big(h.memberId));
  if (on(h.revision)) (w.byte(0x18), w.int64(h.revision));
  if (on(h.raftTerm)) (w.byte(0x20), w.int64(h.raftTerm));
}

export function kvSize(kv: KeyValue): number {
  mustBeMessage(kv);
  return (
    bytesField(kv.key) + intField(kv.createRevision) + intField(kv.modRevision) + intField(kv.version) + bytesField(kv.value) + idField(kv.lease)
  );
}

export function writeKv(w: WireWriter, kv: KeyValue): void {
  if (on(kv.key)) (w.byte(0x0a), w.bytes(kv.key));
  if (on(kv.createRevision)) (w.byte(0x10), w.int64(kv.createRevision));
  if (on(kv.modRevision)) (w.byte(0x18), w.int64(kv.modRevision));
  if (on(kv.version)) (w.byte(0x20), w.int64(kv.version));
  if (on(kv.value)) (w.byte(0x2a), w.bytes(kv.value));
  if (on(kv.lease)) (w.byte(0x30), w.int64Big(kv.lease));
}

export function rangeResponseSize(m: RangeResponse, s: SubSizes): number {
  mustBeMessage(m);
  return s.field(m.header, headerSize) + s.list(m.kvs, kvSize) + boolField(m.more) + intField(m.count);
}

export function writeRangeResponse(w: WireWriter, m: RangeResponse, s: SubSizes): void {
  s.write(w, 0x0a, m.header, writeHeader);
  s.writeList(w, 0x12, m.kvs, writeKv);
  if (m.more === true) (w.byte(0x18), w.byte(1));
  if (on(m.count)) (w.byte(0x20), w.int64(m.count));
}

export function putResponseSize(m: PutResponse, s: SubSizes): number {
  mustBeMessage(m);
  return s.field(m.header, headerSize) + s.field(m.prevKv, kvSize);
}

export function writePutResponse(w: WireWriter, m: PutResponse, s: SubSizes): void {
  s.write(w, 0x0a, m.header, writeHeader);
  s.write(w, 0x12, m.prevKv, writeKv);
}

export function encodeRangeResponse(m: RangeResponse): Buffer {
  return encodeWith(m, rangeResponseSize, writeRangeResponse);
}

export function encodePutResponse(m: PutResponse): Buffer {
  return encodeWith(m, putResponseSize, writePutResponse);
}
