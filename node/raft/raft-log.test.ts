import { describe, expect, it } from 'vitest';
import { MemoryStorage } from './memory-storage.js';
import { RaftLog, NO_LIMIT } from './raft-log.js';
import { CompactedError, type Entry } from './types.js';

const e = (index: number, term: number): Entry => ({ index, term, type: 'normal', data: new Uint8Array(0) });

function logWith(terms: number[]): RaftLog {
  // entries 1..n with the given terms, all persisted
  const s = new MemoryStorage();
  s.append(terms.map((t, i) => e(i + 1, t)));
  return new RaftLog(s, NO_LIMIT);
}

describe('RaftLog', () => {
  it('findConflict: first index whose term differs or is new, 0 if all present', () => {
    const l = logWith([1, 2, 3]);
    expect(l.findConflict([])).toBe(0);
    expect(l.findConflict([e(1, 1), e(2, 2), e(3, 3)])).toBe(0);
    expect(l.findConflict([e(2, 2), e(3, 3), e(4, 4)])).toBe(4);
    expect(l.findConflict([e(2, 2), e(3, 4)])).toBe(3);
    expect(l.findConflict([e(1, 4)])).toBe(1);
  });

  it('findConflictByTerm: skips every index with a higher term', () => {
    const l = logWith([1, 1, 2, 2, 2, 5, 5]);
    expect(l.findConflictByTerm(7, 5)).toEqual([7, 5]);
    expect(l.findConflictByTerm(7, 4)).toEqual([5, 2]);
    expect(l.findConflictByTerm(7, 1)).toEqual([2, 1]);
    expect(l.findConflictByTerm(7, 0)).toEqual([0, 0]);
  });

  it('maybeAppend: log matching check, truncation of a conflicting tail, commit bounded by the new entries', () => {
    const l = logWith([1, 2, 3]);
    l.commitTo(1);
    expect(l.maybeAppend(3, 2, 3, [e(4, 4)])).toBeUndefined(); // term mismatch at 3
    expect(l.maybeAppend(4, 3, 3, [])).toBeUndefined(); // no entry 4
    expect(l.maybeAppend(2, 2, 10, [e(3, 4), e(4, 4)])).toBe(4); // replaces 3 (term 3) with term 4
    expect(l.term(3)).toBe(4);
    expect(l.committed).toBe(4); // min(leader commit 10, last new 4)
    // an append that agrees with what we have changes nothing (a duplicate delivery)
    expect(l.maybeAppend(2, 2, 4, [e(3, 4)])).toBe(3);
    expect(l.lastIndex()).toBe(4);
  });

  it('refuses to overwrite committed entries', () => {
    const l = logWith([1, 2, 3]);
    l.commitTo(3);
    expect(() => l.maybeAppend(1, 1, 3, [e(2, 5)])).toThrow(/conflicts with committed entry/);
    expect(() => l.append([e(2, 5)])).toThrow(/out of range/);
  });

  it('maybeCommit commits only an index whose entry has the given (current) term', () => {
    const l = logWith([1, 1, 2]);
    expect(l.maybeCommit(2, 2)).toBe(false); // entry 2 has term 1: counting replicas is not enough
    expect(l.committed).toBe(0);
    expect(l.maybeCommit(3, 2)).toBe(true);
    expect(l.committed).toBe(3);
    expect(l.maybeCommit(2, 1)).toBe(false); // never moves back
  });

  it('commitTo past the last index is an assertion', () => {
    const l = logWith([1]);
    expect(() => l.commitTo(5)).toThrow(/out of range/);
  });

  it('reads across storage and the unstable tail; stableTo moves entries to storage', () => {
    const s = new MemoryStorage();
    s.append([e(1, 1), e(2, 1)]);
    const l = new RaftLog(s, NO_LIMIT);
    l.append([e(3, 2), e(4, 2)]);
    expect(l.lastIndex()).toBe(4);
    expect(l.slice(2, 5, NO_LIMIT).map((x) => x.index)).toEqual([2, 3, 4]);
    expect(l.entriesToSave().map((x) => x.index)).toEqual([3, 4]);
    s.append(l.entriesToSave());
    l.stableTo(4, 2);
    expect(l.hasEntriesToSave()).toBe(false);
    // a stale stableTo (term changed since) is ignored
    l.append([e(4, 3)]);
    l.stableTo(4, 2);
    expect(l.entriesToSave().map((x) => x.term)).toEqual([3]);
  });

  it('compaction: reading below firstIndex throws CompactedError; term of the snapshot index stays known', () => {
    const s = new MemoryStorage();
    s.append([e(1, 1), e(2, 1), e(3, 2)]);
    s.createSnapshot(2, { voters: [1n], learners: [] }, new Uint8Array());
    s.compact(2);
    const l = new RaftLog(s, NO_LIMIT);
    expect(l.firstIndex()).toBe(3);
    expect(l.term(2)).toBe(1);
    expect(() => l.term(1)).toThrow(CompactedError);
    expect(() => l.slice(1, 3, NO_LIMIT)).toThrow(CompactedError);
    expect(l.committed).toBe(2);
  });

  it('isUpToDate compares last term, then last index', () => {
    const l = logWith([1, 2, 2]);
    expect(l.isUpToDate(1, 3)).toBe(true);
    expect(l.isUpToDate(3, 2)).toBe(true);
    expect(l.isUpToDate(2, 2)).toBe(false);
    expect(l.isUpToDate(9, 1)).toBe(false);
  });

  it('nextEnts hands out committed entries after applied, bounded by size', () => {
    const s = new MemoryStorage();
    s.append([e(1, 1), e(2, 1), e(3, 1)]);
    const l = new RaftLog(s, 1);
    l.commitTo(3);
    expect(l.nextEnts().map((x) => x.index)).toEqual([1]); // at least one even over the limit
    l.appliedTo(1);
    expect(l.hasNextEnts()).toBe(true);
    l.appliedTo(3);
    expect(l.hasNextEnts()).toBe(false);
    expect(() => l.appliedTo(2)).toThrow(/out of range/);
  });
});
