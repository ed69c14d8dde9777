// Scheduled defragmentation in the planner: the walk through a run, the gates, and every crash point.
import { describe, expect, it } from 'vitest';
import type { DefragmentationStatus } from '../api/types.js';
import { DEFRAG_MAX_ATTEMPTS, overThreshold } from './defrag.js';
import type { ClusterRef } from './names.js';
import type { ObservedCluster, ObservedMember } from './observed.js';
import { planNextStep, type Plan } from './planner.js';
import { plannerFixture } from './testing/planner-fixture.js';

const ref: ClusterRef = { name: 'e', namespace: 'ns', uid: 'uid-1234567890' };
const { member, observed, op } = plannerFixture(ref);

const MiB = 1024 * 1024;
const AT = Date.parse('2026-12-02T03:00:30.000Z');
const spec = { schedule: '0 3 * * *', minFreePercent: 50, minDbSizeBytes: 100 * MiB, timeoutMs: 120_000 };
/** 400 MiB file, 100 MiB in use: 75% free. */
const fragmented = (ord: number, over: Partial<ObservedMember> = {}): ObservedMember => member(ord, { dbSizeBytes: 400 * MiB, dbSizeInUseBytes: 100 * MiB, ...over });
const at = (ms: number, over: Partial<ObservedCluster> = {}): ObservedCluster =>
  observed({ nowMs: ms, nowIso: new Date(ms).toISOString(), defragmentation: spec, members: [fragmented(0), fragmented(1), fragmented(2)], ...over });
/** The next pass sees what this one wrote (its step succeeded). */
const after = (o: ObservedCluster, p: Plan, over: Partial<ObservedCluster> = {}): ObservedCluster => ({ ...o, defragStatus: p.defrag, ...over });

describe('scheduled defragmentation: one member at a time, the leader last', () => {
  it('walks record -> Defragment for each member over the threshold, the leader last, then finishes once per scheduled minute', () => {
    let o = at(AT);
    const seen: string[] = [];
    let p = planNextStep(o);
    for (let i = 0; i < 10 && p.action.kind !== 'finish-defrag'; i++) {
      const a = p.action;
      seen.push(a.kind === 'record-defrag' || a.kind === 'defragment' ? `${a.kind} ${a.memberName}` : a.kind);
      // Defragment gave the free space back: the member no longer qualifies (it is in run.done anyway).
      const members = (o.members ?? []).map((m) => (a.kind === 'defragment' && m.id === a.memberID ? { ...m, dbSizeBytes: 100 * MiB } : m));
      o = after(o, p, { members });
      p = planNextStep(o);
    }
    expect(seen).toEqual(['record-defrag e-1', 'defragment e-1', 'record-defrag e-2', 'defragment e-2', 'record-defrag e-0', 'defragment e-0']);
    expect(p.action).toMatchObject({ kind: 'finish-defrag', result: 'Succeeded', message: 'defragmented 3 member(s)' });
    expect(p.defrag).toMatchObject({ lastScheduleTime: '2026-12-02T03:00:00.000Z', run: null, lastRun: { scheduleTime: '2026-12-02T03:00:00.000Z', result: 'Succeeded' } });
    // The same scheduled minute never starts a second run.
    expect(planNextStep(after(o, p)).action).toEqual({ kind: 'none' });
  });

  it('records intent before the call: record-defrag only writes status; defragment carries the timeout and the after-state', () => {
    const p = planNextStep(at(AT));
    expect(p.action).toMatchObject({ kind: 'record-defrag', memberID: '1001', memberName: 'e-1' });
    expect(p.defrag.run).toEqual({ scheduleTime: '2026-12-02T03:00:00.000Z', startTime: '2026-12-02T03:00:30.000Z', done: [], current: { memberID: '1001', memberName: 'e-1', attempts: 0 } });
    const q = planNextStep(after(at(AT), p));
    expect(q.action).toEqual({ kind: 'defragment', memberID: '1001', memberName: 'e-1', timeoutMs: 120_000 });
    expect(q.defrag.run).toMatchObject({ done: ['1001'], current: null });
    expect(q.defragOnFailure?.run?.current).toEqual({ memberID: '1001', memberName: 'e-1', attempts: 1 });
  });

  it('says there is nothing to do when no member is over the threshold (tsetcd reports dbSizeInUse == dbSize)', () => {
    const o = at(AT, { members: [member(0, { dbSizeBytes: 400 * MiB, dbSizeInUseBytes: 400 * MiB }), member(1), member(2)] });
    const p = planNextStep(o);
    expect(p.action).toMatchObject({ kind: 'finish-defrag', result: 'NothingToDo' });
    expect(p.defrag.lastScheduleTime).toBe('2026-12-02T03:00:00.000Z');
    expect(planNextStep(after(o, p)).action).toEqual({ kind: 'none' });
  });

  it('starts only within an hour of the scheduled minute, and only with a schedule', () => {
    expect(planNextStep(at(Date.parse('2026-12-02T03:59:59Z'))).action.kind).toBe('record-defrag');
    expect(planNextStep(at(Date.parse('2026-12-02T04:00:00Z'))).action).toEqual({ kind: 'none' });
    expect(planNextStep(at(Date.parse('2026-12-02T02:59:59Z'))).action).toEqual({ kind: 'none' });
    expect(planNextStep(at(AT, { defragmentation: null })).action).toEqual({ kind: 'none' });
    // An unreadable schedule plans nothing (the controller reports it as InvalidSchedule).
    expect(planNextStep(at(AT, { defragmentation: { ...spec, schedule: 'whenever' } })).action).toEqual({ kind: 'none' });
  });

  it('never starts while the cluster is degraded, a pod is not ready, or a membership change is in flight', () => {
    expect(planNextStep(at(AT, { members: [fragmented(0), fragmented(1), fragmented(2, { healthy: false })] })).action.kind).toBe('none');
    const pods = [0, 1, 2].map((i) => ({ ordinal: i, ready: i !== 1, upToDate: true, deleting: false }));
    expect(planNextStep(at(AT, { pods })).action.kind).toBe('none');
    expect(planNextStep(at(AT, { members: [fragmented(0, { isLeader: false }), fragmented(1), fragmented(2)] })).action.kind).toBe('none');
    // A membership change wins and is never interleaved with a Defragment.
    expect(planNextStep(at(AT, { desiredReplicas: 5 })).action.kind).toBe('start-operation');
    const withOp = planNextStep(at(AT, { desiredReplicas: 5, operation: op('ScaleUp', 3, { startTime: new Date(AT).toISOString() }) }));
    expect(withOp.action.kind).toBe('member-add-learner');
    // A rolling update goes first too.
    const outdated = [0, 1, 2].map((i) => ({ ordinal: i, ready: true, upToDate: i !== 2, deleting: false }));
    expect(planNextStep(at(AT, { pods: outdated })).action).toMatchObject({ kind: 'recreate-pod', ordinal: 2 });
  });

  it('pauses a run in flight while the cluster is degraded, and carries it on after', () => {
    const started = planNextStep(at(AT));
    const sick = after(at(AT), started, { members: [fragmented(0), fragmented(1), fragmented(2, { healthy: false })] });
    const p = planNextStep(sick);
    expect(p.action).toMatchObject({ kind: 'wait', reason: 'DefragmentationWaiting' });
    expect(p.action.kind === 'wait' && p.action.message).toMatch(/e-2 not healthy/);
    expect(p.defrag).toEqual(started.defrag);
    // Later (past the starting deadline: a run in flight is not bound by it) it goes on where it was.
    const later = AT + 3 * 3_600_000;
    expect(planNextStep(after(at(later), started)).action).toMatchObject({ kind: 'defragment', memberID: '1001' });
  });

  it('threshold: free share and minimum size, as etcd-defrag does (dbSize - dbSizeInUse)', () => {
    expect(overThreshold(fragmented(0), 50, 100 * MiB)).toBe(true);
    expect(overThreshold(fragmented(0), 76, 100 * MiB)).toBe(false);
    expect(overThreshold(fragmented(0), 50, 500 * MiB)).toBe(false);
    expect(overThreshold(member(0, { dbSizeBytes: 10, dbSizeInUseBytes: 10 }), 0, 0)).toBe(true); // 0/0: every member
    expect(overThreshold(member(0, { dbSizeInUseBytes: null }), 0, 0)).toBe(false); // not reported: never
  });
});

describe('defragmentation crash points: every state between two steps resolves', () => {
  const run = (over: Partial<NonNullable<DefragmentationStatus['run']>> = {}): DefragmentationStatus => ({
    lastScheduleTime: '2026-12-02T03:00:00.000Z',
    run: { scheduleTime: '2026-12-02T03:00:00.000Z', startTime: '2026-12-02T03:00:30.000Z', done: [], current: { memberID: '1001', memberName: 'e-1', attempts: 0 }, ...over },
  });

  it('crash after recording intent, before the call: calls Defragment on the recorded member', () => {
    expect(planNextStep(at(AT + 60_000, { defragStatus: run() })).action).toMatchObject({ kind: 'defragment', memberID: '1001' });
  });

  it('crash after the call, before the status write (intent still recorded): calls it again, harmlessly', () => {
    // The member already gave its space back; the recorded intent still names it.
    const o = at(AT + 60_000, { defragStatus: run(), members: [fragmented(0), fragmented(1, { dbSizeBytes: 100 * MiB }), fragmented(2)] });
    expect(planNextStep(o).action).toMatchObject({ kind: 'defragment', memberID: '1001' });
  });

  it('crash after the status write: the next member is recorded; no member is defragmented twice', () => {
    const p = planNextStep(at(AT + 60_000, { defragStatus: run({ done: ['1001'], current: null }) }));
    expect(p.action).toMatchObject({ kind: 'record-defrag', memberID: '1002' });
  });

  it(`gives the run up after ${DEFRAG_MAX_ATTEMPTS} failed calls on one member`, () => {
    const p = planNextStep(at(AT + 60_000, { defragStatus: run({ current: { memberID: '1001', memberName: 'e-1', attempts: DEFRAG_MAX_ATTEMPTS } }) }));
    expect(p.action).toMatchObject({ kind: 'finish-defrag', result: 'Failed' });
    expect(p.defrag.run).toBeNull();
    expect(p.defrag.lastRun?.message).toMatch(/e-1 failed 3 times/);
  });

  it('the recorded member became the leader while others wait: another goes first', () => {
    const members = [fragmented(0, { isLeader: false }), fragmented(1, { isLeader: true }), fragmented(2)];
    const p = planNextStep(at(AT + 60_000, { defragStatus: run(), members }));
    expect(p.action).toMatchObject({ kind: 'record-defrag', memberID: '1000' });
  });

  it('the recorded member is gone (replaced under another ID): the run goes on without it', () => {
    const p = planNextStep(at(AT + 60_000, { defragStatus: run({ current: { memberID: '9999', memberName: 'e-1', attempts: 0 } }) }));
    expect(p.action).toMatchObject({ kind: 'record-defrag', memberID: '1001' });
    const q = planNextStep(at(AT + 60_000, { defragStatus: run({ done: ['1001', '1002', '1000'], current: { memberID: '9999', memberName: 'x', attempts: 0 } }) }));
    expect(q.action).toMatchObject({ kind: 'finish-defrag', result: 'Succeeded' });
  });

  it('the schedule removed mid-run: the run is cancelled', () => {
    const p = planNextStep(at(AT + 60_000, { defragStatus: run(), defragmentation: null }));
    expect(p.action).toMatchObject({ kind: 'finish-defrag', result: 'Cancelled' });
    expect(p.defrag.run).toBeNull();
  });

  it('a run that cannot finish within a day is given up', () => {
    const p = planNextStep(at(AT + 25 * 3_600_000, { defragStatus: run() }));
    expect(p.action).toMatchObject({ kind: 'finish-defrag', result: 'Failed' });
  });
});
