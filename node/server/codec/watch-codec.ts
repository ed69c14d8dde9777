// Hand-written protobuf codecs for the Watch stream, under kv-codec.ts's rules: WatchRequest in
// (creates, cancels, progress requests), WatchResponse out. Every event of every watcher goes out
// through here, and through proto-loader each took a protobufjs object per event and key-value, a
// Long per revision and a stripped copy of the whole answer; each request took a protobufjs
// object per message and a Long per int64.
// A decoded request is what proto-load.ts's Watch deserializer gives (the JSON gateway's /v3/watch
// still decodes with proto-loader's own):
//   - the request_union member plus `requestUnion` naming it (oneofs: true), an empty WatchRequest
//     as {}; a member set twice on the wire (two members, or one twice) goes to proto-loader;
//   - a create with every default filled in, its filters a list of numbers whether packed or not
//     (proto3 packs them; parsers take both), values outside FilterType kept as protobufjs keeps them;
//   - revisions and watch ids numbers (longs: Number: nothing of Watch is in REQUEST_ID_FIELDS).
// Two things only proto-loader writes: an event type other than PUT (0) or DELETE (1), and a
// cancel reason with a lone surrogate (protobufjs writes one as 3 bytes of its own below 40
// characters, and as U+FFFD from 40 on). watch-codec.test.ts proves both directions against
// proto-loader on seeded random messages.

import { EventType } from '../../mvcc/types.js';
import type { Event, WatchCreateRequest, WatchFilterType, WatchResponse } from '../../mvcc/types.js';
import type { WatchRequestWire } from '../watch-service.js';
import {
  EMPTY,
  NOT_PLAIN,
  boolField,
  encodeWith,
  headerSize,
  intField,
  kvSize,
  lenField,
  mustBeMessage,
  on,
  stringField,
  varintField,
  writeHeader,
  writeKv,
} from './kv-codec.js';
import type { Decode, SubSizes } from './kv-codec.js';
import { WIRE_LEN } from './proto-wire.js';
import type { WireReader, WireWriter } from './proto-wire.js';

/** WatchRequest's request_union members by field number, each with its decoder. */
const REQUEST_MEMBERS: readonly (readonly [string, Decode<unknown>] | undefined)[] = [
  undefined,
  ['createRequest', decodeCreateRequest],
  ['cancelRequest', decodeCancelRequest],
  ['progressRequest', decodeProgressRequest],
];

export function decodeWatchRequest(r: WireReader): WatchRequestWire | undefined {
  let req: WatchRequestWire | undefined;
  while (r.pos < r.end) {
    const tag = r.tag();
    const member = REQUEST_MEMBERS[tag >>> 3];
    // A oneof set twice on the wire (two members, or one twice) is left to proto-loader.
    if (req !== undefined || member === undefined || (tag & 7) !== WIRE_LEN) return undefined;
    const [name, decode] = member;
    const v = r.message(decode);
    if (v === undefined) return undefined;
    req = { [name]: v, requestUnion: name };
  }
  return req ?? {};
}

function decodeCreateRequest(r: WireReader): WatchCreateRequest | undefined {
  const filters: WatchFilterType[] = [];
  let key: Buffer = EMPTY;
  let rangeEnd: Buffer = EMPTY;
  let startRevision = 0;
  let progressNotify = false;
  let prevKv = false;
  let watchId = 0;
  let fragment = false;
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
    // filters packed: a run of varints read as a sub-message is, bounded by its length and to its end.
    if (field === 5 && (tag & 7) === WIRE_LEN) {
      if (r.message((p) => readFilters(p, filters)) === undefined) return undefined;
      continue;
    }
    if (tag < 0 || !varintField(r, tag, field === 3 || field === 7)) return undefined;
    switch (field) {
      case 3: startRevision = r.int64(); break;
      case 4: progressNotify = r.bool(); break;
      case 5: filters.push(r.int32() as WatchFilterType); break;
      case 6: prevKv = r.bool(); break;
      case 7: watchId = r.int64(); break;
      case 8: fragment = r.bool(); break;
      default: return undefined;
    }
  }
  // In proto-loader's order: protobufjs's toObject puts lists first.
  return { filters, key, rangeEnd, startRevision, progressNotify, prevKv, watchId, fragment };
}

/** A packed run of filters onto `filters`: enums as protobufjs reads them (int32, any value kept). */
function readFilters(r: WireReader, filters: WatchFilterType[]): WatchFilterType[] | undefined {
  while (r.pos < r.end) {
    if (!r.varint32()) return undefined;
    filters.push(r.int32() as WatchFilterType);
  }
  return filters;
}

function decodeCancelRequest(r: WireReader): { watchId: number } | undefined {
  let watchId = 0;
  while (r.pos < r.end) {
    const tag = r.tag();
    if (tag >>> 3 !== 1 || !varintField(r, tag, true)) return undefined;
    watchId = r.int64();
  }
  return { watchId };
}

/** WatchProgressRequest has no fields: anything inside goes to proto-loader (which would skip it). */
function decodeProgressRequest(r: WireReader): Record<string, never> | undefined {
  return r.pos === r.end ? {} : undefined;
}

// ---------------------------------------------------------------- encoding

export function encodeWatchResponse(m: WatchResponse): Buffer {
  return encodeWith(m, watchResponseSize, writeWatchResponse);
}

function watchResponseSize(m: WatchResponse, s: SubSizes): number {
  mustBeMessage(m);
  return (
    s.field(m.header, headerSize) +
    intField(m.watchId) +
    boolField(m.created) +
    boolField(m.canceled) +
    intField(m.compactRevision) +
    stringField(m.cancelReason) +
    boolField(m.fragment) +
    s.list(m.events, eventSize)
  );
}

function writeWatchResponse(w: WireWriter, m: WatchResponse, s: SubSizes): void {
  s.write(w, 0x0a, m.header, writeHeader);
  if (on(m.watchId)) (w.byte(0x10), w.int64(m.watchId));
  if (m.created === true) (w.byte(0x18), w.byte(1));
  if (m.canceled === true) (w.byte(0x20), w.byte(1));
  if (on(m.compactRevision)) (w.byte(0x28), w.int64(m.compactRevision));
  if (on(m.cancelReason)) (w.byte(0x32), w.string(m.cancelReason));
  if (m.fragment === true) (w.byte(0x38), w.byte(1));
  // events is field 11: (11 << 3) | 2.
  s.writeList(w, 0x5a, m.events, writeEvent);
}

function eventSize(e: Event, s: SubSizes): number {
  mustBeMessage(e);
  return eventTypeField(e.type) + s.field(e.kv, kvSize) + s.field(e.prevKv, kvSize);
}

function writeEvent(w: WireWriter, e: Event, s: SubSizes): void {
  if (e.type === EventType.DELETE) (w.byte(0x08), w.byte(1));
  s.write(w, 0x12, e.kv, writeKv);
  s.write(w, 0x1a, e.prevKv, writeKv);
}

/** Event.type's size with its tag byte: PUT, the zero value, is left off. */
function eventTypeField(t: unknown): number {
  if (t == null || t === EventType.PUT) return 0;
  if (t !== EventType.DELETE) throw NOT_PLAIN;
  return 2;
}
