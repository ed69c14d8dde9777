// Each checker must be able to fail: feed it hand-made bad histories and expect the named
// violation; feed it a good one and expect none.
import { describe, expect, it } from 'vitest';
import { SafetyChecker } from './checkers.js';

const e = (index: number, term: number, fp = index * 100 + term) => ({ index, term, fp });

function logOf(entries: Array<{ index: number; term: number }>, snapshotIndex = 0, snapshotTerm = 0) {
  return {
    firstIndex: snapshotIndex + 1,
    lastIndex: entries.length > 0 ? (entries[entries.length - 1] as { index: number }).index : snapshotIndex,
    snapshotIndex,
    snapshotTerm,
    term: (i: number) => entries.find((x) => x.index === i)?.term,
  };
}

const props = (c: SafetyChecker) => c.violations.map((v) => v.property);

describe('SafetyChecker', () => {
  it('accepts a clean history', () => {
    const c = new SafetyChecker();
    c.hardState(1n, { term: 1, vote: 1n, commit: 0 });
    c.hardState(2n, { term: 1, vote: 1n, commit: 0 });
    c.entriesPersisted(1n, 0, 0, [e(1, 1)]);
    c.leaderElected(1n, 1, logOf([e(1, 1)]));
    c.entriesPersisted(2n, 0, 0, [e(1, 1)]);
    c.hardState(1n, { term: 1, vote: 1n, commit: 1 });
    c.applied(1n, 1, e(1, 1), 42);
    c.hardState(2n, { term: 1, vote: 1n, commit: 1 });
    c.applied(2n, 1, e(1, 1), 42);
    c.readIssued('r1');
    c.readConfirmed(1n, 'r1', 1);
    c.steppedDown(1n);
    c.hardState(2n, { term: 2, vote: 2n, commit: 1 });
    c.leaderElected(2n, 2, logOf([e(1, 1), e(2, 2)]));
    c.restarted(1n, { term: 1, vote: 1n, commit: 1 }, 1, 0);
    c.applied(1n, 1, e(1, 1), 42);
    c.snapshotRestored(1n, 1, 1, 42);
    expect(c.violations).toEqual([]);
  });

  it('Election Safety: two leaders in one term', () => {
    const c = new SafetyChecker();
    c.leaderElected(1n, 3, logOf([]));
    c.leaderElected(2n, 3, logOf([]));
    expect(props(c)).toEqual(['ElectionSafety']);
  });

  it('the same leader reported twice in a term is fine', () => {
    const c = new SafetyChecker();
    c.leaderElected(1n, 3, logOf([]));
    c.leaderElected(1n, 3, logOf([]));
    expect(c.violations).toEqual([]);
  });

  it('Log Matching: different payloads at the same index and term', () => {
    const c = new SafetyChecker();
    c.entriesPersisted(1n, 0, 0, [e(1, 1, 7), e(2, 1, 8)]);
    c.entriesPersisted(2n, 0, 0, [e(1, 1, 7), e(2, 1, 9)]);
    expect(props(c)).toEqual(['LogMatching']);
  });

  it('Log Matching: same (index, term) after different predecessors', () => {
    const c = new SafetyChecker();
    c.entriesPersisted(1n, 0, 0, [e(1, 1), e(2, 2)]);
    c.entriesPersisted(2n, 0, 0, [e(1, 2, 5), e(2, 2)]);
    expect(props(c)).toEqual(['LogMatching']);
  });

  it('Log Matching: a term going down inside a log', () => {
    const c = new SafetyChecker();
    c.entriesPersisted(1n, 3, 4, [e(5, 2)]);
    expect(props(c)).toEqual(['LogMatching']);
  });

  it('Leader Append-Only: a leader truncating its own log', () => {
    const c = new SafetyChecker();
    c.entriesPersisted(1n, 0, 0, [e(1, 1), e(2, 1)]);
    c.leaderElected(1n, 1, logOf([e(1, 1), e(2, 1)]));
    c.entriesPersisted(1n, 1, 2, [e(2, 1)]);
    expect(props(c)).toEqual(['LeaderAppendOnly']);
  });

  it('Leader Completeness: a new leader missing a committed entry', () => {
    const c = new SafetyChecker();
    c.hardState(1n, { term: 1, vote: 1n, commit: 2 });
    c.committed(1n, 1, e(1, 1), 1);
    c.committed(1n, 2, e(2, 1), 1);
    c.leaderElected(2n, 2, logOf([e(1, 1)]));
    expect(props(c)).toEqual(['LeaderCompleteness']);
  });

  it('Leader Completeness: a new leader with a different entry at a committed index', () => {
    const c = new SafetyChecker();
    c.committed(1n, 1, e(1, 1), 1);
    c.committed(1n, 2, e(2, 1), 1);
    c.leaderElected(2n, 3, logOf([e(1, 1), e(2, 2), e(3, 3)]));
    expect(props(c)).toEqual(['LeaderCompleteness']);
  });

  it('Leader Completeness: committed entries under the leader snapshot are fine', () => {
    const c = new SafetyChecker();
    c.committed(1n, 1, e(1, 1), 1);
    c.committed(1n, 2, e(2, 1), 1);
    c.leaderElected(2n, 3, logOf([e(3, 3)], 2, 1));
    expect(c.violations).toEqual([]);
  });

  it('Leader Completeness: a stale leader of an older term may lack entries committed later', () => {
    const c = new SafetyChecker();
    c.committed(1n, 1, e(1, 1), 1);
    c.committed(2n, 2, e(2, 5), 5); // committed in term 5
    c.leaderElected(3n, 4, logOf([e(1, 1)])); // a candidate of term 4 wins late: allowed
    expect(c.violations).toEqual([]);
    c.leaderElected(4n, 6, logOf([e(1, 1)])); // but a leader of term 6 must have it
    expect(props(c)).toEqual(['LeaderCompleteness']);
  });

  it('State Machine Safety: two nodes apply different entries at one index', () => {
    const c = new SafetyChecker();
    c.hardState(1n, { term: 1, vote: 0n, commit: 1 });
    c.hardState(2n, { term: 2, vote: 0n, commit: 1 });
    c.applied(1n, 1, e(1, 1), 10);
    c.applied(2n, 1, e(1, 2), 11);
    expect(props(c)).toContain('StateMachineSafety');
  });

  it('State Machine Safety: same entry but a different resulting state', () => {
    const c = new SafetyChecker();
    c.hardState(1n, { term: 1, vote: 0n, commit: 1 });
    c.hardState(2n, { term: 1, vote: 0n, commit: 1 });
    c.applied(1n, 1, e(1, 1), 10);
    c.applied(2n, 1, e(1, 1), 11);
    expect(props(c)).toEqual(['StateMachineSafety']);
  });

  it('State Machine Safety: a snapshot whose state differs from the applied history', () => {
    const c = new SafetyChecker();
    c.hardState(1n, { term: 1, vote: 0n, commit: 1 });
    c.applied(1n, 1, e(1, 1), 10);
    c.snapshotRestored(2n, 1, 1, 99);
    expect(props(c)).toEqual(['StateMachineSafety']);
  });

  it('applies out of order, or beyond the commit index', () => {
    const c = new SafetyChecker();
    c.hardState(1n, { term: 1, vote: 0n, commit: 5 });
    c.applied(1n, 2, e(2, 1), 1);
    c.hardState(2n, { term: 1, vote: 0n, commit: 0 });
    c.applied(2n, 1, e(1, 1), 1);
    expect(props(c)).toEqual(['ApplyOrder', 'ApplyCommitted']);
  });

  it('commit going backwards, within a life and across a restart', () => {
    const c = new SafetyChecker();
    c.hardState(1n, { term: 1, vote: 0n, commit: 5 });
    c.hardState(1n, { term: 1, vote: 0n, commit: 4 });
    c.restarted(2n, { term: 1, vote: 0n, commit: 5 }, 3, 0);
    expect(props(c)).toEqual(['CommitMonotonic', 'CommitMonotonic']);
  });

  it('a lost vote or term across a crash', () => {
    const c = new SafetyChecker();
    c.hardState(1n, { term: 4, vote: 2n, commit: 0 });
    c.restarted(1n, { term: 4, vote: 3n, commit: 0 }, 0, 0);
    c.restarted(1n, { term: 3, vote: 0n, commit: 0 }, 0, 0);
    expect(props(c)).toEqual(['VoteOnce', 'TermMonotonic']);
  });

  it('ReadIndex: a read confirmed below what was committed before it started', () => {
    const c = new SafetyChecker();
    c.committed(1n, 1, e(1, 1), 1);
    c.committed(1n, 2, e(2, 1), 1);
    c.readIssued('r');
    c.readConfirmed(3n, 'r', 1);
    expect(props(c)).toEqual(['ReadIndex']);
  });
});
