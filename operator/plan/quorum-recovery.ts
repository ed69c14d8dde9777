// Recovery from quorum loss, operator-driven and opt-in only: the decisions (pure; the time comes in).
// Never automatic: it runs only when the user sets the annotation tsetcd.dev/recover-quorum to a new
// value, and only while quorum is really lost. It is etcd's --force-new-cluster runbook (docs/operator.md)
// as steps, each recorded in status.recovery before it is acted on, so a crash repeats a step, never
// skips one:
//   1. ForcingNewCluster: the member with the most recent data (highest applied index among the members
//      that still answer Status with their own ID and data) is named for --force-new-cluster (set-flag),
//      its pod restarted (restart-survivor); it drops every other member and whatever it had not
//      committed, and serves alone (wait until its own member list holds only itself).
//   2. ClearingFlag: the flag is taken away again (a later restart must not drop members re-added
//      meanwhile; were it to restart before, the flag is a no-op on a one-member cluster).
//   3. RemovingStaleData: the other members' volumes hold the old cluster's data; their PVCs and pods go.
//   4. Done: the ordinary planner re-adds them one at a time (learner, catch up, promote), as it replaces
//      any member whose data is gone.
// Each pass does one step, decided from what it observes (the flag, the survivor's pod, its member list,
// the stale PVCs), so a repeated step is harmless.
// What is lost is said up front, in the status and the Event: every other member, and the writes the
// survivor had not committed (at most the gap between its applied index and the highest index recorded).

/** Set to a new value (any text) to ask for recovery; the value is recorded, so it acts once. */
export const RECOVER_QUORUM_ANNOTATION = 'tsetcd.dev/recover-quorum';

export type RecoveryPhase = 'ForcingNewCluster' | 'ClearingFlag' | 'RemovingStaleData';

export interface RecoveryStatus {
  /** The annotation value this recovery answers. */
  request: string;
  phase: RecoveryPhase | 'Done' | 'Refused';
  survivor?: { name: string; ordinal: number; id: string; appliedIndex: number };
  /** Ordinals whose members are dropped and re-added empty. */
  dropped?: number[];
  /** What the recovery loses, in words. */
  loses?: string;
  message?: string;
  startTime?: string;
  completionTime?: string;
}

export interface RecoveryCandidate {
  name: string;
  ordinal: number;
  /** The ID recorded for it in status.members (hex); null when none was. */
  recordedID: string | null;
  /** Its Maintenance.Status now (served without a leader); null when it did not answer. */
  status: { memberID: string; appliedIndex: number; errors: readonly string[] } | null;
  /** Its data is gone (a new PVC under it, another ID). */
  dataLost: boolean;
}

export interface RecoveryInput {
  /** The annotation's value; null when absent. */
  request: string | null;
  recovery: RecoveryStatus | null;
  /** Voting members recorded in status.members, and how many of them are healthy now. */
  voters: number;
  healthyVoters: number;
  candidates: readonly RecoveryCandidate[];
  /** The highest applied index recorded for any member while it was seen (status.members raftIndex). */
  highestRecordedIndex: number;
  /** Member IDs (hex) the survivor reports in its own member list; null when it does not answer. */
  survivorMemberList: readonly string[] | null;
  /** The bootstrap ConfigMap names a member for --force-new-cluster (the flag is set). */
  flagPresent: boolean;
  /** The survivor's pod was created after the flag was set (so it started with the flag). */
  survivorStartedWithFlag: boolean;
  /** A dropped ordinal still has its old PVC. */
  staleDataPresent: boolean;
  nowIso: string;
}

export type RecoveryAction =
  | { kind: 'none' }
  /** Refused: nothing changes; the condition and an Event say why. */
  | { kind: 'refuse'; reason: 'QuorumNotLost' | 'NoSurvivor'; message: string }
  /** Name this member for --force-new-cluster in the bootstrap ConfigMap (its pod reads it at start). */
  | { kind: 'set-flag'; name: string }
  /** Delete its pod, so that it starts again with the flag. */
  | { kind: 'restart-survivor'; name: string }
  /** Wait for the survivor to serve alone. */
  | { kind: 'wait'; message: string }
  | { kind: 'clear-flag' }
  | { kind: 'remove-stale-data'; ordinals: number[] };

export interface RecoveryPlan {
  action: RecoveryAction;
  /** status.recovery after this pass (written before the action is taken). */
  next: RecoveryStatus | null;
}

const quorumOf = (voters: number): number => Math.floor(voters / 2) + 1;

/** The member to recover from: answers with its recorded ID, no errors, data intact; highest applied index, then lowest ordinal. */
export function pickSurvivor(candidates: readonly RecoveryCandidate[]): RecoveryCandidate | null {
  let best: RecoveryCandidate | null = null;
  for (const c of candidates) {
    const s = c.status;
    if (s === null || c.dataLost || s.errors.length > 0) continue;
    if (c.recordedID !== null && s.memberID !== c.recordedID) continue;
    if (best === null || s.appliedIndex > best.status!.appliedIndex || (s.appliedIndex === best.status!.appliedIndex && c.ordinal < best.ordinal)) best = c;
  }
  return best;
}

export function planQuorumRecovery(i: RecoveryInput): RecoveryPlan {
  const r = i.recovery;
  // A recovery under way goes on to its end, whatever the annotation says now.
  if (r !== null && (r.phase === 'ForcingNewCluster' || r.phase === 'ClearingFlag' || r.phase === 'RemovingStaleData')) return continueRecovery(i, r);
  const fresh = i.request !== null && i.request !== '' && i.request !== r?.request;
  if (!fresh) return { action: { kind: 'none' }, next: r };
  const request = i.request as string;
  if (i.voters === 0 || i.healthyVoters >= quorumOf(i.voters)) {
    const message = `quorum is not lost (${i.healthyVoters} of ${i.voters} voting members healthy): nothing to recover; the request "${request}" is recorded and ignored`;
    return { action: { kind: 'refuse', reason: 'QuorumNotLost', message }, next: { request, phase: 'Refused', message, completionTime: i.nowIso } };
  }
  const survivor = pickSurvivor(i.candidates);
  if (survivor === null) {
    const message = 'no member answers with its own data: recover from a backup instead (spec.bootstrap.fromBackup of a new cluster)';
    return { action: { kind: 'refuse', reason: 'NoSurvivor', message }, next: { request, phase: 'Refused', message, completionTime: i.nowIso } };
  }
  const applied = survivor.status!.appliedIndex;
  const dropped = i.candidates.filter((c) => c.ordinal !== survivor.ordinal).map((c) => c.ordinal).sort((a, b) => a - b);
  const gap = Math.max(0, i.highestRecordedIndex - applied);
  const loses = `members ${dropped.map((o) => `#${o}`).join(', ') || '(none)'} are dropped and re-added empty; ${survivor.name} keeps what it committed up to index ${applied}` +
    (gap > 0 ? `; up to ${gap} entries recorded beyond it on other members are lost` : '; no newer index was recorded on any other member');
  return {
    action: { kind: 'set-flag', name: survivor.name },
    next: {
      request, phase: 'ForcingNewCluster', dropped, loses, startTime: i.nowIso,
      survivor: { name: survivor.name, ordinal: survivor.ordinal, id: survivor.status!.memberID, appliedIndex: applied },
      message: `restarting ${survivor.name} with --force-new-cluster`,
    },
  };
}

function removeStale(i: RecoveryInput, r: RecoveryStatus): RecoveryPlan {
  if (i.staleDataPresent) return { action: { kind: 'remove-stale-data', ordinals: r.dropped ?? [] }, next: r };
  return { action: { kind: 'none' }, next: { ...r, phase: 'Done', completionTime: i.nowIso, message: `recovered from ${r.survivor!.name}; the other members are re-added one at a time` } };
}

function continueRecovery(i: RecoveryInput, r: RecoveryStatus): RecoveryPlan {
  const s = r.survivor!;
  switch (r.phase) {
    case 'ForcingNewCluster': {
      if (!i.flagPresent) return { action: { kind: 'set-flag', name: s.name }, next: r };
      if (!i.survivorStartedWithFlag) return { action: { kind: 'restart-survivor', name: s.name }, next: r };
      const alone = i.survivorMemberList !== null && i.survivorMemberList.length === 1 && i.survivorMemberList[0] === s.id;
      if (!alone) return { action: { kind: 'wait', message: `waiting for ${s.name} to serve alone` }, next: r };
      return { action: { kind: 'clear-flag' }, next: { ...r, phase: 'ClearingFlag', message: `${s.name} serves alone; taking --force-new-cluster away again` } };
    }
    case 'ClearingFlag':
      if (i.flagPresent) return { action: { kind: 'clear-flag' }, next: r };
      return removeStale(i, { ...r, phase: 'RemovingStaleData', message: `removing the old data of ${(r.dropped ?? []).map((o) => `#${o}`).join(', ')}` });
    case 'RemovingStaleData':
      return removeStale(i, r);
    default:
      return { action: { kind: 'none' }, next: r };
  }
}
