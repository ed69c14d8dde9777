import { describe, expect, it } from 'vitest';
import { committedIndex, hasQuorum, voteResult } from './quorum.js';
import { ProgressTracker } from './tracker.js';

describe('quorum', () => {
  it('committedIndex is the highest index a majority has matched', () => {
    const m = new Map([[1, 10], [2, 7], [3, 3]]);
    expect(committedIndex([1, 2, 3], (id) => m.get(id)!)).toBe(7);
    const m5 = new Map([[1, 10], [2, 9], [3, 8], [4, 1], [5, 0]]);
    expect(committedIndex([1, 2, 3, 4, 5], (id) => m5.get(id)!)).toBe(8);
    expect(committedIndex([1, 2, 3, 4], (id) => [0, 5, 5, 2, 9][id]!)).toBe(5); // 4 voters: need 3
    expect(committedIndex([1], () => 4)).toBe(4);
    expect(committedIndex([], () => 0)).toBe(Number.POSITIVE_INFINITY);
  });

  it('voteResult: won, lost or still pending', () => {
    expect(voteResult([1, 2, 3], new Map([[1, true]]))).toBe('pending');
    expect(voteResult([1, 2, 3], new Map([[1, true], [2, true]]))).toBe('won');
    expect(voteResult([1, 2, 3], new Map([[1, true], [2, false], [3, false]]))).toBe('lost');
    expect(voteResult([1, 2, 3, 4], new Map([[1, true], [2, true], [3, false]]))).toBe('pending');
    expect(voteResult([1, 2, 3, 4], new Map([[1, true], [2, false], [3, false]]))).toBe('lost');
  });

  it('hasQuorum counts only voters', () => {
    expect(hasQuorum([1, 2, 3], (id) => id === 1 || id === 9)).toBe(false);
    expect(hasQuorum([1, 2, 3], (id) => id !== 3)).toBe(true);
  });
});

describe('ProgressTracker', () => {
  it('counts voters only toward the commit, never learners', () => {
    const t = new ProgressTracker(10, 0);
    t.reset({ voters: [1, 2, 3], learners: [4] }, 0);
    t.progress.get(1)!.match = 10;
    t.progress.get(4)!.match = 10;
    expect(t.committed()).toBe(0);
    t.progress.get(2)!.match = 6;
    expect(t.committed()).toBe(6);
  });

  it('applies single-step changes: add, promote, demote, remove; refuses to remove the last voter', () => {
    const t = new ProgressTracker(10, 0);
    t.reset({ voters: [1], learners: [] }, 5);
    expect(t.applyChange({ type: 'addLearnerNode', nodeId: 2, context: new Uint8Array() }, 5)).toBe(true);
    expect(t.confState()).toEqual({ voters: [1], learners: [2] });
    expect(t.progress.get(2)!.next).toBe(6);
    t.applyChange({ type: 'addNode', nodeId: 2, context: new Uint8Array() }, 5);
    expect(t.confState()).toEqual({ voters: [1, 2], learners: [] });
    t.applyChange({ type: 'addLearnerNode', nodeId: 1, context: new Uint8Array() }, 5);
    expect(t.confState()).toEqual({ voters: [2], learners: [1] });
    expect(t.applyChange({ type: 'removeNode', nodeId: 2, context: new Uint8Array() }, 5)).toBe(false);
    expect(t.confState()).toEqual({ voters: [2], learners: [1] });
    t.applyChange({ type: 'removeNode', nodeId: 1, context: new Uint8Array() }, 5);
    expect(t.confState()).toEqual({ voters: [2], learners: [] });
    t.applyChange({ type: 'removeNode', nodeId: 9, context: new Uint8Array() }, 5);
    expect(t.ids).toEqual([2]);
  });

  it('check-quorum sees the leader plus recently active voters', () => {
    const t = new ProgressTracker(10, 0);
    t.reset({ voters: [1, 2, 3, 4, 5], learners: [6] }, 0);
    for (const pr of t.progress.values()) pr.recentActive = false;
    t.progress.get(6)!.recentActive = true;
    t.progress.get(2)!.recentActive = true;
    expect(t.quorumActive(1)).toBe(false);
    t.progress.get(3)!.recentActive = true;
    expect(t.quorumActive(1)).toBe(true);
  });
});
