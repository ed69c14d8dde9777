// The hand-written Txn codec against proto-loader's, on seeded random messages: the same objects
// from the same request bytes (well-formed; truncated, damaged or fuzzed), and the same bytes from
// the same response objects as proto-loader writes for omitProtoDefaults(response). The seed of
// every case is in the test name; a failure names the case index.

import { describe, expect, it } from 'vitest';
import type { MethodDefinition } from '@grpc/proto-loader';
import { TestRng } from '../../mvcc/testing/rng.js';
import type { DeleteRangeResponse, ResponseOp, TxnResponse } from '../../mvcc/types.js';
import { encodeMessage, message, mutate, requestType } from '../../../test/fuzz/proto-gen.js';
import { omitProtoDefaults } from '../proto-defaults.js';
import { loadEtcdProtos } from '../proto-load.js';
import { NotPlain } from './kv-codec.js';
import { hotMethodCodec } from './method-codec.js';
import { WireReader } from './proto-wire.js';
import { header, innerHeader, int, keyValue, lease, maybe, outcome, putResponse, rangeResponse, seedsFrom } from './testing/random-messages.js';
import { responseEncodingTests } from './testing/response-encoding.js';
import { decodeTxnRequest, encodeTxnResponse } from './txn-codec.js';

/** CODEC_SEEDS=1-50 runs more (make test runs three). */
const SEEDS = seedsFrom(process.env['CODEC_SEEDS'] ?? '1-3');
const CASES = 2000;
/** Nested txns in the random messages: up to three levels below the outer one. */
const MAX_TXN_DEPTH = 3;

const loader = (loadEtcdProtos()['etcdserverpb.KV'] as unknown as Record<string, MethodDefinition<unknown, unknown>>)['Txn']!;
const hot = hotMethodCodec('etcdserverpb.KV', 'Txn', loader)!;
// What every other method's serializer does (grpc-server.ts): proto3 zero values left off.
const reference = (v: unknown): Buffer => loader.responseSerialize(omitProtoDefaults(v));

// ---------------------------------------------------------------- requests, as a client writes them

type Obj = Record<string, unknown>;

/** Keeps each field of `o` with probability 0.6: the rest decode as defaults. */
function some(rng: TestRng, o: Obj): Obj {
  for (const k of Object.keys(o)) if (rng.chance(0.4)) delete o[k];
  return o;
}

function reqBytes(rng: TestRng): Buffer {
  const x = rng.next();
  if (x < 0.2) return Buffer.alloc(0);
  if (x < 0.3) return Buffer.from([0]);
  return Buffer.from(Array.from({ length: 1 + rng.int(rng.chance(0.9) ? 20 : 400) }, () => rng.int(256)));
}

/** An int64 as requestSerialize takes it: a number, or a decimal string past 2^53 (both signs). */
function int64(rng: TestRng): number | string {
  const x = rng.next();
  if (x < 0.7) return int(rng, true);
  return rng.pick(['9007199254740993', '9223372036854775807', '-9223372036854775808', '-1', '18014398509481985']);
}

function leaseId(rng: TestRng): string {
  return lease(rng).toString();
}

/** Mostly valid, now and then out of range (protobufjs keeps the number). */
function enumValue(rng: TestRng, n: number): number {
  return rng.chance(0.95) ? rng.int(n) : rng.pick([-1, n, 1000]);
}

function compare(rng: TestRng): Obj {
  const c: Obj = { result: enumValue(rng, 4), target: enumValue(rng, 5), key: reqBytes(rng) };
  if (rng.chance(0.4)) c['rangeEnd'] = reqBytes(rng);
  // A member set to its zero value is still on the wire (a oneof has presence).
  const zero = rng.chance(0.15);
  switch (rng.int(6)) {
    case 0: c['version'] = zero ? 0 : int64(rng); break;
    case 1: c['createRevision'] = zero ? 0 : int64(rng); break;
    case 2: c['modRevision'] = zero ? 0 : int64(rng); break;
    case 3: c['value'] = zero ? Buffer.alloc(0) : reqBytes(rng); break;
    case 4: c['lease'] = zero ? 0 : leaseId(rng); break;
  }
  return rng.chance(0.1) ? some(rng, c) : c;
}

function requestOp(rng: TestRng, depth: number): Obj {
  switch (rng.int(depth < MAX_TXN_DEPTH ? 5 : 4)) {
    case 0:
      return {
        requestRange: some(rng, {
          key: reqBytes(rng), rangeEnd: reqBytes(rng), limit: int64(rng), revision: int64(rng),
          sortOrder: enumValue(rng, 3), sortTarget: enumValue(rng, 5), serializable: rng.chance(0.5),
          keysOnly: rng.chance(0.5), countOnly: rng.chance(0.5), minModRevision: int64(rng),
          maxModRevision: int64(rng), minCreateRevision: int64(rng), maxCreateRevision: int64(rng),
        }),
      };
    case 1:
      return {
        requestPut: some(rng, {
          key: reqBytes(rng), value: reqBytes(rng), lease: leaseId(rng),
          prevKv: rng.chance(0.5), ignoreValue: rng.chance(0.5), ignoreLease: rng.chance(0.5),
        }),
      };
    case 2:
      return { requestDeleteRange: some(rng, { key: reqBytes(rng), rangeEnd: reqBytes(rng), prevKv: rng.chance(0.5) }) };
    case 3:
      // An empty RequestOp: no member at all.
      return rng.chance(0.2) ? {} : requestOp(rng, depth);
    default:
      return { requestTxn: txnRequest(rng, depth + 1) };
  }
}

/** Branches often empty; nested txns down to MAX_TXN_DEPTH. */
function txnRequest(rng: TestRng, depth: number): Obj {
  const list = <T>(make: () => T): T[] => Array.from({ length: rng.chance(0.25) ? 0 : rng.int(depth === 0 ? 6 : 3) }, make);
  return some(rng, {
    compare: list(() => compare(rng)),
    success: list(() => requestOp(rng, depth)),
    failure: list(() => requestOp(rng, depth)),
  });
}

/** A txn nested `levels` deep, each level with a compare and a range beside the inner txn. */
function deepTxn(levels: number): Obj {
  const leaf = { compare: [{ key: Buffer.from('k'), lease: '7' }], success: [{ requestRange: { key: Buffer.from('a') } }] };
  let t: Obj = leaf;
  for (let i = 0; i < levels; i++) t = { compare: [{ version: 1 }], success: [{ requestRange: {} }, { requestTxn: t }] };
  return t;
}

describe('Txn request decoding matches proto-loader', () => {
  const type = requestType('KV', 'Txn');

  it.each(SEEDS)('well-formed requests, seed %i: the fast path takes every one and gives the same object', (seed) => {
    const rng = new TestRng(seed);
    for (let i = 0; i < CASES; i++) {
      const bytes = loader.requestSerialize(txnRequest(rng, 0));
      const r = new WireReader(bytes);
      const got = decodeTxnRequest(r);
      expect({ i, ok: r.ok && got !== undefined }).toEqual({ i, ok: true });
      expect({ i, got }).toStrictEqual({ i, got: loader.requestDeserialize(bytes) });
    }
  });

  it.each(SEEDS)('truncated, damaged and fuzzed requests, seed %i: the fast path never throws and takes only what proto-loader reads the same', (seed) => {
    const rng = new TestRng(seed * 31 + 7);
    for (let i = 0; i < CASES; i++) {
      // Our own requests, or the wire fuzzer's (doubly-set oneofs, bad enums, int64 extremes).
      const one = rng.chance(0.5) ? loader.requestSerialize(txnRequest(rng, 0)) : encodeMessage(type, message(rng, type));
      const x = rng.next();
      const bytes = x < 0.3 ? one.subarray(0, rng.int(one.length)) : x < 0.4 ? Buffer.concat([one, one]) : mutate(rng, one);
      const hex = bytes.toString('hex');
      const slow = outcome(() => loader.requestDeserialize(bytes));
      const r = new WireReader(bytes);
      const fast = decodeTxnRequest(r);
      if (fast !== undefined && r.ok) expect({ i, hex, r: { value: fast } }).toStrictEqual({ i, hex, r: slow });
      expect({ i, hex, r: outcome(() => hot.deserialize(bytes)) }).toStrictEqual({ i, hex, r: slow });
    }
  });

  it('txns nested past the reader’s limit go to proto-loader, with the same result', () => {
    for (const levels of [1, 10, 31, 32, 45]) {
      const bytes = loader.requestSerialize(deepTxn(levels));
      const r = new WireReader(bytes);
      const fast = decodeTxnRequest(r);
      expect({ levels, fast: fast !== undefined && r.ok }).toEqual({ levels, fast: levels <= 31 });
      expect({ levels, got: hot.deserialize(bytes) }).toStrictEqual({ levels, got: loader.requestDeserialize(bytes) });
    }
  });
});

// ---------------------------------------------------------------- responses, as the store makes them

function deleteRangeResponse(rng: TestRng): DeleteRangeResponse {
  return {
    header: maybe(rng, () => innerHeader(rng)),
    deleted: maybe(rng, () => int(rng, false)),
    prevKvs: rng.chance(0.2) ? undefined : Array.from({ length: rng.int(4) }, () => keyValue(rng)),
  } as unknown as DeleteRangeResponse;
}

function responseOp(rng: TestRng, depth: number): ResponseOp {
  switch (rng.int(depth < MAX_TXN_DEPTH ? 4 : 3)) {
    case 0: return { responseRange: rangeResponse(rng, innerHeader) };
    case 1: return { responsePut: putResponse(rng, innerHeader) };
    case 2: return { responseDeleteRange: deleteRangeResponse(rng) };
    default: return { responseTxn: txnResponse(rng, depth + 1) };
  }
}

/** The outer header with the member's identity; those inside with their revision alone (kv-service.ts). */
function txnResponse(rng: TestRng, depth = 0): TxnResponse {
  return {
    header: maybe(rng, () => (depth === 0 ? header(rng) : innerHeader(rng))),
    succeeded: maybe(rng, () => rng.chance(0.5)),
    responses: rng.chance(0.05) ? undefined : Array.from({ length: rng.chance(0.2) ? 0 : rng.int(depth === 0 ? 6 : 3) }, () => responseOp(rng, depth)),
  } as unknown as TxnResponse;
}

function deepTxnResponse(levels: number): TxnResponse {
  let t: TxnResponse = { header: { clusterId: 0n, memberId: 0n, revision: 3, raftTerm: 0 }, succeeded: true, responses: [] };
  for (let i = 0; i < levels; i++) {
    t = { header: { clusterId: 1n, memberId: 2n, revision: 0, raftTerm: 0 }, succeeded: false, responses: [{ responseRange: { header: { clusterId: 0n, memberId: 0n, revision: 5, raftTerm: 0 }, kvs: [], more: false, count: 0 } }, { responseTxn: t }] };
  }
  return t;
}

describe('Txn response encoding matches proto-loader byte for byte', () => {
  responseEncodingTests(SEEDS, CASES, { make: txnResponse, encode: encodeTxnResponse, serialize: hot.serialize, reference });

  it('txns nested past the writer’s limit go to proto-loader, with the same bytes', () => {
    for (const levels of [1, 10, 31, 32, 45]) {
      const m = deepTxnResponse(levels);
      const fast = outcome(() => encodeTxnResponse(m));
      expect({ levels, fast: !(fast as { error?: string }).error }).toEqual({ levels, fast: levels <= 31 });
      expect({ levels, hex: hot.serialize(m).toString('hex') }).toEqual({ levels, hex: reference(m).toString('hex') });
    }
    expect(() => encodeTxnResponse(deepTxnResponse(40))).toThrow(NotPlain);
  });
});
