// A hand-written protobuf encoder for etcdserverpb.WatchResponse, the answers of the Watch
// stream, under kv-codec.ts's rules: the bytes proto-loader writes for omitProtoDefaults(answer),
// and a value of any shape it would convert sent to proto-loader instead. Every event of every
// watcher goes out through here, and through proto-loader each took a protobufjs object per
// event and key-value, a Long per revision and a stripped copy of the whole answer.
// The requests (creates, cancels, progress) are few and small: proto-loader decodes them.
// Two things only proto-loader writes: an event type other than PUT (0) or DELETE (1), and a
// cancel reason with a lone surrogate (protobufjs writes one as 3 bytes of its own below 40
// characters, and as U+FFFD from 40 on). watch-codec.test.ts proves the bytes against proto-loader
// on seeded random answers.

import { EventType } from '../../mvcc/types.js';
import type { Event, WatchResponse } from '../../mvcc/types.js';
import { NOT_PLAIN, boolField, encodeWith, headerSize, intField, kvSize, mustBeMessage, on, stringField, writeHeader, writeKv } from './kv-codec.js';
import type { SubSizes } from './kv-codec.js';
import type { WireWriter } from './proto-wire.js';

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
