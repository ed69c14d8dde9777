import { describe, expect, it } from 'vitest';
import { pickTransferee } from './hand-over.js';
import type { RaftStatus } from '../raft/index.js';

function status(id: number, voters: number[], learners: number[], match: Record<number, number>): { raftStatus(): RaftStatus } {
  const progress = new Map(Object.entries(match).map(([k, v]) => [Number(k), { match: v, next: v + 1, state: 'replicate', isLearner: learners.includes(Number(k)) }]));
  return {
    raftStatus: () =>
      ({
        id,
        hardState: { term: 2, vote: id, commit: 10 },
        softState: { lead: id, raftState: 'leader' },
        lead: id,
        applied: 10,
        confState: { voters, learners },
        leadTransferee: 0,
        progress,
      }) as unknown as RaftStatus,
  };
}

describe('pickTransferee', () => {
  it('picks the most caught-up voter, never itself or a learner', () => {
    expect(pickTransferee(status(1, [1, 2, 3], [4], { 1: 10, 2: 7, 3: 9, 4: 10 }))).toBe(3);
  });
  it('has nobody to pick in a one-member cluster', () => {
    expect(pickTransferee(status(1, [1], [2], { 1: 10, 2: 10 }))).toBeUndefined();
  });
});
