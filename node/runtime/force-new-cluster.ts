// --force-new-cluster (etcd's flag): recover a cluster that lost quorum for good from the data of
// one surviving member. Like etcd, the member rewrites its own log before it starts: entries past
// the commit index are dropped, and a committed removal of every other member is appended (in a
// new term, so the storage's overwrite rule holds). Raft then applies those removals at start, the
// member is the only voter, elects itself and serves everything it had committed, under the same
// cluster ID. New members are added afterwards as usual.

import { NONE, compareNodeIds, encodeConfChange, type Entry, type HardState, type NodeId } from '../raft/index.js';
import type { RecoveredState } from '../storage/types.js';
import { decodeConfEntry } from './entry-decode.js';
import { encodeConfContext } from './membership.js';

export interface ForcedLog {
  readonly hardState: HardState;
  /** The removals, from commit + 1. */
  readonly entries: readonly Entry[];
  readonly removed: readonly NodeId[];
}

/**
 * The rewrite for `self`, or undefined when it is already the only member. The members are
 * those of the snapshot (or the first membership, when there is none) changed by every
 * committed conf change. Counting a member the runtime would have refused to add is harmless:
 * its removal is refused in turn ("member not found") and changes nothing.
 */
export function planForceNewCluster(recovered: RecoveredState, self: NodeId, firstMembers: readonly NodeId[]): ForcedLog | undefined {
  const commit = recovered.hardState.commit;
  const cs = recovered.snapshot?.metadata.confState;
  const members = new Set<NodeId>(cs ? [...cs.voters, ...cs.learners] : firstMembers);
  for (const e of recovered.entries) {
    if (e.index > commit) break;
    if (e.type !== 'confChange') continue;
    const d = decodeConfEntry(e.data);
    if (!d.ok) continue;
    if (d.cc.type === 'addNode' || d.cc.type === 'addLearnerNode') members.add(d.cc.nodeId);
    else if (d.cc.type === 'removeNode') members.delete(d.cc.nodeId);
  }
  const removed = [...members].filter((id) => id !== self).sort(compareNodeIds);
  if (removed.length === 0) return undefined;
  const term = recovered.hardState.term + 1;
  const entries: Entry[] = removed.map((nodeId, i) => ({
    term,
    index: commit + 1 + i,
    type: 'confChange',
    data: encodeConfChange({ type: 'removeNode', nodeId, context: encodeConfContext({ proposer: self, requestId: 0 }) }),
  }));
  return { hardState: { term, vote: NONE, commit: commit + removed.length }, entries, removed };
}
