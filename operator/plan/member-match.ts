// Which member is which: ordinals from peer URLs and names, and the quorum arithmetic of removing one.
import type { MembershipOperation } from '../api/types.js';
import { hexID, memberName, ordinalOfPeerURL } from './names.js';
import type { ObservedCluster, ObservedMember } from './observed.js';
import { quorum } from './quorum.js';

/** Why removing `m` is unsafe, or null. Counts healthy voters after the removal against the new quorum. */
export function removalUnsafe(members: ObservedMember[], m: ObservedMember): string | null {
  if (m.isLearner) return null;
  const voters = members.filter((x) => !x.isLearner && x.id !== m.id);
  const healthy = voters.filter((x) => x.healthy).length;
  if (voters.length === 0) return 'removing the last voter would destroy the cluster';
  if (healthy < quorum(voters.length)) {
    return `removing ${m.name || hexID(m.id)} would leave ${healthy} healthy voter(s) of ${voters.length}, below quorum ${quorum(voters.length)}`;
  }
  return null;
}

export function bestTransferee(members: ObservedMember[], fromID: string): ObservedMember | undefined {
  return members
    .filter((x) => !x.isLearner && x.healthy && x.id !== fromID)
    .sort((a, b) => (b.raftIndex ?? -1) - (a.raftIndex ?? -1) || a.id.localeCompare(b.id))[0];
}

/** The member an operation targets: same peer URL, and the same name unless it has none yet. */

/** The member an operation targets: same peer URL, and the same name unless it has none yet. */
export function findTarget(_o: ObservedCluster, members: ObservedMember[], op: MembershipOperation): ObservedMember | undefined {
  return members.find((m) => m.peerURLs.includes(op.peerURL) && (m.name === '' || m.name === op.memberName));
}

export function ordinalOf(o: ObservedCluster, m: ObservedMember): number | null {
  for (const url of m.peerURLs) {
    const ord = ordinalOfPeerURL(o.ref, url);
    if (ord !== null && (m.name === '' || m.name === memberName(o.ref, ord))) return ord;
  }
  return null;
}

export function maxOrdinal(o: ObservedCluster, members: ObservedMember[]): number {
  return members.reduce((acc, m) => Math.max(acc, ordinalOf(o, m) ?? -1), -1);
}

/**
 * The learner had its time to catch up. Counted from MemberAdd (an operation may wait long before it,
 * e.g. for a leader), or from the start when a crash lost that record (sooner, never later).
 */

export function lowestFreeOrdinal(o: ObservedCluster, members: ObservedMember[]): number {
  const taken = new Set(members.map((m) => ordinalOf(o, m)));
  let ord = 0;
  while (taken.has(ord)) ord++;
  return ord;
}

/** The StatefulSet has a pod slot for this ordinal. */

/** The StatefulSet has a pod slot for this ordinal. */
export function stsCovers(o: ObservedCluster, ordinal: number): boolean {
  return (o.statefulSetReplicas ?? 0) > ordinal;
}

export function membersAbove(o: ObservedCluster, members: ObservedMember[], ordinal: number): boolean {
  return maxOrdinal(o, members) > ordinal;
}

export function hasPvc(o: ObservedCluster, ordinal: number): boolean {
  return o.pvcs.some((p) => p.ordinal === ordinal && !p.terminating);
}

export function describe(ms: ObservedMember[]): string {
  return ms.map((m) => m.name || hexID(m.id)).join(', ');
}
