// Quorum arithmetic, shared by the planner, the PDB builder and the metrics.

/** Votes needed for a decision among `voters` voting members. */
export function quorum(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** Healthy voters beyond what quorum needs; negative when quorum is lost. */
export function quorumMargin(voters: number, healthyVoters: number): number {
  return healthyVoters - quorum(voters);
}

/**
 * etcd's own rule for promoting a learner (server/etcdserver isLearnerReady): the learner's raft index is
 * at least 90% of the leader's. We use the same rule, so a promotion we start is one etcd accepts.
 */
export function learnerCaughtUp(learnerIndex: number, leaderIndex: number): boolean {
  return learnerIndex >= leaderIndex * 0.9;
}

/**
 * How far a member's applied index may trail the leader's index and still count as healthy. A member
 * that restarted answers Status long before it has replayed its log and caught up; counted healthy,
 * it would let a rolling update take down the next member while this one is still useless. Two Status
 * calls made a moment apart differ by some entries on a busy cluster, hence a margin, not zero.
 */
export const MAX_HEALTHY_APPLY_LAG = 1000;

export function memberCaughtUp(appliedIndex: number, leaderIndex: number): boolean {
  return leaderIndex - appliedIndex <= MAX_HEALTHY_APPLY_LAG;
}
