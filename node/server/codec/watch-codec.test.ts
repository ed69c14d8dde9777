// The hand-written Watch codecs against proto-loader's, on seeded random messages: the same
// objects from the same request bytes (well-formed, with filters packed or not; truncated,
// damaged or fuzzed), and the same bytes from the same answers, shaped as the member makes them,
// as proto-loader writes for omitProtoDefaults(answer); whatever either leaves to proto-loader
// answered by proto-loader. The seed of every case is in the test name; a failure names the case
// index.

import { describe, expect, it } from 'vitest';
import type { MethodDefinition } from '@grpc/proto-loader';
import type { Type } from 'protobufjs';
import { TestRng } from '../../mvcc/testing/rng.js';
import { EventType } from '../../mvcc/types.js';
import type { Event, KeyValue, WatchResponse } from '../../mvcc/types.js';
import { encodeMessage, message, mutate, requestType } from '../../../test/fuzz/proto-gen.js';
import { omitProtoDefaults } from '../proto-defaults.js';
import { loadEtcdProtos } from '../proto-load.js';
import { NotPlain } from './kv-codec.js';
import { hotMethodCodec } from './method-codec.js';
import { bytes, header, int, keyValue, outcome, seedsFrom } from './testing/random-messages.js';
import { responseEncodingTests } from './testing/response-encoding.js';
import { WireReader, WireWriter } from './proto-wire.js';
import { decodeWatchRequest, encodeWatchResponse } from './watch-codec.js';

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

// ---------------------------------------------------------------- requests, as clients write them

type Obj = Record<string, unknown>;

const requestTypeOfWatch = requestType('Watch', 'Watch');
const createType = requestTypeOfWatch.fields['createRequest']!.resolvedType as Type;

/** A watch id or revision of every size and sign: 0 and -1, small, up to 2^53, and int64's far ends as decimal strings. */
function int64(rng: TestRng): number | string {
  const x = rng.next();
  if (x < 0.3) return rng.pick([0, -1, 1 + rng.int(100)]);
  if (x < 0.85) return int(rng, true);
  return rng.pick(['9007199254740993', '9223372036854775807', '-9223372036854775808', '-4294967297', '18014398509481985']);
}

/** NOPUT and NODELETE, now and then a value outside FilterType (protobufjs keeps the number). */
function filter(rng: TestRng): number {
  return rng.chance(0.9) ? rng.int(2) : rng.pick([2, -1, 1000, 2 ** 31 - 1, -(2 ** 31)]);
}

/** A create with each field there or not. */
function createRequest(rng: TestRng): Obj {
  const c: Obj = {
    key: bytes(rng), rangeEnd: bytes(rng), startRevision: int64(rng), progressNotify: rng.chance(0.5),
    filters: Array.from({ length: rng.int(4) }, () => filter(rng)), prevKv: rng.chance(0.5), watchId: int64(rng), fragment: rng.chance(0.5),
  };
  for (const k of Object.keys(c)) if (rng.chance(0.3)) delete c[k];
  return c;
}

/** Varints as protobufjs writes an int32 (a negative one in ten bytes), each after `tag` when given. */
function varints(values: readonly number[], tag?: number): Buffer {
  const w = new WireWriter(Buffer.alloc(values.length * 11));
  for (const v of values) {
    if (tag !== undefined) w.byte(tag);
    w.int64(v);
  }
  return w.buf.subarray(0, w.pos);
}

/** A length-delimited field: its one-byte tag, length and body. */
function lenDelimited(tag: number, body: Buffer): Buffer {
  const w = new WireWriter(Buffer.alloc(11));
  w.byte(tag);
  w.uvarint(body.length);
  return Buffer.concat([w.buf.subarray(0, w.pos), body]);
}

/** A create whose filters go out in runs, each packed (field 5, 0x2a) or a field per value (0x28), before or after the rest. */
function createBytes(rng: TestRng, c: Obj): Buffer {
  const { filters = [], ...rest } = c;
  let body = Buffer.from(createType.encode(createType.fromObject(rest)).finish());
  let left = filters as number[];
  while (left.length > 0 || rng.chance(0.1)) {
    const run = left.slice(0, 1 + rng.int(left.length));
    left = left.slice(run.length);
    const wire = rng.chance(0.5) ? lenDelimited(0x2a, varints(run)) : varints(run, 0x28);
    body = rng.chance(0.5) ? Buffer.concat([body, wire]) : Buffer.concat([wire, body]);
  }
  return lenDelimited(0x0a, body);
}

/** Every arm of the oneof, and none; creates through requestSerialize (filters packed) or by hand. */
function ownRequest(rng: TestRng): Buffer {
  const x = rng.next();
  if (x < 0.6) {
    const c = createRequest(rng);
    return rng.chance(0.5) ? loader.requestSerialize({ createRequest: c }) : createBytes(rng, c);
  }
  if (x < 0.8) return loader.requestSerialize({ cancelRequest: rng.chance(0.9) ? { watchId: int64(rng) } : {} });
  return loader.requestSerialize(x < 0.95 ? { progressRequest: {} } : {});
}

/** Half ours, half the wire fuzzer's (bad enums, int64 extremes) with its oneof set once at most. */
function wellFormedRequest(rng: TestRng): Buffer {
  if (rng.chance(0.5)) return ownRequest(rng);
  const [first] = Object.entries(message(rng, requestTypeOfWatch));
  return encodeMessage(requestTypeOfWatch, first ? Object.fromEntries([first]) : {});
}

/**
 * Checks `bytes` against proto-loader: the method's deserializer gives the same object or the
 * same error, and so does the fast path when it takes them. Its answer: the fast path's object,
 * or undefined when it gives up. `i` names the random case.
 */
function decodedAsLoader(bytes: Buffer, i = -1): unknown {
  const hex = bytes.toString('hex');
  const slow = outcome(() => loader.requestDeserialize(bytes));
  expect({ i, hex, r: outcome(() => hot.deserialize(bytes)) }).toStrictEqual({ i, hex, r: slow });
  const r = new WireReader(bytes);
  const fast = decodeWatchRequest(r);
  if (fast === undefined || !r.ok) return undefined;
  expect({ i, hex, r: { value: fast } }).toStrictEqual({ i, hex, r: slow });
  return fast;
}

const decoded = (hex: string): unknown => decodedAsLoader(Buffer.from(hex, 'hex'));

describe('Watch request decoding matches proto-loader', () => {
  it.each(SEEDS)('well-formed requests, seed %i: the fast path takes every one and gives the same object', (seed) => {
    const rng = new TestRng(seed);
    for (let i = 0; i < CASES; i++) {
      expect({ i, taken: decodedAsLoader(wellFormedRequest(rng), i) !== undefined }).toEqual({ i, taken: true });
    }
  });

  it.each(SEEDS)('truncated, damaged and fuzzed requests, seed %i: the same object or the same error', (seed) => {
    const rng = new TestRng(seed * 31 + 7);
    const type = requestTypeOfWatch;
    for (let i = 0; i < CASES; i++) {
      // Ours, or the wire fuzzer's whole (both oneof members now and then).
      const one = rng.chance(0.5) ? ownRequest(rng) : encodeMessage(type, message(rng, type));
      const x = rng.next();
      decodedAsLoader(x < 0.3 ? one.subarray(0, rng.int(one.length)) : x < 0.45 ? Buffer.concat([one, ownRequest(rng)]) : mutate(rng, one), i);
    }
  });

  it('every arm of the oneof, and none, with proto-loader’s fields in proto-loader’s order', () => {
    const defaults = { filters: [], key: Buffer.alloc(0), rangeEnd: Buffer.alloc(0), startRevision: 0, progressNotify: false, prevKv: false, watchId: 0, fragment: false };
    const create = decoded('0a00') as { createRequest: Obj };
    expect(create).toStrictEqual({ createRequest: defaults, requestUnion: 'createRequest' });
    expect(Object.keys(create)).toEqual(['createRequest', 'requestUnion']);
    expect(Object.keys(create.createRequest)).toEqual(Object.keys(defaults));
    expect(decoded('1200')).toStrictEqual({ cancelRequest: { watchId: 0 }, requestUnion: 'cancelRequest' });
    expect(decoded('1a00')).toStrictEqual({ progressRequest: {}, requestUnion: 'progressRequest' });
    expect(decoded('')).toStrictEqual({});
  });

  it('filters packed, one field per value, mixed, empty, and outside FilterType', () => {
    const filters = (hex: string): unknown => (decoded(hex) as { createRequest: Obj }).createRequest.filters;
    expect(filters('0a042a020001')).toEqual([0, 1]);
    expect(filters('0a0428002801')).toEqual([0, 1]);
    expect(filters('0a07280128002a0101')).toEqual([1, 0, 1]);
    expect(filters('0a022a00')).toEqual([]);
    // 2, then -1 in five bytes and in ten.
    expect(filters('0a122a1002ffffffff0fffffffffffffffffff01')).toEqual([2, -1, -1]);
  });

  it('watch ids and revisions at int64’s edges read as protobufjs’s toNumber gives them', () => {
    const cancelled = (hex: string): unknown => (decoded(hex) as { cancelRequest: Obj }).cancelRequest.watchId;
    expect(cancelled('120b08ffffffffffffffffff01')).toBe(-1);
    expect(cancelled('120a08ffffffffffffffff7f')).toBe(2 ** 63);
    expect(cancelled('120b0880808080808080808001')).toBe(-(2 ** 63));
    expect(cancelled('120908ffffffffffffff0f')).toBe(2 ** 53 - 1);
    const created = decoded('0a170a016118ffffffffffffffffff0138ffffffffffffff0f') as { createRequest: Obj };
    expect(created.createRequest).toMatchObject({ key: Buffer.from('a'), startRevision: -1, watchId: 2 ** 53 - 1 });
  });

  it('what only proto-loader reads goes to proto-loader, with the same result', () => {
    const odd = [
      '0a0012001a00', // two members: proto-loader keeps all three
      '0a000a00', // one member twice
      '1a020801', // a field in WatchProgressRequest, which has none
      '0a022200', // field 4 (progress_notify) as bytes
      '0a024801', // field 9: no field of a create
      '0a042a018001', // a packed filter running past its run
      '0a0c28ffffffffffffffffffff01', // a filter past ten bytes
      '0a0728ffffffffff01', // a filter in six bytes: protobufjs's uint32 skips the rest
      '2200', // field 4: no member of request_union
      '0802', // request_union member as a varint
      '0a05', // a length past the end
    ];
    for (const hex of odd) expect({ hex, fast: decoded(hex) }).toEqual({ hex, fast: undefined });
  });

  it('the stream’s codecs are the fast ones in front of proto-loader’s', () => {
    const slowIn = { from: 'proto-loader' };
    const slowOut = Buffer.from('proto-loader');
    const stub = hotMethodCodec('etcdserverpb.Watch', 'Watch', { requestDeserialize: () => slowIn, responseSerialize: () => slowOut })!;
    const bytes = loader.requestSerialize({ createRequest: { key: Buffer.from('k'), filters: [1], watchId: 7 } });
    expect(stub.deserialize(bytes)).toStrictEqual(loader.requestDeserialize(bytes));
    // Field 4 is no member of request_union.
    expect(stub.deserialize(Buffer.from('2200', 'hex'))).toBe(slowIn);
    const m = watchResponse(new TestRng(1));
    expect(stub.serialize(m)).toEqual(reference(m));
    expect(stub.serialize({ ...m, cancelReason: 7 })).toBe(slowOut);
  });
});
