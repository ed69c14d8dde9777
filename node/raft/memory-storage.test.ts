import { describe, expect, it } from 'vitest';
import { MemoryStorage } from './memory-storage.js';
import { CompactedError, SnapOutOfDateError, UnavailableError, type Entry } from './types.js';
import { ENTRY_OVERHEAD_BYTES } from './entry-size.js';

const e = (index: number, term: number, data = ''): Entry => ({ index, term, type: 'normal', data: new TextEncoder().encode(data) });
const cs = { voters: [1n, 2n, 3n], learners: [] };

function storage35(): MemoryStorage {
  // snapshot at 3 (term 3), entries 4 (term 4) and 5 (term 5)
  const s = new MemoryStorage({ data: new Uint8Array(), metadata: { index: 3, term: 3, confState: cs } });
  s.append([e(4, 4), e(5, 5)]);
  return s;
}

describe('MemoryStorage', () => {
  it('starts from the bootstrap snapshot with its membership', () => {
    const s = new MemoryStorage({ data: new Uint8Array(), metadata: { index: 0, term: 0, confState: cs } });
    expect(s.initialState().confState).toEqual(cs);
    expect(s.firstIndex()).toBe(1);
    expect(s.lastIndex()).toBe(0);
    expect(s.term(0)).toBe(0);
  });

  it('term(): compacted below the snapshot, unavailable past the end', () => {
    const s = storage35();
    expect(s.term(3)).toBe(3);
    expect(s.term(5)).toBe(5);
    expect(() => s.term(2)).toThrow(CompactedError);
    expect(() => s.term(6)).toThrow(UnavailableError);
  });

  it('entries(): bounds and the size limit (always at least one)', () => {
    const s = storage35();
    expect(() => s.entries(3, 5, Infinity)).toThrow(CompactedError);
    expect(() => s.entries(4, 7, Infinity)).toThrow();
    expect(s.entries(4, 6, Infinity).map((x) => x.index)).toEqual([4, 5]);
    expect(s.entries(4, 6, 0).map((x) => x.index)).toEqual([4]);
    expect(s.entries(4, 6, 2 * ENTRY_OVERHEAD_BYTES).map((x) => x.index)).toEqual([4, 5]);
  });

  it('append(): truncates a conflicting suffix, skips compacted entries, refuses a gap', () => {
    const s = storage35();
    s.append([e(5, 6, 'x'), e(6, 6)]);
    expect(s.lastIndex()).toBe(6);
    expect(s.term(5)).toBe(6);
    s.append([e(2, 2), e(3, 3), e(4, 4)]); // 2..3 compacted, 4 re-sent: truncates after 4
    expect(s.lastIndex()).toBe(4);
    s.append([e(1, 1)]); // entirely compacted: no-op
    expect(s.lastIndex()).toBe(4);
    expect(() => s.append([e(7, 7)])).toThrow(/missing log entry/);
  });

  it('compact(): keeps term of the new first dummy; refuses compacted or future indexes', () => {
    const s = storage35();
    s.compact(4);
    expect(s.firstIndex()).toBe(5);
    expect(s.term(4)).toBe(4);
    expect(() => s.compact(4)).toThrow(CompactedError);
    expect(() => s.compact(9)).toThrow();
  });

  it('createSnapshot() and applySnapshot()', () => {
    const s = storage35();
    const snap = s.createSnapshot(5, cs, new Uint8Array([1]));
    expect(snap.metadata).toEqual({ index: 5, term: 5, confState: cs });
    expect(() => s.createSnapshot(4, cs, new Uint8Array())).toThrow(SnapOutOfDateError);
    const t = new MemoryStorage();
    t.applySnapshot(snap);
    expect(t.firstIndex()).toBe(6);
    expect(t.lastIndex()).toBe(5);
    expect(t.snapshot()).toBe(snap);
    expect(() => t.applySnapshot({ data: new Uint8Array(), metadata: { index: 2, term: 2, confState: cs } })).toThrow(SnapOutOfDateError);
  });

  it('counts the payload bytes it holds through append, truncation, compaction and a snapshot', () => {
    const s = new MemoryStorage();
    // entries 1..10, entry i holds i bytes
    s.append(Array.from({ length: 10 }, (_, i) => e(i + 1, 1, 'x'.repeat(i + 1))));
    expect(s.bytes()).toBe(55);
    expect(s.bytesBetween(0, 10)).toBe(55);
    expect(s.bytesBetween(3, 5)).toBe(4 + 5);
    expect(s.bytesBetween(8, 99)).toBe(9 + 10); // clamped to the last index
    expect(s.bytesBetween(5, 5)).toBe(0);
    // A conflicting suffix from index 9 replaces 9 and 10.
    s.append([e(9, 2, 'y'), e(10, 2, 'yy'), e(11, 2, 'yyy')]);
    expect(s.bytes()).toBe(36 + 1 + 2 + 3);
    s.compact(4);
    expect(s.bytes()).toBe(42 - 10);
    expect(s.bytesBetween(0, 11)).toBe(32); // clamped to what is held
    expect(s.bytesBetween(4, 6)).toBe(5 + 6);
    s.applySnapshot({ data: new Uint8Array(), metadata: { index: 20, term: 3, confState: cs } });
    expect(s.bytes()).toBe(0);
    s.append([e(21, 3, 'abcd')]);
    expect(s.bytes()).toBe(4);
  });

  it('indexKeepingBytes(): the lowest compaction point that keeps at most maxBytes behind upTo', () => {
    const s = new MemoryStorage({ data: new Uint8Array(), metadata: { index: 100, term: 1, confState: cs } });
    // entries 101..110 of 10 bytes each
    s.append(Array.from({ length: 10 }, (_, i) => e(101 + i, 1, '0123456789')));
    expect(s.indexKeepingBytes(110, 1_000)).toBe(100); // everything fits: the dummy
    expect(s.indexKeepingBytes(110, 30)).toBe(107); // keeps 108..110
    expect(s.indexKeepingBytes(110, 35)).toBe(107);
    expect(s.indexKeepingBytes(110, 0)).toBe(110);
    expect(s.indexKeepingBytes(105, 20)).toBe(103); // keeps 104, 105 behind 105
    expect(s.indexKeepingBytes(500, 20)).toBe(108); // upTo clamped to 110
    expect(s.indexKeepingBytes(90, 20)).toBe(100);
    for (let upTo = 100; upTo <= 110; upTo++) {
      for (const max of [0, 5, 10, 25, 100]) {
        const i = s.indexKeepingBytes(upTo, max);
        expect(s.bytesBetween(i, upTo)).toBeLessThanOrEqual(max);
        if (i > 100) expect(s.bytesBetween(i - 1, upTo)).toBeGreaterThan(max);
      }
    }
  });

  describe('cold entries (demote: payloads read back from a source)', () => {
    // Entries 4..13, terms 4..4 then 5; the source is what a WAL would return, and counts its reads.
    function coldStorage(): { s: MemoryStorage; reads: Array<[number, number]>; truth: Entry[] } {
      const truth = Array.from({ length: 10 }, (_, i) => e(4 + i, i < 6 ? 4 : 5, `v${4 + i}-${'x'.repeat(i)}`));
      const s = new MemoryStorage({ data: new Uint8Array(), metadata: { index: 3, term: 3, confState: cs } });
      s.append(truth);
      const reads: Array<[number, number]> = [];
      s.setColdSource((lo, hi) => {
        reads.push([lo, hi]);
        return truth.filter((t) => t.index >= lo && t.index < hi).map((t) => ({ ...t, data: t.data.slice() }));
      });
      return { s, reads, truth };
    }
    const text = (es: readonly Entry[]): string[] => es.map((x) => `${x.index}/${x.term}:${new TextDecoder().decode(x.data)}`);

    it('demoted entries keep index and term, read back whole, and only the cold part is read', () => {
      const { s, reads, truth } = coldStorage();
      const all = s.memoryBytes();
      s.demote(8);
      expect(s.memoryBytes()).toBe(all - truth.slice(0, 5).reduce((n, t) => n + t.data.length, 0));
      expect(s.bytes()).toBe(all);
      expect(s.term(5)).toBe(4);
      expect(s.term(11)).toBe(5);
      expect(text(s.entries(4, 14, Infinity))).toEqual(text(truth));
      expect(reads).toEqual([[4, 9]]);
      expect(s.coldEntriesRead).toBe(5);
      // Hot entries only: no read.
      expect(text(s.entries(9, 12, Infinity))).toEqual(text(truth.slice(5, 8)));
      expect(reads).toHaveLength(1);
    });

    it('a size limit reads no more cold entries than it can return, and returns what it would without demotion', () => {
      const { s, reads, truth } = coldStorage();
      const limit = truth[0]!.data.length + truth[1]!.data.length + 2 * ENTRY_OVERHEAD_BYTES;
      const hot = text(s.entries(4, 14, limit));
      s.demote(13);
      expect(text(s.entries(4, 14, limit))).toEqual(hot);
      expect(hot).toHaveLength(2);
      // Only the entries that fit are read back, not the whole range.
      expect(reads).toEqual([[4, 6]]);
      // A limit below one entry still returns one.
      expect(text(s.entries(6, 14, 1))).toEqual(text(truth.slice(2, 3)));
    });

    it('a source that returns the wrong entry is an assertion, not wrong data on the wire', () => {
      const { s } = coldStorage();
      s.demote(6);
      s.setColdSource((lo, hi) => Array.from({ length: hi - lo }, (_, i) => e(lo + i, 9, 'other term')));
      expect(() => s.entries(4, 8, Infinity)).toThrow(/cold entry 4 \(term 4\) read back as 4 \(term 9\)/);
      s.setColdSource(() => []);
      expect(() => s.entries(5, 8, Infinity)).toThrow(/read back as nothing/);
    });

    it('an append over demoted entries makes them hot again; compaction and a snapshot keep the rest right', () => {
      const { s, reads, truth } = coldStorage();
      s.demote(10);
      s.append([e(9, 6, 'new9'), e(10, 6, 'new10')]);
      expect(text(s.entries(9, 11, Infinity))).toEqual(['9/6:new9', '10/6:new10']);
      expect(reads).toHaveLength(0);
      expect(text(s.entries(7, 10, Infinity))).toEqual([...text(truth.slice(3, 5)), '9/6:new9']);
      s.compact(6);
      expect(text(s.entries(7, 9, Infinity))).toEqual(text(truth.slice(3, 5)));
      s.applySnapshot({ data: new Uint8Array(), metadata: { index: 20, term: 7, confState: cs } });
      s.append([e(21, 7, 'a')]);
      s.demote(0);
      expect(text(s.entries(21, 22, Infinity))).toEqual(['21/7:a']);
    });

    it('without a source, demote does nothing', () => {
      const s = storage35();
      s.demote(5);
      expect(s.entries(4, 6, Infinity).map((x) => x.index)).toEqual([4, 5]);
      expect(s.coldEntriesRead).toBe(0);
    });
  });
});
