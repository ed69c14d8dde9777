// Carrying an operation on: from its recorded intent (type + target) and what is observed now, the next
// step. Never from a remembered phase alone, so every crash point resolves (see planner.test.ts).
import type { MembershipOperation } from '../api/types.js';
import { finish, newOperation, refuse, assertNever, type Plan } from './action.js';
import { bestTransferee, findTarget, hasPvc, maxOrdinal, membersAbove, removalUnsafe } from './member-match.js';
import type { ObservedCluster, ObservedMember } from './observed.js';
import { learnerCaughtUp, quorum } from './quorum.js';
import { recordScaleUpFailure } from './scale-up-retry.js';

export function continueOperation(o: ObservedCluster, op: MembershipOperation, members: ObservedMember[], base: Plan): Plan {
  switch (op.type) {
    case 'ScaleUp':
      return continueScaleUp(o, op, members, base);
    case 'ScaleDown':
      return continueScaleDown(o, op, members, base);
    case 'Replace':
      return continueReplace(o, op, members, base);
    default:
      return assertNever(op.type);
  }
}

function continueScaleUp(o: ObservedCluster, op: MembershipOperation, members: ObservedMember[], base: Plan): Plan {
  const k = op.ordinal;
  const m = findTarget(o, members, op);
  const sts = o.statefulSetReplicas ?? 0;
  const timedOut = learnerTimedOut(o, op);

  // Roll back: remove the learner, shrink the StatefulSet, drop its (useless) data, report.
  if (op.phase === 'RollingBack' || (timedOut && (m === undefined || m.isLearner))) {
    const rb: MembershipOperation = { ...op, phase: 'RollingBack', message: `learner ${op.memberName} did not catch up within ${Math.round(o.learnerTimeoutMs / 1000)}s; rolling back` };
    if (m !== undefined) {
      if (!m.isLearner) return finish(base, 'Succeeded'); // it got promoted after all
      return { ...base, operation: rb, action: { kind: 'member-remove', memberID: m.id } };
    }
    // Shrink and drop k's data only when k is the top: below a member the pod stays (a StatefulSet
    // shrinks from the top and would stop that member).
    if (!membersAbove(o, members, k)) {
      if (sts > k) return { ...base, operation: rb, action: { kind: 'set-replicas', replicas: k }, statefulSetReplicas: k };
      if (hasPvc(o, k)) return { ...base, operation: rb, action: { kind: 'delete-pvc', ordinal: k } };
    }
    return recordScaleUpFailure(o, finish(base, 'Failed'));
  }

  if (m === undefined) {
    if (sts > k && membersAbove(o, members, k)) {
      // A gap (e.g. recorded by an older operator): k's pod cannot be dropped alone. Replace restarts it
      // on fresh storage once the learner exists.
      return { ...base, action: { kind: 'start-operation' }, operation: { ...newOperation(o, 'Replace', k, 'Pending', `no member at ordinal ${k} below other members; re-adding ${op.memberName} on fresh storage`) } };
    }
    if (sts > k) {
      // The pod for k exists without a member and none above it (e.g. a rollback crashed midway): shrink first.
      return { ...base, action: { kind: 'set-replicas', replicas: k }, statefulSetReplicas: k, operation: { ...op, phase: 'AddingLearner' } };
    }
    // A PVC left from an earlier member of this ordinal holds a removed member's data: drop it first.
    const pvc = o.pvcs.find((p) => p.ordinal === k);
    if (pvc !== undefined) {
      if (pvc.terminating) return { ...base, action: { kind: 'wait', reason: 'PvcTerminating', message: `waiting for the old PVC of ${op.memberName} to go away` } };
      return { ...base, action: { kind: 'delete-pvc', ordinal: k }, operation: { ...op, phase: 'AddingLearner' } };
    }
    const leader = members.find((x) => x.isLeader);
    if (leader === undefined) return { ...base, action: { kind: 'wait', reason: 'NoLeader', message: 'waiting for a leader before MemberAdd' } };
    return { ...base, action: { kind: 'member-add-learner', peerURL: op.peerURL }, operation: { ...op, learnerAddedTime: o.nowIso, phase: 'StartingMember' } };
  }
  if (sts <= k) {
    return { ...base, action: { kind: 'set-replicas', replicas: k + 1 }, statefulSetReplicas: k + 1, operation: { ...op, phase: 'CatchingUp' } };
  }
  if (m.isLearner) return promoteWhenCaughtUp(m, members, op, base);
  return finish(base, 'Succeeded');
}

function continueScaleDown(o: ObservedCluster, op: MembershipOperation, members: ObservedMember[], base: Plan): Plan {
  const k = op.ordinal;
  const m = findTarget(o, members, op);
  const sts = o.statefulSetReplicas ?? 0;
  // Members removed out of band meanwhile: removing this one too would go below the desired size.
  if (m !== undefined && members.length <= o.desiredReplicas) return finish(base, 'Cancelled');
  if (m !== undefined) {
    if (m.isLeader) {
      const to = bestTransferee(members, m.id);
      if (to === undefined) return { ...base, action: refuse('NoTransferee', `member ${op.memberName} is the leader and no healthy voter can take over`) };
      return { ...base, action: { kind: 'move-leader', fromID: m.id, toID: to.id }, operation: { ...op, phase: 'MovingLeader' } };
    }
    // Another member failed since the scale-down started: give it up (nothing was done yet) so the next
    // pass can see the cluster afresh: replace a member whose data is gone, or say why it waits.
    if (removalUnsafe(members, m) !== null) return finish(base, 'Cancelled');
    return { ...base, action: { kind: 'member-remove', memberID: m.id }, operation: { ...op, phase: 'RemovingMember' } };
  }
  // Shrink to just above the highest member: a target below another member (a dead member removed
  // first) keeps its pod slot until the members above it are gone.
  const floor = maxOrdinal(o, members) + 1;
  if (sts > floor) return { ...base, action: { kind: 'set-replicas', replicas: floor }, statefulSetReplicas: floor, operation: { ...op, phase: 'ShrinkingStatefulSet' } };
  if (o.retentionPolicy === 'Delete' && sts <= k && hasPvc(o, k)) {
    return { ...base, action: { kind: 'delete-pvc', ordinal: k }, operation: { ...op, phase: 'CleaningUpStorage' } };
  }
  return finish(base, 'Succeeded');
}

function continueReplace(o: ObservedCluster, op: MembershipOperation, members: ObservedMember[], base: Plan): Plan {
  const m = findTarget(o, members, op);
  const isOld = m !== undefined && m.id === op.oldMemberID;
  const timedOut = learnerTimedOut(o, op);
  // Never hang: past the timeout, drop the replacement learner (it holds the one learner slot) and report.
  // The old member, if still there, is left as it is; the next scale-up waits (scale-up-retry.ts).
  if (op.phase === 'RollingBack' || (timedOut && (m === undefined || isOld || m.isLearner))) {
    const rb: MembershipOperation = { ...op, phase: 'RollingBack', message: `replacement of ${op.memberName} did not finish within ${Math.round(o.learnerTimeoutMs / 1000)}s; gave up` };
    if (m !== undefined && !isOld && m.isLearner) return { ...base, operation: rb, action: { kind: 'member-remove', memberID: m.id } };
    if (m !== undefined && !isOld && !m.isLearner) return finish(base, 'Succeeded');
    return recordScaleUpFailure(o, finish(base, 'Failed'));
  }
  if (isOld && m !== undefined) {
    const unsafe = removalUnsafe(members, m);
    if (unsafe !== null) return { ...base, action: refuse('QuorumAtRisk', unsafe) };
    if (m.isLeader) {
      const to = bestTransferee(members, m.id);
      if (to === undefined) return { ...base, action: refuse('NoTransferee', `member ${op.memberName} is the leader and no healthy voter can take over`) };
      return { ...base, action: { kind: 'move-leader', fromID: m.id, toID: to.id }, operation: { ...op, phase: 'MovingLeader' } };
    }
    return { ...base, action: { kind: 'member-remove', memberID: m.id }, operation: { ...op, phase: 'RemovingMember' } };
  }
  if (m === undefined) {
    if (members.find((x) => x.isLeader) === undefined) return { ...base, action: { kind: 'wait', reason: 'NoLeader', message: 'waiting for a leader before MemberAdd' } };
    return { ...base, action: { kind: 'member-add-learner', peerURL: op.peerURL }, operation: { ...op, learnerAddedTime: o.nowIso, phase: 'AddingLearner' } };
  }
  // The new member exists. Restart its pod on fresh storage once, then catch up and promote.
  const restarted = op.phase === 'RestartingMember' || op.phase === 'CatchingUp' || op.phase === 'Promoting';
  if (!restarted) {
    return { ...base, action: { kind: 'recreate-pod', ordinal: op.ordinal, deletePvc: true }, operation: { ...op, phase: 'RestartingMember' } };
  }
  // A pod recreated while its old PVC was still terminating binds to nothing and stays pending:
  // delete the pod again until the StatefulSet can create it with a fresh claim.
  const pvc = o.pvcs.find((p) => p.ordinal === op.ordinal);
  const pod = o.pods.find((p) => p.ordinal === op.ordinal);
  if (m.isLearner && !m.healthy && pod !== undefined && !pod.ready && (pvc === undefined || pvc.terminating)) {
    return { ...base, action: { kind: 'recreate-pod', ordinal: op.ordinal, deletePvc: false }, operation: { ...op, phase: 'RestartingMember' } };
  }
  if (m.isLearner) return promoteWhenCaughtUp(m, members, { ...op, phase: 'CatchingUp' }, base);
  return finish(base, 'Succeeded');
}

function promoteWhenCaughtUp(m: ObservedMember, members: ObservedMember[], op: MembershipOperation, base: Plan): Plan {
  const leader = members.find((x) => x.isLeader);
  const caughtUp =
    m.healthy && leader !== undefined && m.raftIndex !== null && leader.raftIndex !== null && learnerCaughtUp(m.raftIndex, leader.raftIndex);
  if (!caughtUp) {
    const lag = leader?.raftIndex != null && m.raftIndex !== null ? ` (raft index ${m.raftIndex} of ${leader.raftIndex})` : '';
    return { ...base, action: { kind: 'wait', reason: 'LearnerCatchingUp', message: `learner ${op.memberName} is catching up${lag}` }, operation: { ...op, phase: 'CatchingUp' } };
  }
  // Promotion grows the quorum: the voters after it must still have a healthy quorum (etcd checks the same).
  const voters = members.filter((x) => !x.isLearner);
  const healthyAfter = voters.filter((x) => x.healthy).length + 1;
  if (healthyAfter < quorum(voters.length + 1)) {
    return { ...base, action: refuse('QuorumAtRisk', `promoting ${op.memberName} would need ${quorum(voters.length + 1)} healthy voters, only ${healthyAfter} would be`), operation: { ...op, phase: 'CatchingUp' } };
  }
  return { ...base, action: { kind: 'promote', memberID: m.id }, operation: { ...op, phase: 'Promoting' } };
}

/**
 * The learner had its time to catch up. Counted from MemberAdd (an operation may wait long before it,
 * e.g. for a leader), or from the start when a crash lost that record (sooner, never later).
 */
function learnerTimedOut(o: ObservedCluster, op: MembershipOperation): boolean {
  return o.nowMs - Date.parse(op.learnerAddedTime ?? op.startTime) > o.learnerTimeoutMs;
}
