// The membership planner: from one observation, the next single step. Pure and total.
//
// Every state between two steps maps to a step that finishes or rolls back the operation, because the
// planner never trusts a remembered phase over what it sees: it re-derives the step from the operation's
// intent (type + target, recorded in status before any member-API call) and the observed member list,
// StatefulSet size and PVCs. See docs/operator.md for the state tables.
import type { MembershipOperation, OperationPhase, OperationType } from '../api/types.js';
import { hexID, memberName, ordinalOfPeerURL, peerURL } from './names.js';
import type { ObservedCluster, ObservedMember } from './observed.js';
import { learnerCaughtUp, quorum } from './quorum.js';

export type Action =
  | { kind: 'none' }
  /** Create the StatefulSet with every initial member; they start with initial-cluster-state=new. */
  | { kind: 'bootstrap'; replicas: number }
  /** Only record the operation in status (intent before any member-API call). */
  | { kind: 'start-operation' }
  | { kind: 'member-add-learner'; peerURL: string }
  | { kind: 'promote'; memberID: string }
  | { kind: 'move-leader'; fromID: string; toID: string }
  | { kind: 'member-remove'; memberID: string }
  | { kind: 'set-replicas'; replicas: number }
  | { kind: 'delete-pvc'; ordinal: number }
  /** Delete the pod (and its PVC when asked) so the StatefulSet recreates it. */
  | { kind: 'recreate-pod'; ordinal: number; deletePvc: boolean }
  /** Cancelled: no longer wanted (e.g. the cluster reached the size by other means). */
  | { kind: 'finish-operation'; result: OperationResult }
  | { kind: 'wait'; reason: string; message: string }
  | { kind: 'refuse'; reason: string; message: string };

export type ActionKind = Action['kind'];
export type OperationResult = 'Succeeded' | 'Failed' | 'Cancelled';

export interface Plan {
  action: Action;
  /** The StatefulSet size to apply this pass. */
  statefulSetReplicas: number;
  /** The operation to record in status at the end of this pass (null: none in flight). */
  operation: MembershipOperation | null;
  /** Set when a scale-up failed; stored in status.scaleUpBlockedGeneration. */
  scaleUpBlockedGeneration: number | null;
  /** For the bootstrap ConfigMap. */
  initialClusterState: 'new' | 'existing';
  initialCluster: Array<{ name: string; peerURL: string }>;
}

const none: Action = { kind: 'none' };

export function planNextStep(o: ObservedCluster): Plan {
  const stsReplicas = o.statefulSetReplicas ?? 0;
  const base: Plan = {
    action: none,
    statefulSetReplicas: stsReplicas,
    operation: o.operation,
    scaleUpBlockedGeneration: o.scaleUpBlockedGeneration,
    initialClusterState: o.bootstrapped ? 'existing' : 'new',
    initialCluster: initialClusterFrom(o),
  };

  // Bootstrap: a brand-new cluster only (no StatefulSet and never saw a cluster ID).
  if (o.statefulSetReplicas === null && !o.bootstrapped) {
    if (o.specInvalid) return { ...base, action: refuse('InvalidSpec', 'the spec is invalid; nothing is created until it is fixed') };
    // Volumes left by an earlier cluster of the same name hold another cluster's data: a new member on
    // one would not start. Never delete data on our own; tell the user.
    const leftovers = o.pvcs.filter((p) => p.ordinal < o.desiredReplicas && !p.terminating);
    if (leftovers.length > 0) {
      return {
        ...base,
        action: refuse(
          'LeftoverVolumes',
          `PVC(s) ${leftovers.map((p) => `data-${memberName(o.ref, p.ordinal)}`).join(', ')} exist from an earlier cluster named ${o.ref.name}; delete them (or restore that cluster) before a new cluster can bootstrap`,
        ),
      };
    }
    const initial = Array.from({ length: o.desiredReplicas }, (_, i) => ({
      name: memberName(o.ref, i),
      peerURL: peerURL(o.ref, i, o.peerTLS),
    }));
    return {
      ...base,
      action: { kind: 'bootstrap', replicas: o.desiredReplicas },
      statefulSetReplicas: o.desiredReplicas,
      initialClusterState: 'new',
      initialCluster: initial,
    };
  }
  if (o.paused) return { ...base, action: { kind: 'wait', reason: 'Paused', message: 'spec.paused is true' } };
  if (o.statefulSetReplicas === null) {
    // The StatefulSet vanished under a bootstrapped cluster: recreate it at the size the members say, or,
    // when none answers (their pods went with it), the size status last recorded; never re-bootstrap.
    const recorded = o.recordedOrdinals.length > 0 ? Math.max(...o.recordedOrdinals) + 1 : o.desiredReplicas;
    const size = o.members === null ? Math.max(recorded, 1) : Math.max(maxOrdinal(o, o.members) + 1, 1);
    return { ...base, action: { kind: 'set-replicas', replicas: size }, statefulSetReplicas: size };
  }
  if (o.members === null) {
    return { ...base, action: { kind: 'wait', reason: 'ClusterUnreachable', message: 'no member answered MemberList' } };
  }
  const stuck = stuckWithoutVolume(o, o.members);
  if (stuck !== null) return { ...base, action: { kind: 'recreate-pod', ordinal: stuck, deletePvc: false } };
  const plan =
    o.operation !== null
      ? continueOperation(o, o.operation, o.members, base)
      : o.specInvalid
        ? { ...base, action: refuse('InvalidSpec', 'the spec is invalid; membership is left as it is') }
        : startNext(o, o.members, base);
  return neverBelowMembers(o, o.members, plan);
}

/**
 * A pod that cannot start because its claim is gone or terminating (it was recreated while the old claim
 * was still going away, and the claim waits for the pod: neither moves). Deleting the pod lets the claim
 * go and the StatefulSet create both afresh. Only a pod that is not ready and whose member (if any) does
 * not answer: nothing running is stopped.
 */
function stuckWithoutVolume(o: ObservedCluster, members: ObservedMember[]): number | null {
  for (const pod of o.pods) {
    if (pod.ready || pod.deleting) continue;
    const pvc = o.pvcs.find((p) => p.ordinal === pod.ordinal);
    if (pvc !== undefined && !pvc.terminating) continue;
    // Its member's Status did not answer at all: a running member that merely lags is left alone.
    const m = members.find((x) => ordinalOf(o, x) === pod.ordinal);
    if (m === undefined || m.raftIndex === null) return pod.ordinal;
  }
  return null;
}

/**
 * The last guard: no plan may shrink the StatefulSet below a member's ordinal, because a StatefulSet
 * shrinks from the top and would stop that member (and every member above the gap).
 */
function neverBelowMembers(o: ObservedCluster, members: ObservedMember[], plan: Plan): Plan {
  const need = maxOrdinal(o, members) + 1;
  if (plan.statefulSetReplicas >= need || plan.statefulSetReplicas >= (o.statefulSetReplicas ?? 0)) return plan;
  return {
    ...plan,
    action: refuse('WouldStopMember', `planned StatefulSet replicas ${plan.statefulSetReplicas} would stop member(s) up to ordinal ${need - 1}; left at ${o.statefulSetReplicas ?? 0}`),
    statefulSetReplicas: o.statefulSetReplicas ?? 0,
    operation: o.operation,
  };
}

// ---------------------------------------------------------------------------------------------
// Starting an operation

function startNext(o: ObservedCluster, members: ObservedMember[], base: Plan): Plan {
  // Members we do not recognise: refuse to guess (never pick by list position).
  const foreign = members.filter((m) => ordinalOf(o, m) === null);
  if (foreign.length > 0) {
    return {
      ...base,
      action: refuse('ForeignMember', `member(s) ${foreign.map((m) => `${hexID(m.id)} (${m.peerURLs.join(' ')})`).join(', ')} have peer URLs or names this operator does not manage; remove them (etcdctl member remove) or restore their names`),
    };
  }
  const voters = members.filter((m) => !m.isLearner);
  const healthyVoters = voters.filter((m) => m.healthy);
  const leader = members.find((m) => m.isLeader);

  // A learner nobody recorded (e.g. a crash lost the intent, or someone added it): adopt it.
  const strayLearner = members.find((m) => m.isLearner);
  if (strayLearner !== undefined) {
    const ord = ordinalOf(o, strayLearner) as number;
    // Below the desired size its pod may predate it (a gap, or someone else's learner): Replace restarts
    // that pod once on fresh storage, which ScaleUp would not.
    const type: OperationType = ord >= o.desiredReplicas ? 'ScaleDown' : stsCovers(o, ord) ? 'Replace' : 'ScaleUp';
    return startOperation(o, base, type, ord, `adopting learner ${hexID(strayLearner.id)}`);
  }

  // Replace one member whose data is gone, if the others keep quorum without it.
  const lost = members.find((m) => m.dataLost);
  if (lost !== undefined) {
    const others = voters.filter((m) => m.id !== lost.id);
    const healthyOthers = others.filter((m) => m.healthy).length;
    if (healthyOthers < quorum(others.length) || others.length === 0) {
      return { ...base, action: refuse('QuorumAtRisk', `member ${lost.name || hexID(lost.id)} lost its data, but removing it would leave ${healthyOthers} healthy voter(s) of ${others.length}, below quorum`) };
    }
    // Another member down too is no reason to wait: the one whose data is gone never comes back, and
    // removing it keeps a healthy quorum (checked above). Two lost members are replaced one at a time.
    const op = newOperation(o, 'Replace', ordinalOf(o, lost) as number, 'Pending', `member ${hexID(lost.id)} lost its data`);
    return { ...base, action: { kind: 'start-operation' }, operation: { ...op, oldMemberID: lost.id } };
  }

  const size = members.length;
  // Sizes agree but a member sits at or above the desired size while a lower ordinal is free (members
  // removed out of band, or a dead member removed first): fill the free ordinal, and the scale-down that
  // follows removes the highest. Otherwise a memberless pod would linger below it.
  const misplaced = lowestFreeOrdinal(o, members) < o.desiredReplicas && maxOrdinal(o, members) >= o.desiredReplicas;
  const wantChange = size !== o.desiredReplicas || misplaced;
  if (wantChange) {
    if (leader === undefined) return { ...base, action: refuse('NoLeader', 'the cluster has no leader; no membership change starts without one') };
    if (healthyVoters.length < quorum(voters.length)) {
      return { ...base, action: refuse('NoQuorum', `${healthyVoters.length} of ${voters.length} voters are healthy, below quorum ${quorum(voters.length)}`) };
    }
    // Scaling down, a member that goes anyway (ordinal >= the desired size) may be the unhealthy one.
    const unhealthy = members.filter((m) => !m.healthy && !(size > o.desiredReplicas && (ordinalOf(o, m) as number) >= o.desiredReplicas));
    if (unhealthy.length > 0) {
      return { ...base, action: refuse('MemberUnhealthy', `${describe(unhealthy)} is unhealthy; membership changes wait until every member is healthy`) };
    }
  }

  if (size < o.desiredReplicas || (size === o.desiredReplicas && misplaced)) {
    if (o.scaleUpBlockedGeneration === o.generation) {
      return { ...base, action: refuse('ScaleUpFailed', 'the last scale-up failed at this generation; change the spec to retry') };
    }
    const ord = lowestFreeOrdinal(o, members);
    // The lowest free ordinal. When its pod exists (a member removed out of band, members above it), the
    // StatefulSet cannot drop that one pod: re-add it as a learner and restart its pod on fresh storage.
    if (stsCovers(o, ord)) return startOperation(o, base, 'Replace', ord, `no member at ordinal ${ord} (removed out of band?); re-adding ${memberName(o.ref, ord)} on fresh storage`);
    return startOperation(o, base, 'ScaleUp', ord, `scaling up from ${size} to ${o.desiredReplicas}`);
  }
  if (size > o.desiredReplicas) {
    // An unhealthy member that goes anyway goes first; else the highest ordinal, matched by peer URL and
    // (when it has one) by name.
    const byOrdinal = [...members].sort((a, b) => (ordinalOf(o, b) as number) - (ordinalOf(o, a) as number));
    const target = byOrdinal.find((m) => !m.healthy && (ordinalOf(o, m) as number) >= o.desiredReplicas) ?? (byOrdinal[0] as ObservedMember);
    const ord = ordinalOf(o, target) as number;
    return startOperation(o, base, 'ScaleDown', ord, `scaling down from ${size} to ${o.desiredReplicas}`);
  }

  // Sizes agree: the StatefulSet must cover exactly the members' ordinals.
  const want = maxOrdinal(o, members) + 1;
  if (o.statefulSetReplicas !== want) {
    return { ...base, action: { kind: 'set-replicas', replicas: want }, statefulSetReplicas: want };
  }
  // Rolling update (OnDelete): one pod at a time, only when everything is healthy; the leader last.
  const outdated = o.pods.filter((p) => !p.upToDate);
  if (outdated.length > 0) {
    const allReady = o.pods.length === want && o.pods.every((p) => p.ready) && members.every((m) => m.healthy);
    if (!allReady || leader === undefined) {
      return { ...base, action: { kind: 'wait', reason: 'RollingUpdateWaiting', message: 'waiting for every member to be ready before rolling the next pod' } };
    }
    const leaderOrd = ordinalOf(o, leader);
    const nonLeader = outdated.filter((p) => p.ordinal !== leaderOrd).sort((a, b) => b.ordinal - a.ordinal)[0];
    if (nonLeader !== undefined) return { ...base, action: { kind: 'recreate-pod', ordinal: nonLeader.ordinal, deletePvc: false } };
    const to = bestTransferee(members, leader.id);
    if (to === undefined) return { ...base, action: refuse('NoTransferee', 'no healthy voter can take leadership before the leader pod is rolled') };
    return { ...base, action: { kind: 'move-leader', fromID: leader.id, toID: to.id } };
  }
  return base;
}

function startOperation(o: ObservedCluster, base: Plan, type: OperationType, ordinal: number, message: string): Plan {
  return { ...base, action: { kind: 'start-operation' }, operation: newOperation(o, type, ordinal, 'Pending', message) };
}

function newOperation(o: ObservedCluster, type: OperationType, ordinal: number, phase: OperationPhase, message: string): MembershipOperation {
  return {
    type,
    phase,
    ordinal,
    memberName: memberName(o.ref, ordinal),
    peerURL: peerURL(o.ref, ordinal, o.peerTLS),
    startTime: o.nowIso,
    message,
  };
}

// ---------------------------------------------------------------------------------------------
// Continuing an operation

function continueOperation(o: ObservedCluster, op: MembershipOperation, members: ObservedMember[], base: Plan): Plan {
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
    return { ...finish(base, 'Failed'), scaleUpBlockedGeneration: o.generation };
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
  // The old member, if still there, is left as it is; the next scale-up waits for a spec change.
  if (op.phase === 'RollingBack' || (timedOut && (m === undefined || isOld || m.isLearner))) {
    const rb: MembershipOperation = { ...op, phase: 'RollingBack', message: `replacement of ${op.memberName} did not finish within ${Math.round(o.learnerTimeoutMs / 1000)}s; gave up` };
    if (m !== undefined && !isOld && m.isLearner) return { ...base, operation: rb, action: { kind: 'member-remove', memberID: m.id } };
    if (m !== undefined && !isOld && !m.isLearner) return finish(base, 'Succeeded');
    return { ...finish(base, 'Failed'), scaleUpBlockedGeneration: o.generation };
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

// ---------------------------------------------------------------------------------------------
// Helpers

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

function bestTransferee(members: ObservedMember[], fromID: string): ObservedMember | undefined {
  return members
    .filter((x) => !x.isLearner && x.healthy && x.id !== fromID)
    .sort((a, b) => (b.raftIndex ?? -1) - (a.raftIndex ?? -1) || a.id.localeCompare(b.id))[0];
}

/** The member an operation targets: same peer URL, and the same name unless it has none yet. */
function findTarget(_o: ObservedCluster, members: ObservedMember[], op: MembershipOperation): ObservedMember | undefined {
  return members.find((m) => m.peerURLs.includes(op.peerURL) && (m.name === '' || m.name === op.memberName));
}

function ordinalOf(o: ObservedCluster, m: ObservedMember): number | null {
  for (const url of m.peerURLs) {
    const ord = ordinalOfPeerURL(o.ref, url);
    if (ord !== null && (m.name === '' || m.name === memberName(o.ref, ord))) return ord;
  }
  return null;
}

function maxOrdinal(o: ObservedCluster, members: ObservedMember[]): number {
  return members.reduce((acc, m) => Math.max(acc, ordinalOf(o, m) ?? -1), -1);
}

/**
 * The learner had its time to catch up. Counted from MemberAdd (an operation may wait long before it,
 * e.g. for a leader), or from the start when a crash lost that record (sooner, never later).
 */
function learnerTimedOut(o: ObservedCluster, op: MembershipOperation): boolean {
  return o.nowMs - Date.parse(op.learnerAddedTime ?? op.startTime) > o.learnerTimeoutMs;
}

function lowestFreeOrdinal(o: ObservedCluster, members: ObservedMember[]): number {
  const taken = new Set(members.map((m) => ordinalOf(o, m)));
  let ord = 0;
  while (taken.has(ord)) ord++;
  return ord;
}

/** The StatefulSet has a pod slot for this ordinal. */
function stsCovers(o: ObservedCluster, ordinal: number): boolean {
  return (o.statefulSetReplicas ?? 0) > ordinal;
}

function membersAbove(o: ObservedCluster, members: ObservedMember[], ordinal: number): boolean {
  return maxOrdinal(o, members) > ordinal;
}

function hasPvc(o: ObservedCluster, ordinal: number): boolean {
  return o.pvcs.some((p) => p.ordinal === ordinal && !p.terminating);
}

function initialClusterFrom(o: ObservedCluster): Array<{ name: string; peerURL: string }> {
  if (o.members === null) return [];
  const ords: number[] = [];
  for (const m of o.members) {
    const ord = ordinalOf(o, m);
    if (ord !== null) ords.push(ord);
  }
  return ords.sort((a, b) => a - b).map((ord) => ({ name: memberName(o.ref, ord), peerURL: peerURL(o.ref, ord, o.peerTLS) }));
}

function finish(base: Plan, result: OperationResult): Plan {
  return { ...base, action: { kind: 'finish-operation', result }, operation: null };
}

function refuse(reason: string, message: string): Action {
  return { kind: 'refuse', reason, message };
}

function describe(ms: ObservedMember[]): string {
  return ms.map((m) => m.name || hexID(m.id)).join(', ');
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${String(x)}`);
}
