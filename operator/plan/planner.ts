// The membership planner: from one observation, the next single step. Pure and total.
//
// Every state between two steps maps to a step that finishes or rolls back the operation, because the
// planner never trusts a remembered phase over what it sees: it re-derives the step from the operation's
// intent (type + target, recorded in status before any member-API call) and the observed member list,
// StatefulSet size and PVCs. See docs/operator.md for the state tables.
import type { OperationType } from '../api/types.js';
import { newOperation, refuse, type Action, type Plan } from './action.js';
import { continueOperation } from './continue-operation.js';
import { planDefrag } from './defrag.js';
import { bestTransferee, describe, lowestFreeOrdinal, maxOrdinal, ordinalOf, stsCovers } from './member-match.js';
import { hexID, memberName, peerURL } from './names.js';
import type { ObservedCluster, ObservedMember } from './observed.js';
import { quorum } from './quorum.js';
import { scaleUpWaiting } from './scale-up-retry.js';
import { versionChangeProblem } from '../api/versions.js';

export { assertNever, type Action, type ActionKind, type OperationResult, type Plan } from './action.js';
export { removalUnsafe } from './member-match.js';

const none: Action = { kind: 'none' };
/** How long past its deletion time a terminating pod is still waited for. */
export const STUCK_DELETING_MS = 60_000;

export function planNextStep(o: ObservedCluster): Plan {
  const stsReplicas = o.statefulSetReplicas ?? 0;
  const base: Plan = {
    action: none,
    statefulSetReplicas: stsReplicas,
    operation: o.operation,
    scaleUpBlockedGeneration: o.scaleUpBlockedGeneration,
    scaleUpRetry: o.scaleUpRetry,
    initialClusterState: o.bootstrapped ? 'existing' : 'new',
    initialCluster: initialClusterFrom(o),
    defrag: o.defragStatus,
    holdImage: false,
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
    // Its old pods still terminating would block the new StatefulSet's pods of the same names ("object is
    // being deleted"), and its controller then backs off for minutes before it tries a name again.
    // A pod past its deletion time by more than a minute is stuck (its node is gone, say): not waited for.
    const going = o.pods.filter((p) => p.deleting && (p.deletionMs == null || o.nowMs < p.deletionMs + STUCK_DELETING_MS));
    if (going.length > 0) {
      return { ...base, action: { kind: 'wait', reason: 'StatefulSetPodsTerminating', message: `the StatefulSet is gone; waiting for its pod(s) ${going.map((p) => memberName(o.ref, p.ordinal)).join(', ')} to terminate before recreating it` } };
    }
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
  const versionProblem = versionChangeProblem(runningVersions(o.members), o.desiredVersion);
  const held: Plan = { ...base, holdImage: versionProblem !== null };
  const plan =
    o.operation !== null
      ? continueOperation(o, o.operation, o.members, held)
      : o.specInvalid
        ? { ...held, action: refuse('InvalidSpec', 'the spec is invalid; membership is left as it is') }
        : startNext(o, o.members, held, versionProblem);
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

function startNext(o: ObservedCluster, members: ObservedMember[], base: Plan, versionProblem: string | null): Plan {
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
    const waiting = scaleUpWaiting(o);
    if (waiting !== null) {
      return { ...base, action: refuse('ScaleUpFailed', `${waiting.failures} scale-up(s) failed in a row at this generation; the next try is at ${waiting.retryTime} (a spec change tries at once)`) };
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
  // A version change etcd does not allow: the image is held (base.holdImage) and nothing rolls.
  if (versionProblem !== null) return { ...base, action: refuse('UnsupportedVersionChange', versionProblem) };
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
  // Nothing else to do: scheduled defragmentation, if any.
  return planDefrag(o, members, base);
}

function startOperation(o: ObservedCluster, base: Plan, type: OperationType, ordinal: number, message: string): Plan {
  return { ...base, action: { kind: 'start-operation' }, operation: newOperation(o, type, ordinal, 'Pending', message) };
}


/** The server versions the members report (a member that did not answer reports none). */
function runningVersions(members: ObservedMember[]): string[] {
  return members.flatMap((m) => (m.version === null ? [] : [m.version]));
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
