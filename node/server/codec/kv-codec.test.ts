// The hand-written KV codecs against proto-loader's, on seeded random messages: the same objects
// from the same request bytes (well-formed, and damaged), and the same bytes from the same
// response objects as proto-loader writes for omitProtoDefaults(response). The seed of every
// case is in the test name; a failure names the case index.

import { describe, expect, it } from 'vitest';
import type { MethodDefinition } from '@grpc/proto-loader';
import { TestRng } from '../../mvcc/testing/rng.js';
import { encodeMessage, message, mutate, requestType } from '../../../test/fuzz/proto-gen.js';
import { omitProtoDefaults } from '../proto-defaults.js';
import { loadEtcdProtos } from '../proto-load.js';
import { decodePutRequest, decodeRangeRequest } from './kv-codec.js';
import { hotMethodCodec } from './method-codec.js';
import { WireReader, WireWriter, int64Size } from './proto-wire.js';
import { outcome, putResponse, rangeResponse, seedsFrom, spoil } from './testing/random-messages.js';

/** CODEC_SEEDS=1-50 runs more (make test runs three). */
const SEEDS = seedsFrom(process.env['CODEC_SEEDS'] ?? '1-3');
const CASES = 2000;

type AnyMethod = MethodDefinition<unknown, unknown>;
const kv = loadEtcdProtos()['etcdserverpb.KV'] as unknown as Record<string, AnyMethod>;

describe.each(['Range', 'Put'])('%s request decoding matches proto-loader', (method) => {
  const loader = kv[method]!;
  const hot = hotMethodCodec('etcdserverpb.KV', method, loader)!;
  const fast = method === 'Range' ? decodeRangeRequest : decodePutRequest;
  const type = requestType('KV', method);

  it.each(SEEDS)('well-formed messages, seed %i: the fast path takes every one and gives the same object', (seed) => {
    const rng = new TestRng(seed);
    for (let i = 0; i < CASES; i++) {
      const bytes = encodeMessage(type, message(rng, type));
      const r = new WireReader(bytes);
      const got = fast(r);
      expect({ i, ok: r.ok && got !== undefined }).toEqual({ i, ok: true });
      expect({ i, got }).toEqual({ i, got: loader.requestDeserialize(bytes) });
    }
  });

  it.each(SEEDS)('damaged and concatenated messages, seed %i: the same object or the same error', (seed) => {
    const rng = new TestRng(seed * 31 + 7);
    for (let i = 0; i < CASES; i++) {
      const one = encodeMessage(type, message(rng, type));
      const bytes = rng.chance(0.2) ? Buffer.concat([one, encodeMessage(type, message(rng, type))]) : mutate(rng, one);
      expect({ i, hex: bytes.toString('hex'), r: outcome(() => hot.deserialize(bytes)) }).toEqual({
        i,
        hex: bytes.toString('hex'),
        r: outcome(() => loader.requestDeserialize(bytes)),
      });
    }
  });
});

describe.each([
  ['Range', rangeResponse],
  ['Put', putResponse],
] as const)('%s response encoding matches proto-loader byte for byte', (method, make) => {
  const loader = kv[method]!;
  const hot = hotMethodCodec('etcdserverpb.KV', method, loader)!;
  // What every other method's serializer does (grpc-server.ts): proto3 zero values left off.
  const reference = (v: unknown): Buffer => loader.responseSerialize(omitProtoDefaults(v));

  it.each(SEEDS)('answers as the store makes them, seed %i', (seed) => {
    const rng = new TestRng(seed * 1009);
    for (let i = 0; i < CASES; i++) {
      const m = make(rng);
      expect({ i, hex: hot.serialize(m).toString('hex') }).toEqual({ i, hex: reference(m).toString('hex') });
    }
  });

  it.each(SEEDS)('values only proto-loader converts go to proto-loader, seed %i', (seed) => {
    const rng = new TestRng(seed * 7);
    for (let i = 0; i < CASES / 4; i++) {
      const m = make(rng) as unknown as Record<string, unknown>;
      const inner = m['header'] ?? m['prevKv'] ?? (m['kvs'] as unknown[] | undefined)?.[0];
      spoil(rng, rng.chance(0.5) && inner && typeof inner === 'object' ? (inner as Record<string, unknown>) : m);
      const hex = (f: (v: unknown) => Buffer) => outcome(() => f(m).toString('hex'));
      expect({ i, r: hex(hot.serialize) }).toEqual({ i, r: hex(reference) });
    }
  });
});

describe('wire primitives', () => {
  it('int64 varints round-trip at the edges, with the sizes int64Size gives', () => {
    const values = [0, 1, -1, 127, 128, -128, 2 ** 31, -(2 ** 31), 2 ** 32, -(2 ** 32) - 1, 2 ** 53 - 1, -(2 ** 53 - 1)];
    for (const v of values) {
      const w = new WireWriter(Buffer.alloc(10));
      w.int64(v);
      expect({ v, size: w.pos }).toEqual({ v, size: int64Size(v) });
      const r = new WireReader(w.buf.subarray(0, w.pos));
      expect(r.varint()).toBe(true);
      expect(r.int64()).toBe(v);
    }
  });
});
