// Hand-written protobuf codecs for the Lease service's hot messages, under kv-codec.ts's rules:
// LeaseKeepAliveRequest, LeaseGrantRequest and LeaseRevokeRequest in, their responses out. Every
// client holding a lease sends a keep-alive every third of its TTL on the stream, and through
// proto-loader each took a protobufjs object and a Long per id both ways, plus a stripped copy
// of the answer.
// A decoded request is what proto-load.ts's Lease deserializers give: the ID a bigint (it is in
// REQUEST_ID_FIELDS: int64 read exactly), a TTL a number (narrowAllBut), absent ones 0n and 0.
// One thing only proto-loader writes: a grant's error with a lone surrogate (as watch-codec.ts's
// cancel reason: protobufjs writes one as 3 bytes of its own below 40 characters, and as U+FFFD
// from 40 on). lease-codec.test.ts proves both directions against proto-loader on seeded random
// messages.

import type {
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
} from '../../mvcc/types.js';
import { encodeWith, headerSize, idField, intField, mustBeMessage, on, stringField, varintField, writeHeader } from './kv-codec.js';
import type { Decode, SubSizes } from './kv-codec.js';
import type { WireReader, WireWriter } from './proto-wire.js';

/** KeepAlive's and Revoke's request: the one field, ID = 1. */
function decodeIdRequest(r: WireReader): { ID: bigint } | undefined {
  let ID = 0n;
  while (r.pos < r.end) {
    const tag = r.tag();
    if (tag >>> 3 !== 1 || !varintField(r, tag, true)) return undefined;
    ID = r.int64Big();
  }
  return { ID };
}

export const decodeLeaseKeepAliveRequest: Decode<LeaseKeepAliveRequest> = decodeIdRequest;
export const decodeLeaseRevokeRequest: Decode<LeaseRevokeRequest> = decodeIdRequest;

export function decodeLeaseGrantRequest(r: WireReader): LeaseGrantRequest | undefined {
  let TTL = 0;
  let ID = 0n;
  while (r.pos < r.end) {
    const tag = r.tag();
    const field = tag >>> 3;
    if ((field !== 1 && field !== 2) || !varintField(r, tag, true)) return undefined;
    if (field === 1) TTL = r.int64();
    else ID = r.int64Big();
  }
  return { TTL, ID };
}

// ---------------------------------------------------------------- encoding

export function encodeLeaseKeepAliveResponse(m: LeaseKeepAliveResponse): Buffer {
  return encodeWith(m, keepAliveResponseSize, writeKeepAliveResponse);
}

export function encodeLeaseGrantResponse(m: LeaseGrantResponse): Buffer {
  return encodeWith(m, grantResponseSize, writeGrantResponse);
}

export function encodeLeaseRevokeResponse(m: LeaseRevokeResponse): Buffer {
  return encodeWith(m, revokeResponseSize, writeRevokeResponse);
}

function keepAliveResponseSize(m: LeaseKeepAliveResponse, s: SubSizes): number {
  mustBeMessage(m);
  return s.field(m.header, headerSize) + idField(m.ID) + intField(m.TTL);
}

function writeKeepAliveResponse(w: WireWriter, m: LeaseKeepAliveResponse, s: SubSizes): void {
  s.write(w, 0x0a, m.header, writeHeader);
  if (on(m.ID)) (w.byte(0x10), w.int64Big(m.ID));
  if (on(m.TTL)) (w.byte(0x18), w.int64(m.TTL));
}

// A grant's answer is a keep-alive's (header 1, ID 2, TTL 3) with error as field 4.
function grantResponseSize(m: LeaseGrantResponse, s: SubSizes): number {
  return keepAliveResponseSize(m, s) + stringField(m.error);
}

function writeGrantResponse(w: WireWriter, m: LeaseGrantResponse, s: SubSizes): void {
  writeKeepAliveResponse(w, m, s);
  if (on(m.error)) (w.byte(0x22), w.string(m.error));
}

function revokeResponseSize(m: LeaseRevokeResponse, s: SubSizes): number {
  mustBeMessage(m);
  return s.field(m.header, headerSize);
}

function writeRevokeResponse(w: WireWriter, m: LeaseRevokeResponse, s: SubSizes): void {
  s.write(w, 0x0a, m.header, writeHeader);
}
