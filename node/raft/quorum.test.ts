import { describe, expect, it } from 'vitest';
import { committedIndex, hasQuorum, voteResult } from './quorum.js';
import { ProgressTracker } from './tracker.js';

describe('quorum', () => {
  it('committedIndex is the highest index a majority has matched', () => {
    const m = new Map([[1n, 10], [2n, 7], [3n, 3]]);
    expect(committedIndex([1n, 2n, 3n], (id) => m.get(id)!)).toBe(7);
    const m5 = new Map([[1n, 10], [2n, 9], [3n, 8], [4n, 1], [5n, 0]]);
    expect(committedIndex([1n, 2n, 3n, 4n, 5n], (id) => m5.get(id)!)).toBe(8);
    expect(committedIndex([1n, 2n, 3n, 4n], (id) => [0, 5, 5, 2, 9][Number(id)]!)).toBe(5); // 4 voters: need 3
    expect(committedIndex([1n], () => 4)).toBe(4);
    expect(committedIndex([], () => 0)).toBe(Number.POSITIVE_INFINITY);
  });

  it('voteResult: won, lost or still pending', () => {
    expect(voteResult([1n, 2n, 3n], new Map([[1n, true]]))).toBe('pending');
    expect(voteResult([1n, 2n, 3n], new Map([[1n, true], [2n, true]]))).toBe('won');
    expect(voteResult([1n, 2n, 3n], new Map([[1n, true], [2n, false], [3n, false]]))).toBe('lost');
    expect(voteResult([1n, 2n, 3n, 4n], new Map([[1n, true], [2n, true], [3n, false]]))).toBe('pending');
    expect(voteResult([1n, 2n, 3n, 4n], new Map([[1n, true], [2n, false], [3n, false]]))).toBe('lost');
  });

  it('hasQuorum counts only voters', () => {
    expect(hasQuorum([1n, 2n, 3n], (id) => id === 1n || id === 9n)).toBe(false);
    expect(hasQuorum([1n, 2n, 3n], (id) => id !== 3n)).toBe(true);
  });
});

describe('ProgressTracker', () => {
  it('counts voters only toward the commit, never learners', () => {
    const t = new ProgressTracker(10, 0);
    t.reset({ voters: [1n, 2n, 3n], learners: [4n] }, 0);
    t.progress.get(1n)!.match = 10;
    t.progress.get(4n)!.match = 10;
    expect(t.committed()).toBe(0);
    t.progress.get(2n)!.match = 6;
    expect(t.committed()).toBe(6);
  });

  it('applies single-step changes: add, promote, demote, remove; refuses to remove the last voter', () => {
    const t = new ProgressTracker(10, 0);
    t.reset({ voters: [1n], learners: [] }, 5);
    expect(t.applyChange({ type: 'addLearnerNode', nodeId: 2n, context: new Uint8Array() }, 5)).toBe(true);
    expect(t.confState()).toEqual({ voters: [1n], learners: [2n] });
    expect(t.progress.get(2n)!.next).toBe(6);
    t.applyChange({ type: 'addNode', nodeId: 2n, context: new Uint8Array() }, 5);
    expect(t.confState()).toEqual({ voters: [1n, 2n], learners: [] });
    t.applyChange({ type: 'addLearnerNode', nodeId: 1n, context: new Uint8Array() }, 5);
    expect(t.confState()).toEqual({ voters: [2n], learners: [1n] });
    expect(t.applyChange({ type: 'removeNode', nodeId: 2n, context: new Uint8Array() }, 5)).toBe(false);
    expect(t.confState()).toEqual({ voters: [2n], learners: [1n] });
    t.applyChange({ type: 'removeNode', nodeId: 1n, context: new Uint8Array() }, 5);
    expect(t.confState()).toEqual({ voters: [2n], learners: [] });
    t.applyChange({ type: 'removeNode', nodeId: 9n, context: new Uint8Array() }, 5);
    expect(t.ids).toEqual([2n]);
  });

  it('check-quorum sees the leader plus recently active voters', () => {
    const t = new ProgressTracker(10, 0);
    t.reset({ voters: [1n, 2n, 3n, 4n, 5n], learners: [6n] }, 0);
    for (const pr of t.progress.values()) pr.recentActive = false;
    t.progress.get(6n)!.recentActive = true;
    t.progress.get(2n)!.recentActive = true;
    expect(t.quorumActive(1n)).toBe(false);
    t.progress.get(3n)!.recentActive = true;
    expect(t.quorumActive(1n)).toBe(true);
  });
});
