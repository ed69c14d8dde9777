// The quorum-loss recovery plan against a small model of the world: members with applied indexes, some
// lost for good (down, or their data gone), the bootstrap ConfigMap's flag, pods that restart, and an
// operator that may crash between recording a step and acting on it. Checked after every pass: nothing
// happens without a fresh request or while quorum holds; the survivor is the member with the most recent
// data; the flag never outlives the recovery; a survivor restart after the recovery never drops members.
// Seeds from QUORUM_RECOVERY_SEEDS (default 300); a failure names its seed.
import { describe, expect, it } from 'vitest';
import { TestRng } from '../../node/mvcc/testing/rng.js';
import { pickSurvivor, planQuorumRecovery, type RecoveryCandidate, type RecoveryInput, type RecoveryStatus } from './quorum-recovery.js';

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
}

const name = (o: number): string => `e-${o}`;
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
    staleDataPresent: [...w.stalePvcs].length > 0, nowIso: `t${w.time}`,
  };
}

/** A pod start: with the flag naming it, the member drops every other one (its list is itself alone). */
function startPod(w: World, m: ModelMember): void {
  m.podStart = ++w.time;
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
  return { members, forcedList: null, flag: null, flagSetAt: 0, stalePvcs: new Set(), time: 1, recovery: null, highestRecorded };
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
      case 'restart-survivor': startPod(w, w.members.find((m) => name(m.ordinal) === a.name)!); break;
      case 'clear-flag': w.flag = null; break;
      case 'remove-stale-data': for (const o of a.ordinals) w.stalePvcs.delete(o); break;
      case 'refuse': case 'none': case 'wait': break;
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
      survivorMemberList: null, flagPresent: false, survivorStartedWithFlag: false, staleDataPresent: false, nowIso: 't',
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
