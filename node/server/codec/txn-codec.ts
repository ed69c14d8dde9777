// Hand-written protobuf codecs for KV Txn, which kube-apiserver sends for every write:
// TxnRequest in, TxnResponse out, under kv-codec.ts's rules: the objects and bytes proto-loader
// gives, and anything odd left to proto-loader. Through proto-loader alone, a read-only-Txn load
// spent 44-48% of the member's busy time collecting garbage: a protobufjs object per compare and
// op, a Long per int64, and a stripped copy of every response (omitProtoDefaults).
// A decoded request is what proto-load.ts's Txn deserializer gives:
//   - a oneof as its member plus a property naming it (`targetUnion`, `request`: oneofs: true),
//     and an empty RequestOp as {}; a oneof set twice on the wire goes to proto-loader;
//   - defaults for every field outside a oneof, at every depth;
//   - lease ids as bigints, every other int64 a number (REQUEST_ID_FIELDS and narrowAllBut).
// txn-codec.test.ts proves both directions against proto-loader on seeded random messages.

import type {
  Compare,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  RequestOp,
  ResponseOp,
  TxnRequest,
  TxnResponse,
} from '../../mvcc/types.js';
import {
  EMPTY,
  boolField,
  decodePutRequest,
  decodeRangeRequest,
  encodeWith,
  headerSize,
  intField,
  kvSize,
  lenField,
  mustBeMessage,
  on,
  putResponseSize,
  rangeResponseSize,
  varintField,
  writeHeader,
  writeKv,
  writePutResponse,
  writeRangeResponse,
} from './kv-codec.js';
import type { Decode, SubSizes } from './kv-codec.js';
import { WIRE_LEN } from './proto-wire.js';
import type { WireReader, WireWriter } from './proto-wire.js';

export function decodeTxnRequest(r: WireReader): TxnRequest | undefined {
  const compare: Compare[] = [];
  const success: RequestOp[] = [];
  const failure: RequestOp[] = [];
  while (r.pos < r.end) {
    const tag = r.tag();
    const field = tag >>> 3;
    if ((tag & 7) !== WIRE_LEN || field < 1 || field > 3) return undefined;
    if (field === 1) {
      const c = r.message(decodeCompare);
      if (c === undefined) return undefined;
      compare.push(c);
    } else {
      const op = r.message(decodeRequestOp);
      if (op === undefined) return undefined;
      (field === 2 ? success : failure).push(op);
    }
  }
  return { compare, success, failure };
}

/** Compare's target_union members by field number. */
const TARGET_MEMBERS = ['', '', '', '', 'version', 'createRevision', 'modRevision', 'value', 'lease'] as const;

function decodeCompare(r: WireReader): Compare | undefined {
  let result = 0;
  let target = 0;
  let key: Buffer = EMPTY;
  let rangeEnd: Buffer = EMPTY;
  // The target_union member on the wire: its field number and value.
  let member = 0;
  let value: number | bigint | Buffer = 0;
  while (r.pos < r.end) {
    const tag = r.tag();
    const field = tag >>> 3;
    if (member !== 0 && field >= 4 && field <= 8) return undefined;
    if (field === 3 || field === 7 || field === 64) {
      const v = lenField(r, tag);
      if (v === undefined) return undefined;
      if (field === 3) key = v;
      else if (field === 64) rangeEnd = v;
      else {
        member = 7;
        value = v;
      }
      continue;
    }
    if (tag < 0 || !varintField(r, tag, field >= 4)) return undefined;
    switch (field) {
      case 1: result = r.int32(); break;
      case 2: target = r.int32(); break;
      case 4: case 5: case 6: member = field; value = r.int64(); break;
      case 8: member = 8; value = r.int64Big(); break;
      default: return undefined;
    }
  }
  if (member === 0) return { result, target, key, rangeEnd } as Compare;
  const name = TARGET_MEMBERS[member]!;
  return { result, target, key, rangeEnd, [name]: value, targetUnion: name } as Compare;
}

/** RequestOp's members by field number, each with its decoder. */
const OP_MEMBERS: readonly (readonly [string, Decode<unknown>] | undefined)[] = [
  undefined,
  ['requestRange', decodeRangeRequest],
  ['requestPut', decodePutRequest],
  ['requestDeleteRange', decodeDeleteRangeRequest],
  ['requestTxn', decodeTxnRequest],
];

function decodeRequestOp(r: WireReader): RequestOp | undefined {
  let op: RequestOp | undefined;
  while (r.pos < r.end) {
    const tag = r.tag();
    const member = OP_MEMBERS[tag >>> 3];
    // A oneof set twice on the wire (two members, or one twice) is left to proto-loader.
    if (op !== undefined || member === undefined || (tag & 7) !== WIRE_LEN) return undefined;
    const [name, decode] = member;
    const v = r.message(decode);
    if (v === undefined) return undefined;
    op = { [name]: v, request: name } as unknown as RequestOp;
  }
  return op ?? ({} as RequestOp);
}

function decodeDeleteRangeRequest(r: WireReader): DeleteRangeRequest | undefined {
  let key: Buffer = EMPTY;
  let rangeEnd: Buffer = EMPTY;
  let prevKv = false;
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
    if (field !== 3 || !varintField(r, tag, false)) return undefined;
    prevKv = r.bool();
  }
  return { key, rangeEnd, prevKv };
}

// ---------------------------------------------------------------- encoding

/** Every member of a ResponseOp, to read them by name (the member writes one; each present one is written). */
type ResponseOpMembers = {
  responseRange?: RangeResponse;
  responsePut?: PutResponse;
  responseDeleteRange?: DeleteRangeResponse;
  responseTxn?: TxnResponse;
};

export function encodeTxnResponse(m: TxnResponse): Buffer {
  return encodeWith(m, txnResponseSize, writeTxnResponse);
}

function txnResponseSize(m: TxnResponse, s: SubSizes): number {
  mustBeMessage(m);
  return s.field(m.header, headerSize) + boolField(m.succeeded) + s.list(m.responses, responseOpSize);
}

function writeTxnResponse(w: WireWriter, m: TxnResponse, s: SubSizes): void {
  s.write(w, 0x0a, m.header, writeHeader);
  if (m.succeeded === true) (w.byte(0x10), w.byte(1));
  s.writeList(w, 0x1a, m.responses, writeResponseOp);
}

// Sized and written in the same order, field by field: SubSizes hands the sizes back in order.
function responseOpSize(op: ResponseOp, s: SubSizes): number {
  mustBeMessage(op);
  const o = op as ResponseOpMembers;
  return (
    s.field(o.responseRange, rangeResponseSize) +
    s.field(o.responsePut, putResponseSize) +
    s.field(o.responseDeleteRange, deleteRangeResponseSize) +
    s.field(o.responseTxn, txnResponseSize)
  );
}

function writeResponseOp(w: WireWriter, op: ResponseOp, s: SubSizes): void {
  const o = op as ResponseOpMembers;
  s.write(w, 0x0a, o.responseRange, writeRangeResponse);
  s.write(w, 0x12, o.responsePut, writePutResponse);
  s.write(w, 0x1a, o.responseDeleteRange, writeDeleteRangeResponse);
  s.write(w, 0x22, o.responseTxn, writeTxnResponse);
}

function deleteRangeResponseSize(m: DeleteRangeResponse, s: SubSizes): number {
  mustBeMessage(m);
  return s.field(m.header, headerSize) + intField(m.deleted) + s.list(m.prevKvs, kvSize);
}

function writeDeleteRangeResponse(w: WireWriter, m: DeleteRangeResponse, s: SubSizes): void {
  s.write(w, 0x0a, m.header, writeHeader);
  if (on(m.deleted)) (w.byte(0x10), w.int64(m.deleted));
  s.writeList(w, 0x1a, m.prevKvs, writeKv);
}
