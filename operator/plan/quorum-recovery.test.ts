// The quorum-loss recovery plan against a small model of the world: members with applied indexes, some
// lost for good (down, or their data gone), the bootstrap ConfigMap's flag, pods that restart, and an
// operator that may crash between recording a step and acting on it. Checked after every pass: nothing
// happens without a fresh request or while quorum holds; the survivor is the member with the most recent
// data; the flag never outlives the recovery; a survivor restart after the recovery never drops members.
// The backup path against a model of the StatefulSet, pods and PVCs: nothing bootstraps while old pods or
// volumes are left; the Automatic policy acts once per outage, after its grace period.
// Seeds from QUORUM_RECOVERY_SEEDS (default 300); a failure names its seed.
import { describe, expect, it } from 'vitest';
import { TestRng } from '../../node/mvcc/testing/rng.js';
import { pickSurvivor, planQuorumRecovery, recoveryPolicyProblems, resolveRecoveryPolicy, type RecoveryCandidate, type RecoveryInput, type RecoveryStatus } from './quorum-recovery.js';

interface ModelMember { ordinal: number; id: string; applied: number; up: boolean; dataLost: boolean; podStart: number }
interface World {
  members: ModelMember[];
  /** The survivor's own member list once it forced a new cluster; null before. */
  forcedList: string[] | null;
  flag: string | null;
  flagSetAt: number;
  stalePvcs: Set<number>;
  time: number;
  recovery: RecoveryStatus | null;
  highestRecorded: number;
  /** The survivor's new pod cannot be placed: a dropped member's pod took the node its volume is on. */
  blocked: boolean;
}

const name = (o: number): string => `e-${o}`;
const MANUAL = resolveRecoveryPolicy(undefined);
const quorumOf = (n: number): number => Math.floor(n / 2) + 1;

function input(w: World, request: string | null): RecoveryInput {
  const candidates: RecoveryCandidate[] = w.members.map((m) => ({
    name: name(m.ordinal), ordinal: m.ordinal, recordedID: m.id, dataLost: m.dataLost,
    status: m.up && !m.dataLost ? { memberID: m.id, appliedIndex: m.applied, errors: [] } : null,
  }));
  const survivor = w.recovery?.survivor;
  const sm = survivor ? w.members[survivor.ordinal]! : null;
  return {
    request, recovery: w.recovery, voters: w.members.length,
    healthyVoters: w.forcedList !== null ? 1 : w.members.filter((m) => m.up && !m.dataLost).length,
    candidates, highestRecordedIndex: w.highestRecorded,
    survivorMemberList: sm !== null && sm.up ? (w.forcedList ?? w.members.map((m) => m.id)) : null,
    flagPresent: w.flag !== null, survivorStartedWithFlag: sm !== null && w.flag !== null && sm.podStart > w.flagSetAt,
    survivorUnschedulable: w.blocked, droppedPodsPlaced: sm === null ? [] : w.members.filter((m) => m !== sm).map((m) => name(m.ordinal)),
    staleDataPresent: [...w.stalePvcs].length > 0, nowIso: `t${w.time}`,
    policy: MANUAL, unavailableSince: null, backup: null, statefulSetPresent: true, podsLeft: w.members.length, pvcsLeft: w.members.length, pvcsToDelete: [], nowMs: w.time,
  };
}

/** A pod start: with the flag naming it, the member drops every other one (its list is itself alone). */
function startPod(w: World, m: ModelMember): void {
  m.podStart = ++w.time;
  startProcess(w, m);
}

/** The member's process starts in a pod that exists already (one just placed on a node). */
function startProcess(w: World, m: ModelMember): void {
  m.up = true;
  if (w.flag === name(m.ordinal)) w.forcedList = [m.id];
}

function seedWorld(rng: TestRng): World {
  const n = rng.chance(0.5) ? 3 : 5;
  const members = Array.from({ length: n }, (_, o) => ({ ordinal: o, id: `id${o}`, applied: 100 + rng.int(50), up: true, dataLost: false, podStart: 0 }));
  // A majority lost for good (a random one; now and then every member): down, or back with empty data.
  const order = members.map((m) => m.ordinal);
  for (let k = order.length - 1; k > 0; k--) { const j = rng.int(k + 1); [order[k], order[j]] = [order[j]!, order[k]!]; }
  for (const o of order.slice(0, rng.chance(0.15) ? n : quorumOf(n))) {
    const m = members[o]!;
    if (rng.chance(0.5)) m.up = false; else m.dataLost = true;
  }
  const highestRecorded = Math.max(...members.map((m) => m.applied)) + rng.int(5);
  return { members, forcedList: null, flag: null, flagSetAt: 0, stalePvcs: new Set(), time: 1, recovery: null, highestRecorded, blocked: false };
}

function run(seed: number): void {
  const rng = new TestRng(seed);
  const w = seedWorld(rng);
  const expected = pickSurvivor(input(w, null).candidates);
  // Every member but the survivor has a volume of the old cluster.
  w.stalePvcs = new Set(w.members.filter((m) => m.ordinal !== expected?.ordinal).map((m) => m.ordinal));
  // Without a request: nothing, however long.
  for (let p = 0; p < 3; p++) expect(planQuorumRecovery(input(w, null)).action.kind, `seed ${seed}`).toBe('none');
  const request = `r${seed}`;
  let passes = 0;
  for (; passes < 40; passes++) {
    if (w.recovery?.phase === 'Done' || w.recovery?.phase === 'Refused') break;
    const plan = planQuorumRecovery(input(w, request));
    w.recovery = plan.next; // recorded before acting
    w.time++;
    const a = plan.action;
    expect(a.kind === 'refuse', `seed ${seed}: refused ${a.kind === 'refuse' ? a.message : ''}`).toBe(expected === null);
    if (rng.chance(0.2)) continue; // the operator crashed before acting
    switch (a.kind) {
      case 'set-flag': w.flag = a.name; w.flagSetAt = w.time; break;
      case 'restart-survivor': {
        const m = w.members.find((x) => name(x.ordinal) === a.name)!;
        // Now and then a dropped member's pod takes the freed node first: the new pod waits unplaced.
        if (rng.chance(0.3)) (m.podStart = ++w.time, m.up = false, w.blocked = true);
        else (w.blocked = false, startPod(w, m));
        break;
      }
      case 'free-survivor-node': {
        expect(w.blocked, `seed ${seed}: dropped pods deleted while the survivor was placed`).toBe(true);
        expect(a.pods, `seed ${seed}`).not.toContain(w.recovery!.survivor!.name);
        // The deleted pods come back elsewhere, or one takes the node again.
        if (rng.chance(0.6)) (w.blocked = false, startProcess(w, w.members[w.recovery!.survivor!.ordinal]!));
        break;
      }
      case 'clear-flag': w.flag = null; break;
      case 'remove-stale-data': for (const o of a.ordinals) w.stalePvcs.delete(o); break;
      case 'refuse': case 'none': case 'wait': break;
      case 'stop-members': case 'delete-volumes': case 'bootstrap-from-backup': throw new Error(`seed ${seed}: ${a.kind} without a backup`);
    }
  }
  if (expected === null) {
    expect(w.recovery?.phase, `seed ${seed}`).toBe('Refused');
    expect(w.flag).toBeNull();
    expect(w.stalePvcs.size).toBe(w.members.length); // nothing deleted
    return;
  }
  expect(w.recovery?.phase, `seed ${seed}: stuck in ${w.recovery?.phase} after ${passes} passes`).toBe('Done');
  // The member with the most recent data, which now serves alone, and no flag, no stale volume left.
  const survivor = w.recovery!.survivor!;
  expect(survivor.ordinal, `seed ${seed}`).toBe(expected.ordinal);
  const eligible = w.members.filter((m) => m.up && !m.dataLost);
  expect(survivor.appliedIndex).toBe(Math.max(...eligible.map((m) => m.applied)));
  expect(w.forcedList).toEqual([survivor.id]);
  expect(w.flag).toBeNull();
  expect(w.stalePvcs.size).toBe(0);
  expect(w.recovery!.loses).toContain(`up to index ${survivor.appliedIndex}`);
  // Afterwards the others are re-added (the ordinary planner); a survivor restart then drops nobody.
  w.forcedList = w.members.map((m) => m.id);
  startPod(w, w.members[survivor.ordinal]!);
  expect(w.forcedList, `seed ${seed}`).toHaveLength(w.members.length);
  // The same request again does nothing; a new one while quorum holds is refused.
  expect(planQuorumRecovery({ ...input(w, request), healthyVoters: w.members.length }).action.kind).toBe('none');
  expect(planQuorumRecovery({ ...input(w, `${request}-again`), healthyVoters: w.members.length }).action).toMatchObject({ kind: 'refuse', reason: 'QuorumNotLost' });
}

describe('planQuorumRecovery', () => {
  it('recovers from the member with the most recent data, one recorded step per pass, across operator crashes', () => {
    const seeds = Number(process.env['QUORUM_RECOVERY_SEEDS'] ?? 300);
    for (let seed = 1; seed <= seeds; seed++) run(seed);
  });

  it('refuses when quorum holds, and when no member answers with its data', () => {
    const base: RecoveryInput = {
      request: 'go', recovery: null, voters: 3, healthyVoters: 2, candidates: [], highestRecordedIndex: 10,
      survivorMemberList: null, flagPresent: false, survivorStartedWithFlag: false, survivorUnschedulable: false, droppedPodsPlaced: [], staleDataPresent: false, nowIso: 't',
      policy: MANUAL, unavailableSince: null, backup: null, statefulSetPresent: true, podsLeft: 3, pvcsLeft: 3, pvcsToDelete: [], nowMs: 0,
    };
    expect(planQuorumRecovery(base)).toMatchObject({ action: { kind: 'refuse', reason: 'QuorumNotLost' }, next: { request: 'go', phase: 'Refused' } });
    const down = (o: number): RecoveryCandidate => ({ name: name(o), ordinal: o, recordedID: `id${o}`, dataLost: o === 0, status: null });
    expect(planQuorumRecovery({ ...base, healthyVoters: 0, candidates: [down(0), down(1), down(2)] }).action).toMatchObject({ kind: 'refuse', reason: 'NoSurvivor' });
  });

  it('never picks a member answering with another ID (its data was replaced), nor one reporting errors', () => {
    const c = (o: number, id: string, applied: number, errors: string[] = []): RecoveryCandidate => ({ name: name(o), ordinal: o, recordedID: `id${o}`, dataLost: false, status: { memberID: id, appliedIndex: applied, errors } });
    expect(pickSurvivor([c(0, 'other', 999), c(1, 'id1', 5), c(2, 'id2', 900, ['NOSPACE'])])?.ordinal).toBe(1);
    expect(pickSurvivor([c(0, 'id0', 7), c(1, 'id1', 7)])?.ordinal).toBe(0);
  });
});

const VERIFIED = { location: 's3://b/k.db', key: 'k.db', sizeBytes: 10, revision: 42, sha256: 'ab', verifiedTime: 't0' };

/** The backup path against a model of the StatefulSet, its pods and PVCs (deletion takes a few passes), with operator crashes. */
function runBackup(seed: number): void {
  const rng = new TestRng(seed);
  const n = rng.chance(0.5) ? 3 : 5;
  const survivorUp = rng.chance(0.5); // with source Backup, a survivor is no reason to use it
  const policy = { ...MANUAL, source: survivorUp ? 'Backup' as const : 'Survivor' as const };
  const w = { sts: true, pods: new Map<number, number>(), pvcs: new Map<number, number>(), recovery: null as RecoveryStatus | null, time: 1, restored: null as unknown };
  for (let o = 0; o < n; o++) { w.pods.set(o, -1); w.pvcs.set(o, -1); } // -1: alive; k >= 0: goes in k passes
  const candidates: RecoveryCandidate[] = Array.from({ length: n }, (_, o) => ({
    name: name(o), ordinal: o, recordedID: `id${o}`, dataLost: !(survivorUp && o === 0), status: survivorUp && o === 0 ? { memberID: 'id0', appliedIndex: 7, errors: [] } : null,
  }));
  const input = (): RecoveryInput => ({
    request: `r${seed}`, policy, unavailableSince: null, recovery: w.recovery, voters: n, healthyVoters: survivorUp ? 1 : 0, candidates, highestRecordedIndex: 9,
    survivorMemberList: null, flagPresent: false, survivorStartedWithFlag: false, survivorUnschedulable: false, droppedPodsPlaced: [], staleDataPresent: false, backup: { verified: VERIFIED },
    statefulSetPresent: w.sts, podsLeft: w.pods.size, pvcsLeft: w.pvcs.size, pvcsToDelete: [...w.pvcs].filter(([, k]) => k < 0).map(([o]) => o), nowMs: w.time, nowIso: `t${w.time}`,
  });
  for (let pass = 0; pass < 60 && w.restored === null; pass++) {
    // Deletions finish a few passes later; a claim goes only once its pod has.
    for (const [o, k] of w.pods) if (k === 0) w.pods.delete(o); else if (k > 0) w.pods.set(o, k - 1);
    for (const [o, k] of w.pvcs) if (k === 0 && !w.pods.has(o)) w.pvcs.delete(o); else if (k > 0) w.pvcs.set(o, k - 1);
    const plan = planQuorumRecovery(input());
    w.recovery = plan.next;
    w.time++;
    const a = plan.action;
    if (['set-flag', 'restart-survivor', 'free-survivor-node', 'clear-flag', 'remove-stale-data', 'refuse'].includes(a.kind)) throw new Error(`seed ${seed}: ${a.kind} on the backup path`);
    // Crashed before acting (bootstrap-from-backup is a status write, made with status.recovery at once).
    if (a.kind !== 'bootstrap-from-backup' && rng.chance(0.2)) continue;
    if (a.kind === 'stop-members') { w.sts = false; for (const o of w.pods.keys()) if (w.pods.get(o)! < 0) w.pods.set(o, rng.int(3)); }
    if (a.kind === 'delete-volumes') {
      expect(w.sts, `seed ${seed}: volumes deleted under a running StatefulSet`).toBe(false);
      for (const o of a.ordinals) if (w.pvcs.get(o)! < 0) w.pvcs.set(o, rng.int(3));
    }
    if (a.kind === 'bootstrap-from-backup') {
      expect(w.pods.size + w.pvcs.size, `seed ${seed}: bootstrapped with old pods or volumes left`).toBe(0);
      w.restored = a.backup;
    }
  }
  expect(w.restored, `seed ${seed}: stuck in ${w.recovery?.phase}`).toEqual(VERIFIED);
  expect(w.recovery).toMatchObject({ phase: 'Done', source: 'Backup', backup: VERIFIED });
  expect(w.recovery!.loses).toContain('every write after revision 42 is lost');
  if (survivorUp) expect(w.recovery!.loses).toContain('including what e-0 still holds (applied index 7)');
}

describe('planQuorumRecovery from a backup', () => {
  it('stops the members, deletes every volume, then bootstraps from the backup, across operator crashes', () => {
    const seeds = Number(process.env['QUORUM_RECOVERY_SEEDS'] ?? 300);
    for (let seed = 1; seed <= seeds; seed++) runBackup(seed);
  });

  const lost = (o: number): RecoveryCandidate => ({ name: name(o), ordinal: o, recordedID: `id${o}`, dataLost: true, status: null });
  const base: RecoveryInput = {
    request: null, recovery: null, voters: 3, healthyVoters: 0, candidates: [lost(0), lost(1), lost(2)], highestRecordedIndex: 10,
    survivorMemberList: null, flagPresent: false, survivorStartedWithFlag: false, survivorUnschedulable: false, droppedPodsPlaced: [], staleDataPresent: false, nowIso: 't',
    policy: MANUAL, unavailableSince: null, backup: null, statefulSetPresent: true, podsLeft: 3, pvcsLeft: 3, pvcsToDelete: [0, 1, 2], nowMs: 0,
  };

  it('refuses without a survivor and without a usable backup, changing nothing', () => {
    expect(planQuorumRecovery({ ...base, request: 'go' })).toMatchObject({ action: { kind: 'refuse', reason: 'NoSurvivor' }, next: { phase: 'Refused', request: 'go' } });
    const p = planQuorumRecovery({ ...base, request: 'go', backup: { problem: 'BackupNotFound: s3://b/k: no such object' } });
    expect(p.action).toMatchObject({ kind: 'refuse', reason: 'NoSurvivor' });
    expect((p.action as { message: string }).message).toContain('BackupNotFound');
    const alive: RecoveryCandidate = { name: 'e-0', ordinal: 0, recordedID: 'id0', dataLost: false, status: { memberID: 'id0', appliedIndex: 5, errors: [] } };
    expect(planQuorumRecovery({ ...base, request: 'go', healthyVoters: 1, candidates: [alive, lost(1), lost(2)], policy: { ...MANUAL, source: 'Backup' } }).action).toMatchObject({ kind: 'refuse', reason: 'NoBackup' });
  });

  it('Automatic: acts once per outage, only after the grace period; Manual never without the annotation', () => {
    const auto = resolveRecoveryPolicy({ policy: 'Automatic', gracePeriodSeconds: 60 });
    const since = '2026-12-02T08:00:00.000Z';
    const at = (s: number): number => Date.parse(since) + s * 1000;
    const withBackup = { ...base, backup: { verified: VERIFIED }, unavailableSince: since };
    expect(planQuorumRecovery({ ...withBackup, nowMs: at(3600) }).action.kind).toBe('none'); // Manual
    expect(planQuorumRecovery({ ...withBackup, policy: auto, nowMs: at(59) }).action.kind).toBe('none');
    const p = planQuorumRecovery({ ...withBackup, policy: auto, nowMs: at(60) });
    expect(p).toMatchObject({ action: { kind: 'stop-members' }, next: { trigger: 'Policy', request: `auto:${since}` } });
    // Done (or refused) for this outage: not again until another one begins.
    const done: RecoveryStatus = { ...p.next!, phase: 'Done' };
    expect(planQuorumRecovery({ ...withBackup, policy: auto, recovery: done, nowMs: at(7200) }).action.kind).toBe('none');
    expect(planQuorumRecovery({ ...withBackup, policy: auto, recovery: done, unavailableSince: '2026-12-02T09:00:00.000Z', nowMs: at(7200) }).action.kind).toBe('stop-members');
    // Never while quorum holds, whatever the policy.
    expect(planQuorumRecovery({ ...withBackup, policy: auto, healthyVoters: 2, nowMs: at(600) }).action).toMatchObject({ kind: 'refuse', reason: 'QuorumNotLost' });
  });

  it('an annotation value and an automatic request each act once, whichever came last (no ping-pong)', () => {
    const auto = resolveRecoveryPolicy({ policy: 'Automatic', gracePeriodSeconds: 60 });
    const since = '2026-12-02T08:00:00.000Z';
    const now = Date.parse(since) + 120_000;
    // An annotation answered long ago; then an outage the policy answers.
    const old: RecoveryStatus = { request: 'old', trigger: 'Annotation', phase: 'Done' };
    const p = planQuorumRecovery({ ...base, request: 'old', policy: auto, recovery: old, unavailableSince: since, nowMs: now, backup: { verified: VERIFIED } });
    expect(p.next).toMatchObject({ trigger: 'Policy', lastAnnotation: 'old', lastAutomatic: `auto:${since}` });
    // Done, or refused: neither the old annotation nor the same outage acts again.
    for (const phase of ['Done', 'Refused'] as const) {
      const r = { ...p.next!, phase };
      expect(planQuorumRecovery({ ...base, request: 'old', policy: auto, recovery: r, unavailableSince: since, nowMs: now }).action.kind).toBe('none');
    }
    // A new annotation value acts (and remembers the automatic one).
    const q = planQuorumRecovery({ ...base, request: 'new', policy: auto, recovery: { ...p.next!, phase: 'Done' }, unavailableSince: since, nowMs: now, healthyVoters: 3 });
    expect(q.next).toMatchObject({ request: 'new', trigger: 'Annotation', lastAnnotation: 'new', lastAutomatic: `auto:${since}`, phase: 'Refused' });
    expect(planQuorumRecovery({ ...base, request: 'new', policy: auto, recovery: q.next, unavailableSince: since, nowMs: now }).action.kind).toBe('none');
  });

  it('checks the policy', () => {
    expect(recoveryPolicyProblems({ gracePeriodSeconds: 10 })).toHaveLength(1);
    expect(recoveryPolicyProblems({ policy: 'Sometimes' as 'Manual', source: 'Tape' as 'Backup' })).toHaveLength(2);
    expect(recoveryPolicyProblems({ policy: 'Automatic', gracePeriodSeconds: 60, source: 'Backup' })).toEqual([]);
  });
});
