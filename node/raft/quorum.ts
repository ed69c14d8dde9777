// Majority arithmetic over a single voter set (single-step membership changes only).
import type { NodeId } from './types.js';

export type VoteResult = 'pending' | 'lost' | 'won';

const scratch: number[] = [];

/**
 * The largest index acknowledged by a majority of voters. An empty voter set yields
 * Infinity (so it never constrains), mirroring etcd-io/raft's quorum package.
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  const n = voters.length;
  if (n === 0) return Number.POSITIVE_INFINITY;
  scratch.length = n;
  for (let i = 0; i < n; i++) scratch[i] = matchOf(voters[i] as NodeId);
  // Insertion sort, descending: voter sets are tiny (typically 3 or 5).
  for (let i = 1; i < n; i++) {
    const v = scratch[i] as number;
    let j = i - 1;
    while (j >= 0 && (scratch[j] as number) < v) {
      scratch[j + 1] = scratch[j] as number;
      j--;
    }
    scratch[j + 1] = v;
  }
  return scratch[Math.floor(n / 2)] as number;
}

/** Outcome of an election given the votes so far (absent = not yet answered). */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = Math.floor(voters.length / 2) + 1;
  if (granted >= q) return 'won';
  if (granted + missing >= q) return 'pending';
  return 'lost';
}

/** Does the set of ids that answered form a majority of voters? */
export function hasQuorum(voters: readonly NodeId[], has: (id: NodeId) => boolean): boolean {
  let n = 0;
  for (const id of voters) if (has(id)) n++;
  return n >= Math.floor(voters.length / 2) + 1;
}
