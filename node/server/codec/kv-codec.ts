// Hand-written protobuf codecs for the hottest client messages: RangeRequest and PutRequest in,
// RangeResponse and PutResponse (with ResponseHeader and mvccpb.KeyValue) out. proto-loader
// decodes by building protobufjs message objects, an int64 `Long` per number, then converting
// them to plain objects; it encodes by building message objects again (`fromObject`). These
// functions read and write the bytes directly, and give the same objects and the same bytes:
//   - decode: defaults filled in (empty Buffers, 0, false), bytes as views into the input,
//     int64 as protobufjs's toNumber gives it; anything but a well-formed message of the expected
//     shape is handed to proto-loader (see proto-wire.ts);
//   - encode: the bytes proto-loader writes for omitProtoDefaults(message) (proto-defaults.ts):
//     fields in number order, proto3 zero values (0, false, empty bytes, empty lists) left off
//     as Go's encoder leaves them, sub-messages written even when empty. A value of a shape
//     proto-loader would convert (a string for bytes, a number that is not a safe integer, a
//     non-array list) sends the whole message to proto-loader.
// kv-codec.test.ts proves both directions against proto-loader on seeded random messages.

import type { KeyValue, PutResponse, RangeRequest, RangeResponse, ResponseHeader } from '../../mvcc/types.js';
import type { PutRequest } from '../../mvcc/types.js';
import { omitProtoDefaults } from '../proto-defaults.js';
import { WIRE_LEN, WIRE_VARINT, WireReader, WireWriter, int64BigSize, int64Size, isInt } from './proto-wire.js';
import { uvarintSize } from '../../lib/varint-size.js';

type Decode<T> = (r: WireReader) => T | undefined;

/** Decodes with `fast`, or with proto-loader's `slow` when the fast path gives up. */
export function withFallback<T>(fast: Decode<T>, slow: (b: Buffer) => unknown): (b: Buffer) => unknown {
  return (b) => {
    const r = new WireReader(b);
    const v = fast(r);
    return v !== undefined && r.ok ? v : slow(b);
  };
}

const EMPTY = Buffer.alloc(0);

/** One varint field's value into the reader's lo/hi, checking the wire type (see varint32). */
function varintField(r: WireReader, tag: number, wide: boolean): boolean {
  return (tag & 7) === WIRE_VARINT && (wide ? r.varint() : r.varint32());
}

/** A length-delimited field's bytes, checking the wire type. */
function lenField(r: WireReader, tag: number): Buffer | undefined {
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
class NotPlain extends Error {}
const NOT_PLAIN = new NotPlain('not a plain value');

/** An int64 field's size with its tag byte; 0 for a value left off the wire (null, undefined, 0). */
function intField(n: unknown): number {
  if (n == null || n === 0) return 0;
  if (!isInt(n)) throw NOT_PLAIN;
  return 1 + int64Size(n);
}

/** A 64-bit id field's size (a bigint: lease ids) with its tag byte; 0 for 0n or absent. */
function idField(n: unknown): number {
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
function boolField(v: unknown): number {
  if (v == null || v === false) return 0;
  if (v !== true) throw NOT_PLAIN;
  return 2;
}

/** Written: present and not a proto3 zero value (the sizes above have checked the types). */
function on(v: unknown): boolean {
  return v != null && v !== 0 && v !== 0n && v !== false && !(v instanceof Uint8Array && v.length === 0);
}

/** A message field's size: tag byte, length varint, body. */
function nestedSize(bodySize: number): number {
  return 1 + uvarintSize(bodySize) + bodySize;
}

function headerSize(h: ResponseHeader): number {
  if (typeof h !== 'object' || Array.isArray(h) || h instanceof Uint8Array) throw NOT_PLAIN;
  return idField(h.clusterId) + idField(h.memberId) + intField(h.revision) + intField(h.raftTerm);
}

function writeHeader(w: WireWriter, h: ResponseHeader, size: number): void {
  w.uvarint(size);
  if (on(h.clusterId)) (w.byte(0x08), w.int64Big(h.clusterId));
  if (on(h.memberId)) (w.byte(0x10), w.int64Big(h.memberId));
  if (on(h.revision)) (w.byte(0x18), w.int64(h.revision));
  if (on(h.raftTerm)) (w.byte(0x20), w.int64(h.raftTerm));
}

function kvSize(kv: KeyValue): number {
  if (typeof kv !== 'object' || kv === null || Array.isArray(kv) || kv instanceof Uint8Array) throw NOT_PLAIN;
  return (
    bytesField(kv.key) + intField(kv.createRevision) + intField(kv.modRevision) + intField(kv.version) + bytesField(kv.value) + idField(kv.lease)
  );
}

function writeKv(w: WireWriter, kv: KeyValue, size: number): void {
  w.uvarint(size);
  if (on(kv.key)) (w.byte(0x0a), w.bytes(kv.key));
  if (on(kv.createRevision)) (w.byte(0x10), w.int64(kv.createRevision));
  if (on(kv.modRevision)) (w.byte(0x18), w.int64(kv.modRevision));
  if (on(kv.version)) (w.byte(0x20), w.int64(kv.version));
  if (on(kv.value)) (w.byte(0x2a), w.bytes(kv.value));
  if (on(kv.lease)) (w.byte(0x30), w.int64Big(kv.lease));
}

export function encodeRangeResponse(m: RangeResponse): Buffer {
  const hs = m.header != null ? headerSize(m.header) : -1;
  let n = hs >= 0 ? nestedSize(hs) : 0;
  const kvs = m.kvs;
  let sizes: number[] | undefined;
  if (kvs != null) {
    if (!Array.isArray(kvs)) throw NOT_PLAIN;
    sizes = new Array<number>(kvs.length);
    for (let i = 0; i < kvs.length; i++) {
      const s = kvSize(kvs[i]!);
      sizes[i] = s;
      n += nestedSize(s);
    }
  }
  n += boolField(m.more) + intField(m.count);
  const w = new WireWriter(Buffer.allocUnsafe(n));
  if (hs >= 0) (w.byte(0x0a), writeHeader(w, m.header!, hs));
  if (kvs != null) {
    for (let i = 0; i < kvs.length; i++) (w.byte(0x12), writeKv(w, kvs[i]!, sizes![i]!));
  }
  if (m.more === true) (w.byte(0x18), w.byte(1));
  if (on(m.count)) (w.byte(0x20), w.int64(m.count));
  return w.buf;
}

export function encodePutResponse(m: PutResponse): Buffer {
  const hs = m.header != null ? headerSize(m.header) : -1;
  const ks = m.prevKv != null ? kvSize(m.prevKv) : -1;
  const n = (hs >= 0 ? nestedSize(hs) : 0) + (ks >= 0 ? nestedSize(ks) : 0);
  const w = new WireWriter(Buffer.allocUnsafe(n));
  if (hs >= 0) (w.byte(0x0a), writeHeader(w, m.header!, hs));
  if (ks >= 0) (w.byte(0x12), writeKv(w, m.prevKv!, ks));
  return w.buf;
}

/** Encodes with `fast`, or with proto-loader's `slow` for a value that needs its conversions. */
export function encoder<T>(fast: (m: T) => Buffer, slow: (v: unknown) => Buffer): (v: unknown) => Buffer {
  return (v) => {
    if (typeof v !== 'object' || v === null) return slow(v);
    try {
      return fast(v as T);
    } catch (e) {
      if (e instanceof NotPlain) return slow(v);
      throw e;
    }
  };
}

export interface MethodCodec {
  /** Request bytes to the request object (proto-loader's requestDeserialize as the fallback). */
  deserialize(b: Buffer): unknown;
  /** Response object to bytes (proto-loader's responseSerialize as the fallback). */
  serialize(v: unknown): Buffer;
}

interface LoaderMethod {
  requestDeserialize(b: Buffer): unknown;
  responseSerialize(v: unknown): Buffer;
}

/**
 * The hand-written codecs for the methods that have them, each falling back to proto-loader's
 * own (de)serializer of the same method (responses through omitProtoDefaults, as every other
 * method's); undefined for every other method.
 */
export function hotMethodCodec(service: string, method: string, loader: LoaderMethod): MethodCodec | undefined {
  if (service !== 'etcdserverpb.KV') return undefined;
  const de = loader.requestDeserialize.bind(loader);
  const ser = (v: unknown): Buffer => loader.responseSerialize(omitProtoDefaults(v));
  switch (method) {
    case 'Range':
      return { deserialize: withFallback(decodeRangeRequest, de), serialize: encoder(encodeRangeResponse, ser) };
    case 'Put':
      return { deserialize: withFallback(decodePutRequest, de), serialize: encoder(encodePutResponse, ser) };
    default:
      return undefined;
  }
}
