// Membership validation (etcd's RaftCluster.ValidateConfigurationChange and the IsReadyTo* checks),
// pure: the request-time checks a member makes before proposing a change, and the apply-time check
// every member makes alike against the replicated membership.

import type { ConfChange, NodeId } from '../raft/index.js';
import { BackendError } from '../server/backend.js';
import type { Membership } from './membership.js';

const memberNotFound = (): BackendError => new BackendError('memberNotFound', 'etcdserver: member not found');
const memberExists = (): BackendError => new BackendError('memberExist', 'etcdserver: member ID already exist');
const tooManyLearners = (): BackendError => new BackendError('tooManyLearners', 'etcdserver: too many learner members in cluster');
const unhealthy = (): BackendError => new BackendError('unhealthyCluster', 'etcdserver: unhealthy cluster');

/** Apply time: the refusal for a committed conf change, or undefined when it may apply. */
export function confChangeRefusal(membership: Membership, cc: ConfChange, maxLearners: number): BackendError | undefined {
  const target = membership.get(cc.nodeId);
  switch (cc.type) {
    case 'addNode':
      if (membership.isRemoved(cc.nodeId)) return memberNotFound();
      if (target && !target.isLearner) return memberExists();
      return undefined;
    case 'addLearnerNode':
      if (membership.isRemoved(cc.nodeId)) return memberNotFound();
      if (target) return memberExists();
      if (membership.learners().length >= maxLearners) return tooManyLearners();
      return undefined;
    case 'removeNode':
    case 'updateNode':
      return target ? undefined : memberNotFound();
    default: {
      const never: never = cc.type;
      throw new Error(`unknown conf change ${String(never)}`);
    }
  }
}

/** MemberAdd's URL check: absolute http(s) URLs with a port, none used by a member already. */
export function checkNewPeerUrls(membership: Membership, peerUrls: readonly string[]): void {
  for (const u of peerUrls) {
    try {
      const p = new URL(u);
      if ((p.protocol !== 'http:' && p.protocol !== 'https:') || p.port === '') throw new Error('bad');
    } catch {
      throw new BackendError('memberBadUrls', 'etcdserver: given member URLs are invalid');
    }
  }
  if (peerUrls.length === 0) throw new BackendError('memberBadUrls', 'etcdserver: given member URLs are invalid');
  for (const u of peerUrls) if (membership.findByPeerUrl(u)) throw new BackendError('peerUrlExist', 'etcdserver: Peer URLs already exists');
}

/** MemberUpdate's URL check: no other member uses one of the new URLs. */
export function checkUpdatedPeerUrls(membership: Membership, id: NodeId, peerUrls: readonly string[]): void {
  for (const u of peerUrls) {
    const other = membership.findByPeerUrl(u);
    if (other && other.id !== id) throw new BackendError('peerUrlExist', 'etcdserver: Peer URLs already exists');
  }
}

export function checkCanAddLearner(membership: Membership, maxLearners: number): void {
  if (membership.learners().length >= maxLearners) throw tooManyLearners();
}

/**
 * etcd's IsReadyToAddVotingMember: the quorum with the new voter must be started, except when a
 * one-member cluster grows (a restore, --force-new-cluster): it could never grow.
 */
export function checkCanAddVoter(voters: number, activeVoters: number): void {
  const growingFromOne = voters === 1 && activeVoters === 1;
  if (!growingFromOne && activeVoters < Math.floor((voters + 1) / 2) + 1) throw unhealthy();
}

/** etcd's IsReadyToRemoveVotingMember: the voters left must still hold an active quorum. */
export function checkCanRemoveVoter(votersAfter: readonly NodeId[], isActive: (id: NodeId) => boolean): void {
  const activeAfter = votersAfter.filter(isActive).length;
  if (activeAfter < Math.floor(votersAfter.length / 2) + 1) throw unhealthy();
}

/** etcd's IsReadyToPromoteMember: counts the learner (in sync, connected) as started. */
export function checkCanPromote(voters: number, activeVoters: number): void {
  if (activeVoters + 1 < Math.floor((voters + 1) / 2) + 1) throw unhealthy();
}

/** A member that must exist for a request about it. */
export function existingMember<T>(m: T | undefined): T {
  if (!m) throw memberNotFound();
  return m;
}
