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
