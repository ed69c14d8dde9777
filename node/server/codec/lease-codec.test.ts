// The hand-written Lease codecs (KeepAlive, Grant, Revoke) against proto-loader's, on seeded
// random messages: the same objects from the same request bytes (well-formed; truncated, damaged
// or fuzzed), and the same bytes from the same response objects as proto-loader writes for
// omitProtoDefaults(response). The seed of every case is in the test name; a failure names the
// case index.

import { describe, expect, it } from 'vitest';
import type { MethodDefinition } from '@grpc/proto-loader';
import { TestRng } from '../../mvcc/testing/rng.js';
import { encodeMessage, message, mutate, requestType } from '../../../test/fuzz/proto-gen.js';
import { omitProtoDefaults } from '../proto-defaults.js';
import { loadEtcdProtos } from '../proto-load.js';
import { NotPlain } from './kv-codec.js';
import type { Decode } from './kv-codec.js';
import * as codec from './lease-codec.js';
import { hotMethodCodec } from './method-codec.js';
import { WireReader } from './proto-wire.js';
import { header, int, leaseGrantResponse, leaseId, leaseKeepAliveResponse, leaseRevokeResponse, outcome, seedsFrom } from './testing/random-messages.js';
import { responseEncodingTests } from './testing/response-encoding.js';

/** CODEC_SEEDS=1-50 runs more (make test runs three). */
const SEEDS = seedsFrom(process.env['CODEC_SEEDS'] ?? '1-3');
const CASES = 2000;

const service = loadEtcdProtos()['etcdserverpb.Lease'] as unknown as Record<string, MethodDefinition<unknown, unknown>>;

type Obj = Record<string, unknown>;

interface LeaseMethod<Res> {
  method: string;
  decode: Decode<unknown>;
  encode(m: Res): Buffer;
  /** A random answer shaped as the member makes it. */
  make(rng: TestRng): Res;
  /** Answers only proto-loader writes: the encoder throws NotPlain, the serializer falls back. */
  odd: readonly Obj[];
}

/** Values of a header only proto-loader converts: every lease answer has one. */
const ODD_HEADERS: readonly Obj[] = [
  { header: { revision: '3' } },
  { header: { clusterId: 7, memberId: 1n } },
  { header: { raftTerm: 2 ** 60 } },
  { header: 'x' },
  { header: [] },
];

/** Ids and TTLs as strings, numbers for ids and bigints for TTLs: protobufjs takes them all. */
const ODD_IDS_AND_TTLS: readonly Obj[] = [
  { ID: '7' },
  { ID: 7 },
  { ID: '-1', TTL: '30' },
  { ID: '18446744073709551615' },
  { TTL: 5n },
  { TTL: 2 ** 60 },
  { TTL: 1.5 },
];

function leaseMethodTests<Res>(c: LeaseMethod<Res>): void {
  const loader = service[c.method]!;
  const hot = hotMethodCodec('etcdserverpb.Lease', c.method, loader)!;
  // What every other method's serializer does (grpc-server.ts): proto3 zero values left off.
  const reference = (v: unknown): Buffer => loader.responseSerialize(omitProtoDefaults(v));
  const type = requestType('Lease', c.method);

  /** Half the wire fuzzer's requests (int64 extremes as strings), half ids of every size and TTLs of both signs. */
  function request(rng: TestRng): Buffer {
    if (rng.chance(0.5)) return encodeMessage(type, message(rng, type));
    const o: Obj = {};
    if (rng.chance(0.8)) o['ID'] = leaseId(rng);
    if (type.fields['TTL'] && rng.chance(0.8)) o['TTL'] = rng.chance(0.5) ? int(rng, true) : rng.pick([-1, 5, 60]);
    return loader.requestSerialize(o);
  }

  describe(`${c.method} request decoding matches proto-loader`, () => {
    it.each(SEEDS)('well-formed requests, seed %i: the fast path takes every one and gives the same object', (seed) => {
      const rng = new TestRng(seed);
      for (let i = 0; i < CASES; i++) {
        const bytes = request(rng);
        const r = new WireReader(bytes);
        const got = c.decode(r);
        expect({ i, ok: r.ok && got !== undefined }).toEqual({ i, ok: true });
        expect({ i, got }).toStrictEqual({ i, got: loader.requestDeserialize(bytes) });
      }
    });

    it.each(SEEDS)('truncated, damaged and concatenated requests, seed %i: the same object or the same error', (seed) => {
      const rng = new TestRng(seed * 31 + 7);
      for (let i = 0; i < CASES; i++) {
        const one = request(rng);
        const x = rng.next();
        const bytes = x < 0.3 ? one.subarray(0, rng.int(one.length)) : x < 0.45 ? Buffer.concat([one, request(rng)]) : mutate(rng, one);
        const hex = bytes.toString('hex');
        const slow = outcome(() => loader.requestDeserialize(bytes));
        const r = new WireReader(bytes);
        const fast = c.decode(r);
        if (fast !== undefined && r.ok) expect({ i, hex, r: { value: fast } }).toStrictEqual({ i, hex, r: slow });
        expect({ i, hex, r: outcome(() => hot.deserialize(bytes)) }).toStrictEqual({ i, hex, r: slow });
      }
    });
  });

  describe(`${c.method} response encoding matches proto-loader byte for byte`, () => {
    responseEncodingTests(SEEDS, CASES, { make: c.make, encode: c.encode, serialize: hot.serialize, reference });

    it('values only proto-loader converts are written by proto-loader', () => {
      for (const m of c.odd) {
        expect(() => c.encode(m as Res)).toThrow(NotPlain);
        expect({ m, r: outcome(() => hot.serialize(m).toString('hex')) }).toEqual({ m, r: outcome(() => reference(m).toString('hex')) });
      }
    });

    it('the method’s codecs are the fast ones in front of proto-loader’s', () => {
      const slowIn = { from: 'proto-loader' };
      const slowOut = Buffer.from('proto-loader');
      const stub = hotMethodCodec('etcdserverpb.Lease', c.method, { requestDeserialize: () => slowIn, responseSerialize: () => slowOut })!;
      const bytes = loader.requestSerialize({ ID: 7n });
      expect(stub.deserialize(bytes)).toStrictEqual(loader.requestDeserialize(bytes));
      // Field 15 is no field of these requests.
      expect(stub.deserialize(Buffer.from('7801', 'hex'))).toBe(slowIn);
      const m = c.make(new TestRng(1));
      expect(stub.serialize(m)).toEqual(reference(m));
      expect(stub.serialize({ ...m, header: { revision: '3' } })).toBe(slowOut);
    });
  });
}

leaseMethodTests({
  method: 'LeaseKeepAlive',
  decode: codec.decodeLeaseKeepAliveRequest,
  encode: codec.encodeLeaseKeepAliveResponse,
  make: leaseKeepAliveResponse,
  odd: [...ODD_HEADERS, ...ODD_IDS_AND_TTLS],
});

leaseMethodTests({
  method: 'LeaseGrant',
  decode: codec.decodeLeaseGrantRequest,
  encode: codec.encodeLeaseGrantResponse,
  make: leaseGrantResponse,
  odd: [
    ...ODD_HEADERS,
    ...ODD_IDS_AND_TTLS,
    { error: 7 },
    { error: 'half a pair \ud83d' },
    { error: `${'x'.repeat(40)} \udd11 past 40 characters` },
  ],
});

leaseMethodTests({
  method: 'LeaseRevoke',
  decode: codec.decodeLeaseRevokeRequest,
  encode: codec.encodeLeaseRevokeResponse,
  make: leaseRevokeResponse,
  odd: ODD_HEADERS,
});

describe('Lease answers at the edges', () => {
  const reference = (method: string, v: unknown): Buffer => service[method]!.responseSerialize(omitProtoDefaults(v));
  const empty = { clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 };

  it('a keep-alive of a lease that is gone leaves TTL 0 off; id 2^64-1 and TTL -1 take ten bytes each', () => {
    const gone = { header: empty, ID: 5n, TTL: 0 };
    expect(codec.encodeLeaseKeepAliveResponse(gone).toString('hex')).toBe(['0a00', '1005'].join(''));
    const edge = { header: empty, ID: 2n ** 64n - 1n, TTL: -1 };
    const hex = codec.encodeLeaseKeepAliveResponse(edge).toString('hex');
    expect(hex).toBe(['0a00', '10ffffffffffffffffff01', '18ffffffffffffffffff01'].join(''));
    expect(hex).toBe(reference('LeaseKeepAlive', edge).toString('hex'));
  });

  it('a grant’s answer is a keep-alive’s with its error after', () => {
    const m = { header: header(new TestRng(2)), ID: -(2n ** 63n), TTL: 60, error: 'é' };
    const hex = codec.encodeLeaseGrantResponse(m).toString('hex');
    expect(hex).toBe(codec.encodeLeaseKeepAliveResponse(m).toString('hex') + '2202c3a9');
    expect(hex).toBe(reference('LeaseGrant', m).toString('hex'));
  });

  it('a revoke’s answer with no header is no bytes at all', () => {
    expect(codec.encodeLeaseRevokeResponse({} as never).length).toBe(0);
    expect(codec.encodeLeaseRevokeResponse({ header: empty }).toString('hex')).toBe('0a00');
  });
});
