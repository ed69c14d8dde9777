// The hand-written WatchResponse encoder against proto-loader's, on seeded random answers shaped
// as the member makes them: the same bytes as proto-loader writes for omitProtoDefaults(answer),
// and whatever the encoder leaves to proto-loader answered by proto-loader. The seed of every
// case is in the test name; a failure names the case index.

import { describe, expect, it } from 'vitest';
import type { MethodDefinition } from '@grpc/proto-loader';
import { TestRng } from '../../mvcc/testing/rng.js';
import { EventType } from '../../mvcc/types.js';
import type { Event, KeyValue, WatchResponse } from '../../mvcc/types.js';
import { encodeMessage, message, requestType } from '../../../test/fuzz/proto-gen.js';
import { omitProtoDefaults } from '../proto-defaults.js';
import { loadEtcdProtos } from '../proto-load.js';
import { NotPlain } from './kv-codec.js';
import { hotMethodCodec } from './method-codec.js';
import { bytes, header, int, keyValue, outcome, seedsFrom } from './testing/random-messages.js';
import { responseEncodingTests } from './testing/response-encoding.js';
import { encodeWatchResponse } from './watch-codec.js';

/** CODEC_SEEDS=1-50 runs more (make test runs three). */
const SEEDS = seedsFrom(process.env['CODEC_SEEDS'] ?? '1-3');
const CASES = 2000;

const loader = (loadEtcdProtos()['etcdserverpb.Watch'] as unknown as Record<string, MethodDefinition<unknown, unknown>>)['Watch']!;
const hot = hotMethodCodec('etcdserverpb.Watch', 'Watch', loader)!;
// What every other method's serializer does (grpc-server.ts): proto3 zero values left off.
const reference = (v: unknown): Buffer => loader.responseSerialize(omitProtoDefaults(v));

/** etcd's cancel reasons, and text of every UTF-8 width, short and past protobufjs's 40-character switch. */
function cancelReason(rng: TestRng): string {
  if (rng.chance(0.5)) {
    return rng.pick([
      'etcdserver: mvcc: required revision has been compacted',
      'etcdserver: permission denied',
      'etcdserver: no leader',
      'clé «introuvable» — 鍵が見つかりません 🔑',
      '',
    ]);
  }
  return text(rng, rng.chance(0.5) ? rng.int(40) : 40 + rng.int(200));
}

/** Code points of 1 to 4 UTF-8 bytes, no surrogate halves (those go to proto-loader: see watch-codec.ts). */
const CODE_POINT_RANGES = [
  [0x20, 0x7f],
  [0x80, 0x800],
  [0x800, 0xd800],
  [0xe000, 0x10000],
  [0x10000, 0x110000],
] as const;

function text(rng: TestRng, n: number): string {
  return String.fromCodePoint(
    ...Array.from({ length: n }, () => {
      const [lo, hi] = rng.pick(CODE_POINT_RANGES);
      return lo + rng.int(hi - lo);
    }),
  );
}

/** A delete event's kv as the store makes it: the key and the delete's revision. */
function deletedKv(rng: TestRng): KeyValue {
  return { key: bytes(rng), createRevision: 0, modRevision: int(rng, false), version: 0, value: Buffer.alloc(0), lease: 0n };
}

function event(rng: TestRng): Event {
  const deleted = rng.chance(0.3);
  const e: Event = { type: deleted ? EventType.DELETE : EventType.PUT, kv: deleted ? deletedKv(rng) : keyValue(rng) };
  if (rng.chance(0.4)) e.prevKv = keyValue(rng);
  return e;
}

/** -1 (a refused create, a stream-wide progress notification), 0, small ids and large ones. */
function watchId(rng: TestRng): number {
  return rng.pick([-1, 0, 1 + rng.int(100), int(rng, false)]);
}

type Kind = 'events' | 'created' | 'canceled' | 'progress';

/** An answer the hub or the Watch service sends; now and then with a field left out or null. */
function watchResponse(rng: TestRng): WatchResponse {
  const kind = rng.pick<Kind>(['events', 'events', 'events', 'created', 'canceled', 'progress']);
  const canceled = kind === 'canceled' || (kind === 'created' && rng.chance(0.3));
  const n = rng.chance(0.9) ? 1 + rng.int(5) : rng.int(300);
  const m: WatchResponse = {
    header: header(rng),
    watchId: kind === 'progress' ? -1 : watchId(rng),
    created: kind === 'created',
    canceled,
    compactRevision: kind === 'canceled' && rng.chance(0.5) ? int(rng, false) : 0,
    cancelReason: canceled ? cancelReason(rng) : '',
    fragment: kind === 'events' && rng.chance(0.2),
    events: kind === 'events' ? Array.from({ length: n }, () => event(rng)) : [],
  };
  if (rng.chance(0.1)) {
    const o = m as unknown as Record<string, unknown>;
    o[rng.pick(Object.keys(o))] = rng.chance(0.5) ? undefined : null;
  }
  return m;
}

describe('Watch response encoding matches proto-loader byte for byte', () => {
  responseEncodingTests(SEEDS, CASES, { make: watchResponse, encode: encodeWatchResponse, serialize: hot.serialize, reference });

  it('the stream’s serializer is the fast encoder in front of proto-loader’s', () => {
    const slow = Buffer.from('proto-loader');
    const stub = hotMethodCodec('etcdserverpb.Watch', 'Watch', { requestDeserialize: () => ({}), responseSerialize: () => slow })!;
    const m = watchResponse(new TestRng(1));
    expect(stub.serialize(m)).toEqual(reference(m));
    expect(stub.serialize({ ...m, cancelReason: 7 })).toBe(slow);
  });

  it('event types other than PUT and DELETE, and lone surrogates, are written by proto-loader', () => {
    const odd: Partial<WatchResponse>[] = [
      { cancelReason: 'half a pair \ud83d' },
      { cancelReason: `${'x'.repeat(40)} \udd11 past 40 characters` },
      { events: [{ type: 'DELETE' as unknown as EventType, kv: { key: Buffer.from('k') } as unknown as KeyValue }] },
      { events: [{ type: 2 as EventType, kv: {} as KeyValue }] },
      { events: [{ type: -1 as EventType, kv: {} as KeyValue }] },
    ];
    for (const m of odd) {
      expect(() => encodeWatchResponse(m as WatchResponse)).toThrow(NotPlain);
      expect({ m, hex: hot.serialize(m).toString('hex') }).toEqual({ m, hex: reference(m).toString('hex') });
    }
  });

  it('watch_id -1 goes out as protobufjs writes a negative int64: ten bytes of two’s complement', () => {
    const m = { header: { clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 }, watchId: -1, created: true, canceled: true, cancelReason: 'no' };
    const hex = encodeWatchResponse(m as WatchResponse).toString('hex');
    // header {}, watch_id -1, created, canceled, cancel_reason "no".
    expect(hex).toBe(['0a00', '10ffffffffffffffffff01', '1801', '2001', '32026e6f'].join(''));
    expect(hex).toBe(reference(m).toString('hex'));
  });
});

describe('Watch requests', () => {
  it.each(SEEDS)('decode as proto-loader decodes them, seed %i', (seed) => {
    const rng = new TestRng(seed);
    const type = requestType('Watch', 'Watch');
    for (let i = 0; i < CASES / 4; i++) {
      const b = encodeMessage(type, message(rng, type));
      expect({ i, r: outcome(() => hot.deserialize(b)) }).toEqual({ i, r: outcome(() => loader.requestDeserialize(b)) });
    }
  });
});
