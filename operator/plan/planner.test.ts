import { describe, expect, it } from 'vitest';
import type { MembershipOperation } from '../api/types.js';
import { peerURL, type ClusterRef } from './names.js';
import type { ObservedCluster, ObservedMember } from './observed.js';
import { planNextStep, removalUnsafe, type Plan } from './planner.js';
import { retryDelayMs } from './scale-up-retry.js';
import { plannerFixture, T0 } from './testing/planner-fixture.js';

const ref: ClusterRef = { name: 'e', namespace: 'ns', uid: 'uid-1234567890' };
const iso = (ms: number): string => new Date(ms).toISOString();

const { member, observed, op } = plannerFixture(ref);

const kind = (p: Plan): string => p.action.kind;

describe('bootstrap', () => {
  it('creates every initial member with initial-cluster-state=new for a brand-new cluster', () => {
    const p = planNextStep(observed({ statefulSetReplicas: null, bootstrapped: false, members: null, pvcs: [] }));
    expect(p.action).toEqual({ kind: 'bootstrap', replicas: 3 });
    expect(p.statefulSetReplicas).toBe(3);
    expect(p.initialClusterState).toBe('new');
    expect(p.initialCluster.map((m) => m.name)).toEqual(['e-0', 'e-1', 'e-2']);
    expect(p.initialCluster[1]?.peerURL).toBe('http://e-1.e-peer.ns.svc:2380');
  });

  it('never bootstraps a cluster that existed (StatefulSet gone, cluster ID known)', () => {
    const p = planNextStep(observed({ statefulSetReplicas: null, bootstrapped: true }));
    expect(p.action).toEqual({ kind: 'set-replicas', replicas: 3 });
    expect(p.initialClusterState).toBe('existing');
  });

  it('refuses to bootstrap over volumes left by an earlier cluster of the same name', () => {
    const p = planNextStep(observed({ statefulSetReplicas: null, bootstrapped: false, members: null, pvcs: [{ ordinal: 1, terminating: false }] }));
    expect(p.action).toMatchObject({ kind: 'refuse', reason: 'LeftoverVolumes' });
    expect(p.action.kind === 'refuse' && p.action.message).toMatch(/data-e-1/);
    expect(p.statefulSetReplicas).toBe(0);
  });

  it('creates nothing for an invalid spec', () => {
    const p = planNextStep(observed({ statefulSetReplicas: null, bootstrapped: false, members: null, specInvalid: true }));
    expect(p.action.kind).toBe('refuse');
    expect(p.statefulSetReplicas).toBe(0);
  });

  it('a steady cluster needs nothing', () => {
    const p = planNextStep(observed());
    expect(p.action).toEqual({ kind: 'none' });
    expect(p.initialClusterState).toBe('existing');
    expect(p.initialCluster.map((m) => m.name)).toEqual(['e-0', 'e-1', 'e-2']);
  });
});

describe('scale up 3 -> 5, one step per pass', () => {
  it('walks intent -> MemberAdd learner -> raise replicas -> wait -> promote -> done, then repeats', () => {
    // 1. record intent
    let o = observed({ desiredReplicas: 5 });
    let p = planNextStep(o);
    expect(kind(p)).toBe('start-operation');
    expect(p.operation).toMatchObject({ type: 'ScaleUp', ordinal: 3, memberName: 'e-3', peerURL: 'http://e-3.e-peer.ns.svc:2380', phase: 'Pending' });
    expect(p.statefulSetReplicas).toBe(3);
    // 2. MemberAdd as learner
    o = { ...o, operation: p.operation };
    p = planNextStep(o);
    expect(p.action).toEqual({ kind: 'member-add-learner', peerURL: 'http://e-3.e-peer.ns.svc:2380' });
    expect(p.statefulSetReplicas).toBe(3);
    // 3. raise replicas (learner not started: no name, unhealthy)
    const learner = member(3, { id: '2003', name: '', isLearner: true, healthy: false, isLeader: false, raftIndex: null });
    o = { ...o, operation: p.operation, members: [...(o.members ?? []), learner] };
    p = planNextStep(o);
    expect(p.action).toEqual({ kind: 'set-replicas', replicas: 4 });
    expect(p.statefulSetReplicas).toBe(4);
    expect(p.initialCluster.map((m) => m.name)).toEqual(['e-0', 'e-1', 'e-2', 'e-3']);
    // 4. wait while it catches up
    o = { ...o, operation: p.operation, statefulSetReplicas: 4, members: [member(0), member(1), member(2), { ...learner, name: 'e-3', healthy: true, raftIndex: 10 }] };
    p = planNextStep(o);
    expect(p.action).toMatchObject({ kind: 'wait', reason: 'LearnerCatchingUp' });
    expect(p.operation?.phase).toBe('CatchingUp');
    // 5. promote when caught up
    o = { ...o, operation: p.operation, members: [member(0), member(1), member(2), { ...learner, name: 'e-3', healthy: true, raftIndex: 95 }] };
    p = planNextStep(o);
    expect(p.action).toEqual({ kind: 'promote', memberID: '2003' });
    // done
    o = { ...o, operation: p.operation, members: [member(0), member(1), member(2), member(3, { id: '2003' })] };
    p = planNextStep(o);
    expect(p.action).toEqual({ kind: 'finish-operation', result: 'Succeeded' });
    expect(p.operation).toBeNull();
    // 6. repeat for ordinal 4
    o = { ...o, operation: null, pods: [...o.pods, { ordinal: 3, ready: true, upToDate: true, deleting: false }], pvcs: [...o.pvcs, { ordinal: 3, terminating: false }] };
    p = planNextStep(o);
    expect(kind(p)).toBe('start-operation');
    expect(p.operation?.ordinal).toBe(4);
  });

  it('refuses to start while a member is unhealthy', () => {
    const p = planNextStep(observed({ desiredReplicas: 5, members: [member(0), member(1), member(2, { healthy: false })] }));
    expect(p.action).toMatchObject({ kind: 'refuse', reason: 'MemberUnhealthy' });
    expect(p.operation).toBeNull();
  });

  it('refuses to start without quorum', () => {
    const p = planNextStep(observed({ desiredReplicas: 5, members: [member(0), member(1, { healthy: false }), member(2, { healthy: false })] }));
    expect(p.action).toMatchObject({ kind: 'refuse', reason: 'NoQuorum' });
  });

  it('refuses to start without a leader', () => {
    const p = planNextStep(observed({ desiredReplicas: 5, members: [member(0, { isLeader: false }), member(1), member(2)] }));
    expect(p.action).toMatchObject({ kind: 'refuse', reason: 'NoLeader' });
  });

  it('removes a learner that does not catch up in time, rolls back, reports, and retries after a growing backoff', () => {
    const started = op('ScaleUp', 3, { phase: 'CatchingUp' });
    const learner = member(3, { id: '2003', isLearner: true, isLeader: false, raftIndex: 5 });
    const late = T0 + 300_001;
    let o = observed({ desiredReplicas: 5, operation: started, statefulSetReplicas: 4, members: [member(0), member(1), member(2), learner], nowMs: late, nowIso: iso(late) });
    o = { ...o, pvcs: [0, 1, 2, 3].map((i) => ({ ordinal: i, terminating: false })) };
    let p = planNextStep(o);
    expect(p.action).toEqual({ kind: 'member-remove', memberID: '2003' });
    expect(p.operation?.phase).toBe('RollingBack');
    expect(p.operation?.message).toMatch(/did not catch up within 300s/);
    o = { ...o, operation: p.operation, members: [member(0), member(1), member(2)] };
    p = planNextStep(o);
    expect(p.action).toEqual({ kind: 'set-replicas', replicas: 3 });
    o = { ...o, operation: p.operation, statefulSetReplicas: 3 };
    p = planNextStep(o);
    expect(p.action).toEqual({ kind: 'delete-pvc', ordinal: 3 });
    o = { ...o, operation: p.operation, pvcs: [0, 1, 2].map((i) => ({ ordinal: i, terminating: false })) };
    p = planNextStep(o);
    expect(p.action).toEqual({ kind: 'finish-operation', result: 'Failed' });
    expect(p.scaleUpBlockedGeneration).toBe(1);
    expect(p.scaleUpRetry).toEqual({ failures: 1, retryTime: iso(late + 60_000) });
    // no retry at the same generation before the backoff ends
    o = { ...o, operation: null, scaleUpBlockedGeneration: 1, scaleUpRetry: p.scaleUpRetry, nowMs: late + 59_999, nowIso: iso(late + 59_999) };
    p = planNextStep(o);
    expect(p.action).toMatchObject({ kind: 'refuse', reason: 'ScaleUpFailed' });
    expect((p.action as { message: string }).message).toContain(`the next try is at ${iso(late + 60_000)}`);
    // a spec change (new generation) retries at once
    expect(kind(planNextStep({ ...o, generation: 2 }))).toBe('start-operation');
    // the backoff's end retries, and a second failure in a row doubles it
    o = { ...o, nowMs: late + 60_000, nowIso: iso(late + 60_000) };
    p = planNextStep(o);
    expect(kind(p)).toBe('start-operation');
    const again = late + 60_000 + 300_001;
    o = { ...o, operation: { ...(p.operation as MembershipOperation), learnerAddedTime: iso(late + 60_000) }, nowMs: again, nowIso: iso(again) };
    p = planNextStep(o);
    expect(p.action).toEqual({ kind: 'finish-operation', result: 'Failed' });
    expect(p.scaleUpRetry).toEqual({ failures: 2, retryTime: iso(again + 120_000) });
  });

  it('backs off 1 min after the first failed scale-up, doubling, at most 30 min', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 40].map(retryDelayMs)).toEqual([60_000, 120_000, 240_000, 480_000, 960_000, 1_800_000, 1_800_000, 1_800_000]);
  });

  it('drops a stale PVC left by an earlier member of the ordinal before MemberAdd', () => {
    const o = observed({ desiredReplicas: 5, operation: op('ScaleUp', 3), pvcs: [0, 1, 2, 3].map((i) => ({ ordinal: i, terminating: false })) });
    expect(planNextStep(o).action).toEqual({ kind: 'delete-pvc', ordinal: 3 });
    const waiting = planNextStep({ ...o, pvcs: [...o.pvcs.slice(0, 3), { ordinal: 3, terminating: true }] });
    expect(waiting.action).toMatchObject({ kind: 'wait', reason: 'PvcTerminating' });
  });
});

describe('scale up crash points: every state between two steps resolves', () => {
  const learner = member(3, { id: '2003', name: '', isLearner: true, healthy: false, isLeader: false, raftIndex: null });

  it('crash after recording intent, before MemberAdd: adds the learner', () => {
    const p = planNextStep(observed({ desiredReplicas: 5, operation: op('ScaleUp', 3) }));
    expect(kind(p)).toBe('member-add-learner');
  });

  it('crash after MemberAdd, before raising replicas (status still says Pending): raises replicas', () => {
    const p = planNextStep(observed({ desiredReplicas: 5, operation: op('ScaleUp', 3), members: [member(0), member(1), member(2), learner] }));
    expect(p.action).toEqual({ kind: 'set-replicas', replicas: 4 });
  });

  it('crash after MemberAdd with the intent lost: the stray learner is adopted, not duplicated', () => {
    const p = planNextStep(observed({ desiredReplicas: 5, members: [member(0), member(1), member(2), learner] }));
    expect(kind(p)).toBe('start-operation');
    expect(p.operation).toMatchObject({ type: 'ScaleUp', ordinal: 3 });
  });

  it('a stray learner beyond the desired size is scaled down (removed)', () => {
    const p = planNextStep(observed({ desiredReplicas: 3, members: [member(0), member(1), member(2), learner] }));
    expect(p.operation).toMatchObject({ type: 'ScaleDown', ordinal: 3 });
    const next = planNextStep(observed({ desiredReplicas: 3, operation: p.operation, members: [member(0), member(1), member(2), learner] }));
    expect(next.action).toEqual({ kind: 'member-remove', memberID: '2003' });
  });

  it('crash after promote, before the status write: finishes', () => {
    const p = planNextStep(observed({ desiredReplicas: 5, operation: op('ScaleUp', 3, { phase: 'Promoting' }), statefulSetReplicas: 4, members: [member(0), member(1), member(2), member(3)] }));
    expect(p.action).toEqual({ kind: 'finish-operation', result: 'Succeeded' });
  });

  it('crash midway through a rollback (learner removed, replicas still raised): continues the rollback', () => {
    const late = T0 + 400_000;
    const p = planNextStep(observed({ desiredReplicas: 5, operation: op('ScaleUp', 3, { phase: 'CatchingUp' }), statefulSetReplicas: 4, nowMs: late, nowIso: iso(late) }));
    expect(p.action).toEqual({ kind: 'set-replicas', replicas: 3 });
    expect(p.operation?.phase).toBe('RollingBack');
  });

  it('a pod without a member (replicas drifted above the member list) shrinks before MemberAdd', () => {
    const p = planNextStep(observed({ desiredReplicas: 5, operation: op('ScaleUp', 3), statefulSetReplicas: 4 }));
    expect(p.action).toEqual({ kind: 'set-replicas', replicas: 3 });
  });

  it('does not promote when the grown voter set would lack a healthy quorum', () => {
    // 3 voters, 2 unhealthy: after promotion 4 voters need 3 healthy, only 2 would be.
    const members = [member(0), member(1, { healthy: false }), member(2, { healthy: false }), member(3, { id: '2003', isLearner: true, isLeader: false, raftIndex: 100 })];
    const p = planNextStep(observed({ desiredReplicas: 5, operation: op('ScaleUp', 3, { phase: 'CatchingUp' }), statefulSetReplicas: 4, members }));
    expect(p.action).toMatchObject({ kind: 'refuse', reason: 'QuorumAtRisk' });
    expect(p.operation?.type).toBe('ScaleUp');
  });

  it('does not promote a learner whose Status did not answer', () => {
    const p = planNextStep(observed({ desiredReplicas: 5, operation: op('ScaleUp', 3, { phase: 'CatchingUp' }), statefulSetReplicas: 4, members: [member(0), member(1), member(2), { ...learner, name: 'e-3', raftIndex: 100 }] }));
    expect(p.action.kind).toBe('wait');
  });
});

describe('scale down 5 -> 3', () => {
  const five = (): ObservedMember[] => [0, 1, 2, 3, 4].map((i) => member(i));
  const base5 = (over: Partial<ObservedCluster> = {}): ObservedCluster =>
    observed({
      desiredReplicas: 3,
      statefulSetReplicas: 5,
      members: five(),
      pods: [0, 1, 2, 3, 4].map((i) => ({ ordinal: i, ready: true, upToDate: true, deleting: false })),
      pvcs: [0, 1, 2, 3, 4].map((i) => ({ ordinal: i, terminating: false })),
      ...over,
    });

  it('picks the highest ordinal by name and peer URL, not list position', () => {
    const shuffled = [member(4), member(0), member(2), member(3), member(1)];
    const p = planNextStep(base5({ members: shuffled }));
    expect(p.operation).toMatchObject({ type: 'ScaleDown', ordinal: 4, memberName: 'e-4' });
  });

  it('walks intent -> MemberRemove -> lower replicas -> done (Retain keeps the PVC)', () => {
    let o = base5();
    let p = planNextStep(o);
    expect(kind(p)).toBe('start-operation');
    o = { ...o, operation: p.operation };
    p = planNextStep(o);
    expect(p.action).toEqual({ kind: 'member-remove', memberID: '1004' });
    o = { ...o, operation: p.operation, members: five().slice(0, 4) };
    p = planNextStep(o);
    expect(p.action).toEqual({ kind: 'set-replicas', replicas: 4 });
    o = { ...o, operation: p.operation, statefulSetReplicas: 4 };
    p = planNextStep(o);
    expect(p.action).toEqual({ kind: 'finish-operation', result: 'Succeeded' });
  });

  it('deletes the PVC after lowering replicas under the Delete policy', () => {
    const p = planNextStep(base5({ retentionPolicy: 'Delete', operation: op('ScaleDown', 4, { phase: 'ShrinkingStatefulSet' }), members: five().slice(0, 4), statefulSetReplicas: 4 }));
    expect(p.action).toEqual({ kind: 'delete-pvc', ordinal: 4 });
  });

  it('moves leadership away before removing the leader', () => {
    const members = five().map((m) => ({ ...m, isLeader: m.id === '1004' }));
    members[2] = { ...(members[2] as ObservedMember), raftIndex: 120 };
    const p = planNextStep(base5({ members, operation: op('ScaleDown', 4) }));
    expect(p.action).toEqual({ kind: 'move-leader', fromID: '1004', toID: '1002' });
  });

  it('never matches a member with the right peer URL but another name', () => {
    const imposter = member(4, { name: 'someone-else' });
    const p = planNextStep(base5({ members: [...five().slice(0, 4), imposter] }));
    expect(p.action).toMatchObject({ kind: 'refuse', reason: 'ForeignMember' });
  });

  it('refuses a removal that would leave fewer healthy voters than quorum', () => {
    // 5 voters, 2 unhealthy (not the target): removing a healthy one leaves 2 healthy of 4 < 3.
    const members = [member(0), member(1), member(2, { healthy: false }), member(3, { healthy: false }), member(4)];
    const p = planNextStep(base5({ members, operation: op('ScaleDown', 4) }));
    expect(p.action).toEqual({ kind: 'finish-operation', result: 'Cancelled' });
    expect(removalUnsafe(members, members[4] as ObservedMember)).toMatch(/below quorum 3/);
    // and, with the operation gone, the next pass says why nothing moves
    expect(planNextStep(base5({ members })).action).toMatchObject({ kind: 'refuse', reason: 'MemberUnhealthy' });
  });

  it('crash after MemberRemove, before lowering replicas: lowers replicas', () => {
    const p = planNextStep(base5({ operation: op('ScaleDown', 4, { phase: 'Pending' }), members: five().slice(0, 4) }));
    expect(p.action).toEqual({ kind: 'set-replicas', replicas: 4 });
  });

  it('crash after lowering replicas with no operation recorded: replicas follow the members', () => {
    const p = planNextStep(base5({ desiredReplicas: 3, members: five().slice(0, 3), statefulSetReplicas: 4 }));
    expect(p.action).toEqual({ kind: 'set-replicas', replicas: 3 });
  });

  it('crash after MoveLeader: the next pass removes the (no longer leading) member', () => {
    const members = five().map((m) => ({ ...m, isLeader: m.id === '1002' }));
    const p = planNextStep(base5({ members, operation: op('ScaleDown', 4, { phase: 'MovingLeader' }) }));
    expect(p.action).toEqual({ kind: 'member-remove', memberID: '1004' });
  });
});

describe('replacing a member whose data is gone', () => {
  it('removes, re-adds as a learner, recreates the pod on fresh storage, waits, promotes', () => {
    let o = observed({ members: [member(0), member(1), member(2, { dataLost: true, healthy: false })] });
    let p = planNextStep(o);
    expect(kind(p)).toBe('start-operation');
    expect(p.operation).toMatchObject({ type: 'Replace', ordinal: 2, oldMemberID: '1002' });
    o = { ...o, operation: p.operation };
    p = planNextStep(o);
    expect(p.action).toEqual({ kind: 'member-remove', memberID: '1002' });
    o = { ...o, operation: p.operation, members: [member(0), member(1)] };
    p = planNextStep(o);
    expect(p.action).toEqual({ kind: 'member-add-learner', peerURL: peerURL(ref, 2, false) });
    const fresh = member(2, { id: '3002', name: '', isLearner: true, healthy: false, raftIndex: null, isLeader: false });
    o = { ...o, operation: p.operation, members: [member(0), member(1), fresh] };
    p = planNextStep(o);
    expect(p.action).toEqual({ kind: 'recreate-pod', ordinal: 2, deletePvc: true });
    o = { ...o, operation: p.operation };
    p = planNextStep(o);
    expect(p.action.kind).toBe('wait');
    o = { ...o, operation: p.operation, members: [member(0), member(1), { ...fresh, name: 'e-2', healthy: true, raftIndex: 100 }] };
    p = planNextStep(o);
    expect(p.action).toEqual({ kind: 'promote', memberID: '3002' });
    o = { ...o, operation: p.operation, members: [member(0), member(1), member(2, { id: '3002' })] };
    expect(planNextStep(o).action).toEqual({ kind: 'finish-operation', result: 'Succeeded' });
  });

  it('crash after the re-add, before recording it: still recreates the pod once', () => {
    const fresh = member(2, { id: '3002', name: '', isLearner: true, healthy: false, raftIndex: null, isLeader: false });
    const p = planNextStep(observed({ operation: op('Replace', 2, { oldMemberID: '1002', phase: 'RemovingMember' }), members: [member(0), member(1), fresh] }));
    expect(p.action).toEqual({ kind: 'recreate-pod', ordinal: 2, deletePvc: true });
  });

  it('deletes a recreated pod again while its old PVC is still terminating (it could never start)', () => {
    const fresh = member(2, { id: '3002', name: '', isLearner: true, healthy: false, raftIndex: null, isLeader: false });
    const o = observed({
      operation: op('Replace', 2, { oldMemberID: '1002', phase: 'RestartingMember' }),
      members: [member(0), member(1), fresh],
      pods: [0, 1].map((i) => ({ ordinal: i, ready: true, upToDate: true, deleting: false })).concat([{ ordinal: 2, ready: false, upToDate: true, deleting: false }]),
      pvcs: [{ ordinal: 0, terminating: false }, { ordinal: 1, terminating: false }, { ordinal: 2, terminating: true }],
    });
    expect(planNextStep(o).action).toEqual({ kind: 'recreate-pod', ordinal: 2, deletePvc: false });
    // with a fresh claim it just waits for the learner
    const ok = planNextStep({ ...o, pvcs: [0, 1, 2].map((i) => ({ ordinal: i, terminating: false })) });
    expect(ok.action.kind).toBe('wait');
  });

  it('is refused when another member is unhealthy too', () => {
    const p = planNextStep(observed({ members: [member(0), member(1, { healthy: false }), member(2, { dataLost: true, healthy: false })] }));
    expect(p.action).toMatchObject({ kind: 'refuse' });
    expect(p.operation).toBeNull();
  });

  it('the replacement is allowed while the member being replaced is the unhealthy one', () => {
    const p = planNextStep(observed({ desiredReplicas: 3, members: [member(0), member(1), member(2, { dataLost: true, healthy: false })] }));
    expect(p.operation?.type).toBe('Replace');
  });
});

describe('rolling updates (OnDelete), one pod at a time, leader last', () => {
  it('rolls the highest outdated non-leader first, then moves leadership, then the old leader', () => {
    const pods = [0, 1, 2].map((i) => ({ ordinal: i, ready: true, upToDate: false, deleting: false }));
    let p = planNextStep(observed({ pods }));
    expect(p.action).toEqual({ kind: 'recreate-pod', ordinal: 2, deletePvc: false });
    p = planNextStep(observed({ pods: [pods[0]!, { ordinal: 1, ready: true, upToDate: true, deleting: false }, { ordinal: 2, ready: true, upToDate: true, deleting: false }] }));
    expect(p.action).toMatchObject({ kind: 'move-leader', fromID: '1000' });
  });

  it('waits while a pod is not ready', () => {
    const pods = [{ ordinal: 0, ready: true, upToDate: false, deleting: false }, { ordinal: 1, ready: false, upToDate: true, deleting: false }, { ordinal: 2, ready: true, upToDate: true, deleting: false }];
    expect(planNextStep(observed({ pods })).action).toMatchObject({ kind: 'wait', reason: 'RollingUpdateWaiting' });
  });
});

describe('version changes', () => {
  const outdated = [0, 1, 2].map((i) => ({ ordinal: i, ready: true, upToDate: false, deleting: false }));

  it('one minor up rolls the pods one at a time, the leader last, as any template change', () => {
    const p = planNextStep(observed({ desiredVersion: '3.6.0', pods: outdated }));
    expect(p.action).toEqual({ kind: 'recreate-pod', ordinal: 2, deletePvc: false });
    expect(p.holdImage).toBe(false);
  });

  it('a skipped minor or a downgrade below the cluster version is refused, the image held, nothing rolled', () => {
    for (const v of ['3.7.0', '3.4.31']) {
      const p = planNextStep(observed({ desiredVersion: v, pods: outdated }));
      expect(p.action, v).toMatchObject({ kind: 'refuse', reason: 'UnsupportedVersionChange' });
      expect(p.holdImage, v).toBe(true);
    }
    // The cluster version is the lowest a member runs: after 3.6 everywhere, 3.5 is a downgrade.
    const at36 = [member(0, { version: '3.6.0' }), member(1, { version: '3.6.0' }), member(2, { version: '3.6.0' })];
    expect(planNextStep(observed({ desiredVersion: '3.5.17', members: at36 })).action).toMatchObject({ reason: 'UnsupportedVersionChange' });
    // Mid-upgrade, going back is fine.
    const mixed = [member(0, { version: '3.5.17' }), member(1, { version: '3.6.0' }), member(2, { version: '3.6.0' })];
    expect(planNextStep(observed({ desiredVersion: '3.5.17', members: mixed, pods: outdated })).action.kind).toBe('recreate-pod');
  });

  it('membership work goes on during a refused change, on the held image', () => {
    const p = planNextStep(observed({ desiredVersion: '3.7.0', desiredReplicas: 5 }));
    expect(p.action.kind).toBe('start-operation');
    expect(p.holdImage).toBe(true);
    const q = planNextStep(observed({ desiredVersion: '3.7.0', desiredReplicas: 5, operation: op('ScaleUp', 3, { startTime: new Date(T0).toISOString() }) }));
    expect(q.action.kind).toBe('member-add-learner');
    expect(q.holdImage).toBe(true);
  });
});

describe('bad input and pause', () => {
  it('an invalid spec never starts a membership change', () => {
    const p = planNextStep(observed({ desiredReplicas: 5, specInvalid: true }));
    expect(p.action).toMatchObject({ kind: 'refuse', reason: 'InvalidSpec' });
    expect(p.statefulSetReplicas).toBe(3);
  });

  it('paused changes nothing', () => {
    const p = planNextStep(observed({ desiredReplicas: 5, paused: true }));
    expect(p.action.kind).toBe('wait');
    expect(p.statefulSetReplicas).toBe(3);
  });

  it('an unreachable cluster changes nothing', () => {
    const p = planNextStep(observed({ desiredReplicas: 5, members: null }));
    expect(p.action).toMatchObject({ kind: 'wait', reason: 'ClusterUnreachable' });
    expect(p.initialCluster).toEqual([]);
  });
});
