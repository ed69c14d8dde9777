import { describe, expect, it } from 'vitest';
import {
  ByteWriter,
  CodecError,
  decodeEntries,
  decodeEntry,
  decodeHardState,
  decodeSnapshotMetadata,
  encodeEntries,
  encodeEntry,
  encodeHardState,
  encodeSnapshotMetadata,
  ByteReader,
} from './codec.js';
import type { Entry } from '../raft/types.js';
import { TestRng } from '../../test/storage/helpers.js';

describe('codec', () => {
  it('round-trips entries, hard states and snapshot metadata (seeded random)', () => {
    const seed = 1234;
    const rng = new TestRng(seed);
    const big = () => (rng.intn(4) === 0 ? Number.MAX_SAFE_INTEGER - rng.intn(1000) : rng.intn(1 << 20));
    // Node ids: any uint64, often with the top bit set.
    const id = (): bigint => (rng.intn(2) === 0 ? 2n ** 64n - 1n - BigInt(rng.intn(1000)) : BigInt(big()));
    for (let i = 0; i < 300; i++) {
      const e: Entry = {
        term: big(),
        index: big(),
        type: rng.intn(2) ? 'normal' : 'confChange',
        data: Uint8Array.from({ length: rng.intn(300) }, () => rng.intn(256)),
      };
      expect(decodeEntry(encodeEntry(e)), `seed ${seed}`).toEqual(e);
      const hs = { term: big(), vote: id(), commit: big() };
      expect(decodeHardState(encodeHardState(hs))).toEqual(hs);
      const m = { index: big(), term: big(), confState: { voters: [id(), id()], learners: rng.intn(2) ? [id()] : [] } };
      expect(decodeSnapshotMetadata(encodeSnapshotMetadata(m))).toEqual(m);
    }
    const batch = [1, 2, 3].map((i) => ({ term: 2, index: i, type: 'normal' as const, data: new Uint8Array([i]) }));
    expect(decodeEntries(encodeEntries(batch))).toEqual(batch);
  });

  it('is compact: a small entry costs a few bytes beyond its data', () => {
    expect(encodeEntry({ term: 3, index: 100, type: 'normal', data: new Uint8Array(10) }).length).toBe(14);
  });

  it('rejects truncated, overlong and out-of-range input with CodecError', () => {
    const enc = encodeEntry({ term: 5, index: 9, type: 'normal', data: new Uint8Array(20) });
    for (let cut = 0; cut < enc.length; cut++) {
      expect(() => decodeEntry(enc.subarray(0, cut))).toThrow(CodecError);
    }
    expect(() => decodeEntry(new Uint8Array([...enc, 0]))).toThrow(CodecError);
    expect(() => new ByteWriter().varint(-1)).toThrow(CodecError);
    expect(() => new ByteWriter().varint(2 ** 53)).toThrow(CodecError);
    expect(() => new ByteReader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).varint()).toThrow(CodecError);
    // unknown entry type code 7
    expect(() => decodeEntry(new Uint8Array([1, 1, 7, 0]))).toThrow(CodecError);
  });
});

describe('node ids', () => {
  it('an id below 2^53 has the bytes it had as a number (old WALs and snapshots read back)', () => {
    for (const n of [0, 1, 127, 128, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]) {
      const w = new ByteWriter(16);
      w.varint(n);
      const old = w.view().slice();
      const v = new ByteWriter(16);
      v.id(BigInt(n));
      expect(v.view()).toEqual(old);
      expect(new ByteReader(old).id()).toBe(BigInt(n));
    }
    expect(() => new ByteWriter(16).id(2n ** 64n)).toThrow(/node id out of range/);
  });
});
