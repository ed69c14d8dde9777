// The planner against changes made behind its back (issue 12): members removed or added out of band,
// volumes lost, a StatefulSet deleted, two changes at once. Whatever it sees, the step it plans never
// stops a member (the StatefulSet never shrinks below a member's ordinal), never lowers healthy voters
// below quorum, and leaves no learner or replacement hanging.
import { describe, expect, it } from 'vitest';
import type { MembershipOperation } from '../api/types.js';
import { memberName, peerURL, type ClusterRef } from './names.js';
import type { ObservedCluster, ObservedMember } from './observed.js';
import { planNextStep, type Plan } from './planner.js';
import { plannerFixture, T0 } from './testing/planner-fixture.js';

const ref: ClusterRef = { name: 'kv', namespace: 'ns', uid: 'uid-1' };
const iso = (ms: number): string => new Date(ms).toISOString();
const pods = (ords: number[], over: { ready?: boolean } = {}) => ords.map((ordinal) => ({ ordinal, ready: over.ready ?? true, upToDate: true, deleting: false }));
const pvcs = (ords: number[]) => ords.map((ordinal) => ({ ordinal, terminating: false }));

const { member, observed, op } = plannerFixture(ref);

/** A learner added for ordinal `ord` that has not started yet. */
const learner = (ord: number, over: Partial<ObservedMember> = {}): ObservedMember => member(ord, { id: String(2000 + ord), name: '', isLearner: true, isLeader: false, healthy: false, raftIndex: null, ...over });

/** The three members less ordinal k; the leader is the lowest remaining one. */
function without(k: number): ObservedMember[] {
  const rest = [0, 1, 2].filter((i) => i !== k);
  return rest.map((i) => member(i, { isLeader: i === rest[0] }));
}

describe('a member removed out of band (etcdctl member remove), at every ordinal', () => {
  // The reported bug: ScaleUp for the missing ordinal set replicas to that ordinal, stopping every pod above it.
  it.each([
    { k: 0, note: 'the leader was removed; ordinal 0 is the lowest' },
    { k: 1, note: 'a middle ordinal' },
    { k: 2, note: 'the top ordinal' },
  ])('ordinal $k ($note): re-added as a learner on fresh storage, the StatefulSet never shrinks', ({ k }) => {
    let o = observed({ members: without(k) });
    const seen: Plan[] = [];
    const step = (next: Partial<ObservedCluster>): Plan => {
      o = { ...o, ...next };
      const p = planNextStep(o);
      seen.push(p);
      o = { ...o, operation: p.operation };
      return p;
    };
    expect(step({})).toMatchObject({ action: { kind: 'start-operation' }, operation: { type: 'Replace', ordinal: k } });
    expect(o.operation?.oldMemberID).toBeUndefined();
    expect(step({}).action).toEqual({ kind: 'member-add-learner', peerURL: peerURL(ref, k, false) });
    const fresh = learner(k);
    expect(step({ members: [...without(k), fresh] }).action).toEqual({ kind: 'recreate-pod', ordinal: k, deletePvc: true });
    expect(step({}).action).toMatchObject({ kind: 'wait', reason: 'LearnerCatchingUp' });
    expect(step({ members: [...without(k), { ...fresh, name: memberName(ref, k), healthy: true, raftIndex: 100 }] }).action).toEqual({ kind: 'promote', memberID: fresh.id });
    expect(step({ members: [...without(k), member(k, { id: fresh.id })] }).action).toEqual({ kind: 'finish-operation', result: 'Succeeded' });
    for (const p of seen) expect(p.statefulSetReplicas).toBe(3);
  });

  it('an operation recorded by an older operator (ScaleUp at a gap) turns into a re-add, never a shrink', () => {
    const p = planNextStep(observed({ members: without(1), operation: op('ScaleUp', 1, { phase: 'AddingLearner' }) }));
    expect(p.action).toEqual({ kind: 'start-operation' });
    expect(p.operation).toMatchObject({ type: 'Replace', ordinal: 1, phase: 'Pending' });
    expect(p.statefulSetReplicas).toBe(3);
    const q = planNextStep(observed({ members: without(0), operation: op('ScaleUp', 0, { phase: 'AddingLearner' }) }));
    expect(q.statefulSetReplicas).toBe(3);
    expect(q.operation?.type).toBe('Replace');
  });

  it('a rollback of a learner at a gap leaves the pod and its volume (it never shrinks below a member)', () => {
    const late = T0 + 300_001;
    const p = planNextStep(observed({ members: without(1), operation: op('ScaleUp', 1, { phase: 'RollingBack' }), nowMs: late, nowIso: iso(late) }));
    expect(p.action).toEqual({ kind: 'finish-operation', result: 'Failed' });
    expect(p.statefulSetReplicas).toBe(3);
    expect(p.scaleUpBlockedGeneration).toBe(1);
  });
});

describe('crash points of the re-add (Replace without an old member)', () => {
  const replace = (over: Partial<MembershipOperation> = {}) => op('Replace', 1, over);

  it.each([
    { at: 'after recording intent, before MemberAdd', members: without(1), phase: 'Pending' as const, want: { kind: 'member-add-learner', peerURL: peerURL(ref, 1, false) } },
    { at: 'after MemberAdd, before the status write', members: [...without(1), learner(1)], phase: 'Pending' as const, want: { kind: 'recreate-pod', ordinal: 1, deletePvc: true } },
    { at: 'after the pod restart, before the status write (restarts it once more: a learner, harmless)', members: [...without(1), learner(1)], phase: 'AddingLearner' as const, want: { kind: 'recreate-pod', ordinal: 1, deletePvc: true } },
    { at: 'after the pod restart was recorded', members: [...without(1), learner(1)], phase: 'RestartingMember' as const, want: { kind: 'wait', reason: 'LearnerCatchingUp' } },
    { at: 'after promote, before the status write', members: [...without(1), member(1, { id: '2001' })], phase: 'Promoting' as const, want: { kind: 'finish-operation', result: 'Succeeded' } },
  ])('crash $at', ({ members, phase, want }) => {
    const p = planNextStep(observed({ members, operation: replace({ phase }) }));
    expect(p.action).toMatchObject(want);
    expect(p.statefulSetReplicas).toBe(3);
  });
});

describe('a replacement never hangs (learner timeout)', () => {
  const late = T0 + 300_001;
  const lateObs = (over: Partial<ObservedCluster>) => observed({ nowMs: late, nowIso: iso(late), ...over });

  it.each([
    { what: 'learner still catching up', members: [...without(2), learner(2, { name: 'kv-2', healthy: true, raftIndex: 3 })], phase: 'CatchingUp' as const, want: { kind: 'member-remove', memberID: '2002' }, phaseAfter: 'RollingBack' },
    { what: 'learner removed (crash after the removal)', members: without(2), phase: 'RollingBack' as const, want: { kind: 'finish-operation', result: 'Failed' }, phaseAfter: null },
    { what: 'learner never added (no leader all along)', members: without(2), phase: 'Pending' as const, want: { kind: 'finish-operation', result: 'Failed' }, phaseAfter: null },
    { what: 'old member still there (its removal was refused all along)', members: [member(0, { isLeader: true }), member(1, { healthy: false }), member(2, { dataLost: true, healthy: false })], phase: 'Pending' as const, want: { kind: 'finish-operation', result: 'Failed' }, phaseAfter: null },
    { what: 'promoted after all', members: [...without(2), member(2, { id: '2002' })], phase: 'RollingBack' as const, want: { kind: 'finish-operation', result: 'Succeeded' }, phaseAfter: null },
  ])('$what', ({ members, phase, want, phaseAfter }) => {
    const p = planNextStep(lateObs({ members, operation: op('Replace', 2, { phase, oldMemberID: '1002' }) }));
    expect(p.action).toMatchObject(want);
    expect(p.operation?.phase ?? null).toBe(phaseAfter);
    if (want.kind === 'finish-operation' && want.result === 'Failed') {
      expect(p.scaleUpBlockedGeneration).toBe(1);
      expect(p.scaleUpRetry?.failures).toBe(1);
    }
  });

  it('after a failed replacement, the next waits for its backoff and says why, then re-adds the member', () => {
    const retry = { failures: 1, retryTime: iso(T0 + 60_000) };
    const p = planNextStep(observed({ members: without(2), scaleUpBlockedGeneration: 1, scaleUpRetry: retry }));
    expect(p.action).toMatchObject({ kind: 'refuse', reason: 'ScaleUpFailed' });
    expect((p.action as { message: string }).message).toBe(`1 scale-up(s) failed in a row at this generation; the next try is at ${retry.retryTime} (a spec change tries at once)`);
    const later = planNextStep(observed({ members: without(2), scaleUpBlockedGeneration: 1, scaleUpRetry: retry, nowMs: T0 + 60_000, nowIso: iso(T0 + 60_000) }));
    expect(later.action).toEqual({ kind: 'start-operation' });
    expect(later.operation).toMatchObject({ type: 'Replace', ordinal: 2 });
    // Blocked by an operator that kept no retry time: tried now.
    expect(planNextStep(observed({ members: without(2), scaleUpBlockedGeneration: 1 })).action).toEqual({ kind: 'start-operation' });
  });
});

describe('a pod stuck without its volume (PVC lost, pod recreated while the old claim terminated)', () => {
  it.each([
    { what: 'claim gone, pod pending, member down', claims: pvcs([0, 1]), podReady: false, m2: { healthy: false, raftIndex: null }, deleting: false, want: 'recreate-pod' },
    { what: 'claim terminating, pod pending, member down', claims: [...pvcs([0, 1]), { ordinal: 2, terminating: true }], podReady: false, m2: { healthy: false, raftIndex: null }, deleting: false, want: 'recreate-pod' },
    { what: 'claim gone but the member still runs (healthy): leave it', claims: pvcs([0, 1]), podReady: false, m2: { healthy: true }, deleting: false, want: 'none' },
    { what: 'claim terminating, the member runs but lags: leave it (found by the model test)', claims: [...pvcs([0, 1]), { ordinal: 2, terminating: true }], podReady: false, m2: { healthy: false, raftIndex: 40 }, deleting: false, want: 'none' },
    { what: 'pod already being deleted', claims: pvcs([0, 1]), podReady: false, m2: { healthy: false, raftIndex: null }, deleting: true, want: 'none' },
    { what: 'claim in place: not stuck (just unhealthy)', claims: pvcs([0, 1, 2]), podReady: false, m2: { healthy: false }, deleting: false, want: 'none' },
  ])('$what -> $want', ({ claims, podReady, m2, deleting, want }) => {
    const p = planNextStep(observed({
      members: [member(0, { isLeader: true }), member(1), member(2, m2)],
      pods: [...pods([0, 1]), { ordinal: 2, ready: podReady, upToDate: true, deleting }],
      pvcs: claims,
    }));
    if (want === 'recreate-pod') expect(p.action).toEqual({ kind: 'recreate-pod', ordinal: 2, deletePvc: false });
    else expect(p.action.kind).not.toBe('recreate-pod');
    expect(p.statefulSetReplicas).toBe(3);
  });

  it('the pod that comes back on a fresh claim runs an empty member: the recorded volume changed, so it is replaced', () => {
    const p = planNextStep(observed({ members: [member(0, { isLeader: true }), member(1), member(2, { healthy: false, dataLost: true })] }));
    expect(p.operation).toMatchObject({ type: 'Replace', ordinal: 2, oldMemberID: '1002' });
  });
});

describe('scale-down when a member is dead', () => {
  const five = (dead: number) => [0, 1, 2, 3, 4].map((i) => member(i, { isLeader: i === 0, healthy: i !== dead }));
  const base5 = (dead: number) => observed({ desiredReplicas: 3, statefulSetReplicas: 5, members: five(dead), pods: pods([0, 1, 2, 3, 4]), pvcs: pvcs([0, 1, 2, 3, 4]) });

  it.each([
    { dead: 4, want: { kind: 'start-operation', ordinal: 4 } },
    { dead: 3, want: { kind: 'start-operation', ordinal: 3 } },
    { dead: 1, want: { kind: 'refuse', reason: 'MemberUnhealthy' } },
  ])('dead member $dead -> $want', ({ dead, want }) => {
    const p = planNextStep(base5(dead));
    expect(p.action.kind).toBe(want.kind);
    if (want.kind === 'start-operation') expect(p.operation).toMatchObject({ type: 'ScaleDown', ordinal: want.ordinal });
    else expect(p.action).toMatchObject(want);
  });

  it('removes the dead target (removal keeps quorum: the healthy count does not change)', () => {
    const p = planNextStep({ ...base5(3), operation: op('ScaleDown', 3) });
    expect(p.action).toEqual({ kind: 'member-remove', memberID: '1003' });
    // then the StatefulSet cannot shrink to 3 while 4 is a member: the highest goes next
    const q = planNextStep({ ...base5(-1), members: five(-1).filter((m) => m.id !== '1003'), operation: op('ScaleDown', 3, { phase: 'RemovingMember' }) });
    expect(q.action).toEqual({ kind: 'finish-operation', result: 'Succeeded' });
    expect(q.statefulSetReplicas).toBe(5);
  });
});

describe('other changes behind the operator', () => {
  it('a foreign member added out of band: refuses, names it in hex, changes nothing', () => {
    const foreign = { ...member(0), isLeader: false, id: '4096', name: 'intruder', peerURLs: ['http://10.0.0.9:2380'] };
    const p = planNextStep(observed({ members: [...observed().members!, foreign], desiredReplicas: 5 }));
    expect(p.action).toMatchObject({ kind: 'refuse', reason: 'ForeignMember' });
    expect(p.action.kind === 'refuse' && p.action.message).toMatch(/\b1000\b/);
    expect(p.statefulSetReplicas).toBe(3);
  });

  it('the StatefulSet deleted while no member answers: recreated at the recorded size, not the desired one', () => {
    const p = planNextStep(observed({ statefulSetReplicas: null, members: null, pods: [], desiredReplicas: 3, recordedOrdinals: [0, 1, 2, 3, 4] }));
    expect(p.action).toEqual({ kind: 'set-replicas', replicas: 5 });
    expect(p.initialClusterState).toBe('existing');
  });

  it('the StatefulSet deleted: recreated only once its old pods have terminated (they would block the new pods of their names)', () => {
    const going = pods([0, 1, 2]).map((p) => (p.ordinal === 2 ? { ...p, deleting: true } : p));
    const p = planNextStep(observed({ statefulSetReplicas: null, pods: going }));
    expect(p.action).toMatchObject({ kind: 'wait', reason: 'StatefulSetPodsTerminating' });
    expect(p.action.kind === 'wait' && p.action.message).toContain('kv-2');
    expect(p.statefulSetReplicas).toBe(0);
    expect(planNextStep(observed({ statefulSetReplicas: null, pods: pods([0, 1]) })).action).toEqual({ kind: 'set-replicas', replicas: 3 });
    // One stuck past its deletion time (its node gone): the others are not held back for it.
    const stuck = going.map((p) => (p.deleting ? { ...p, deletionMs: T0 - 61_000 } : p));
    expect(planNextStep(observed({ statefulSetReplicas: null, pods: stuck })).action).toEqual({ kind: 'set-replicas', replicas: 3 });
    const soon = going.map((p) => (p.deleting ? { ...p, deletionMs: T0 - 59_000 } : p));
    expect(planNextStep(observed({ statefulSetReplicas: null, pods: soon })).action).toMatchObject({ kind: 'wait' });
  });

  it('a pod deleted while a learner catches up: promotion still needs a healthy quorum of the grown set', () => {
    const members = [member(0, { isLeader: true }), member(1, { healthy: false }), member(2), member(3, { id: '2003', isLearner: true })];
    const o = observed({ desiredReplicas: 5, statefulSetReplicas: 4, members, pods: pods([0, 2, 3]), pvcs: pvcs([0, 1, 2, 3]), operation: op('ScaleUp', 3, { phase: 'CatchingUp' }) });
    expect(planNextStep(o).action).toEqual({ kind: 'promote', memberID: '2003' });
    const worse = { ...o, members: members.map((m) => (m.id === '1002' ? { ...m, healthy: false } : m)) };
    expect(planNextStep(worse).action).toMatchObject({ kind: 'refuse', reason: 'QuorumAtRisk' });
  });

  it('a member removed out of band while a scale-up is in flight: the scale-up finishes, the gap is filled next', () => {
    const members = [member(0, { isLeader: true }), member(2), member(3, { id: '2003', isLearner: true })];
    const o = observed({ desiredReplicas: 5, statefulSetReplicas: 4, members, pods: pods([0, 1, 2, 3]), pvcs: pvcs([0, 1, 2, 3]), operation: op('ScaleUp', 3, { phase: 'CatchingUp' }) });
    const p = planNextStep(o);
    expect(p.action).toEqual({ kind: 'promote', memberID: '2003' });
    const after = planNextStep({ ...o, operation: null, members: [member(0, { isLeader: true }), member(2), member(3, { id: '2003' })] });
    expect(after.operation).toMatchObject({ type: 'Replace', ordinal: 1 });
    expect(after.statefulSetReplicas).toBe(4);
  });
});

describe('found by the model test (test/operator-model)', () => {
  it('the learner timeout counts from MemberAdd, not from an operation that waited long before it', () => {
    const late = T0 + 400_000;
    const learning = [...without(2), learner(2, { name: 'kv-2', healthy: true, raftIndex: 3 })];
    const added = planNextStep(observed({ members: without(2), operation: op('Replace', 2, { phase: 'Pending' }), nowMs: late, nowIso: iso(late) }));
    // (a Replace that never got to MemberAdd in time gives up instead)
    expect(added.action).toEqual({ kind: 'finish-operation', result: 'Failed' });
    const fresh = planNextStep(observed({ members: without(2), operation: op('ScaleUp', 2), statefulSetReplicas: 2, pods: pods([0, 1]), pvcs: pvcs([0, 1]), nowMs: late, nowIso: iso(late) }));
    expect(fresh.action).toEqual({ kind: 'finish-operation', result: 'Failed' });
    const recent = op('Replace', 2, { phase: 'CatchingUp', learnerAddedTime: iso(late - 10_000) });
    expect(planNextStep(observed({ members: learning, operation: recent, nowMs: late, nowIso: iso(late) })).action).toMatchObject({ kind: 'wait', reason: 'LearnerCatchingUp' });
    const step = planNextStep(observed({ members: without(2), operation: op('Replace', 2), nowMs: T0 + 1000, nowIso: iso(T0 + 1000) }));
    expect(step.operation?.learnerAddedTime).toBe(iso(T0 + 1000));
  });

  it('a scale-down no longer needed (members removed out of band meanwhile) is cancelled, not forced', () => {
    const p = planNextStep(observed({ desiredReplicas: 1, statefulSetReplicas: 2, members: [member(1, { isLeader: true })], pods: pods([0, 1]), operation: op('ScaleDown', 1) }));
    expect(p.action).toEqual({ kind: 'finish-operation', result: 'Cancelled' });
  });

  it('members left above the desired size with a free ordinal below: fill it, then the scale-down removes the top', () => {
    const o = observed({ desiredReplicas: 1, statefulSetReplicas: 2, members: [member(1, { isLeader: true })], pods: pods([0, 1]), pvcs: pvcs([0, 1]) });
    const p = planNextStep(o);
    expect(p.operation).toMatchObject({ type: 'Replace', ordinal: 0 });
    const q = planNextStep({ ...o, members: [member(1, { isLeader: true }), member(0, { id: '2000' })] });
    expect(q.operation).toMatchObject({ type: 'ScaleDown', ordinal: 1 });
  });

  it('two members whose data is gone are replaced one at a time, while the rest keep quorum', () => {
    const members = [0, 1, 2, 3, 4].map((i) => member(i, { isLeader: i === 0, ...(i === 1 || i === 2 ? { healthy: false, dataLost: true } : {}) }));
    const p = planNextStep(observed({ desiredReplicas: 5, statefulSetReplicas: 5, members, pods: pods([0, 1, 2, 3, 4]), pvcs: pvcs([0, 1, 2, 3, 4]) }));
    expect(p.operation).toMatchObject({ type: 'Replace', ordinal: 1, oldMemberID: '1001' });
  });
});
