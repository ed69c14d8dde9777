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
    for (let i = 0; i < 300; i++) {
      const e: Entry = {
        term: big(),
        index: big(),
        type: rng.intn(2) ? 'normal' : 'confChange',
        data: Uint8Array.from({ length: rng.intn(300) }, () => rng.intn(256)),
      };
      expect(decodeEntry(encodeEntry(e)), `seed ${seed}`).toEqual(e);
      const hs = { term: big(), vote: big(), commit: big() };
      expect(decodeHardState(encodeHardState(hs))).toEqual(hs);
      const m = { index: big(), term: big(), confState: { voters: [big(), big()], learners: rng.intn(2) ? [big()] : [] } };
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
