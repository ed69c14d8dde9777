import { describe, expect, it } from 'vitest';
import { encodeConfChange, type Entry } from '../raft/index.js';
import { decodeConfEntry } from './entry-decode.js';
import { planForceNewCluster } from './force-new-cluster.js';
import { encodeConfContext } from './membership.js';

const conf = (index: number, type: 'addNode' | 'addLearnerNode' | 'removeNode', nodeId: bigint): Entry => ({
  term: 2,
  index,
  type: 'confChange',
  data: encodeConfChange({ type, nodeId, context: encodeConfContext({ proposer: 1n, requestId: index }) }),
});
const normal = (index: number, term = 2): Entry => ({ term, index, type: 'normal', data: new Uint8Array(0) });

describe('--force-new-cluster plan', () => {
  it('removes every other member as of the commit index, in a new term, and drops what was not committed', () => {
    // First members 1, 2, 3; committed: add learner 4, remove 2; not committed: add 5.
    const entries = [normal(1), conf(2, 'addLearnerNode', 4n), conf(3, 'removeNode', 2n), normal(4), conf(5, 'addNode', 5n), normal(6, 3)];
    const plan = planForceNewCluster({ hardState: { term: 3, vote: 3n, commit: 4 }, entries }, 1n, [1n, 2n, 3n])!;
    expect(plan.removed).toEqual([3n, 4n]);
    expect(plan.hardState).toEqual({ term: 4, vote: 0n, commit: 6 });
    expect(plan.entries.map((e) => [e.index, e.term, e.type])).toEqual([
      [5, 4, 'confChange'],
      [6, 4, 'confChange'],
    ]);
    const d = decodeConfEntry(plan.entries[0]!.data);
    expect(d.ok && d.cc).toMatchObject({ type: 'removeNode', nodeId: 3n });
  });

  it('takes the members from the snapshot when there is one, and does nothing for a lone member', () => {
    const snapshot = { data: new Uint8Array(0), metadata: { index: 10, term: 2, confState: { voters: [1n, 7n], learners: [9n] } } };
    const plan = planForceNewCluster({ snapshot, hardState: { term: 2, vote: 1n, commit: 10 }, entries: [] }, 7n, [1n, 2n, 3n])!;
    expect(plan.removed).toEqual([1n, 9n]);
    expect(plan.entries[0]!.index).toBe(11);
    expect(planForceNewCluster({ hardState: { term: 2, vote: 1n, commit: 1 }, entries: [normal(1)] }, 1n, [1n])).toBeUndefined();
  });
});
