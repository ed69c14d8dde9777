// Recovery from quorum loss, operator-driven and opt-in only: the decisions (pure; the time comes in).
// Never automatic by default: it runs when the user sets the annotation tsetcd.dev/recover-quorum to a new
// value, or, with spec.quorumRecovery.policy Automatic, once quorum has been lost for the grace period;
// and only while quorum is really lost. Each step is recorded in status.recovery before it is acted on,
// so a crash repeats a step, never skips one. Two ways back:
// From the newest surviving member's data (etcd's --force-new-cluster runbook, docs/operator.md):
//   1. ForcingNewCluster: the member with the most recent data (highest applied index among the members
//      that still answer Status with their own ID and data) is named for --force-new-cluster (set-flag),
//      its pod restarted (restart-survivor); it drops every other member and whatever it had not
//      committed, and serves alone (wait until its own member list holds only itself).
//   2. ClearingFlag: the flag is taken away again (a later restart must not drop members re-added
//      meanwhile; were it to restart before, the flag is a no-op on a one-member cluster).
//   3. RemovingStaleData: the other members' volumes hold the old cluster's data; their PVCs and pods go.
//   4. Done: the ordinary planner re-adds them one at a time (learner, catch up, promote), as it replaces
//      any member whose data is gone.
// From the newest backup (no member answers with its data, or spec.quorumRecovery.source Backup), the
// backup verified whole by the controller first:
//   1. StoppingMembers: the StatefulSet and its pods go.
//   2. RemovingVolumes: every member's PVC goes, and the pass waits until no pod and no PVC is left.
//   3. Done: status.restore names the backup and the cluster ID is forgotten, so the ordinary planner
//      bootstraps every member from it (the restore init container, plan/restore.ts), as a restore does.
// Each pass does one step, decided from what it observes, so a repeated step is harmless.
// What is lost is said up front, in the status and the Event.
import type { QuorumRecoverySpec, RecoveryPhase, RecoveryStatus, RestoreStatus } from '../api/types.js';

export type { RecoveryPhase, RecoveryStatus } from '../api/types.js';

/** Set to a new value (any text) to ask for recovery; the value is recorded, so it acts once. */
export const RECOVER_QUORUM_ANNOTATION = 'tsetcd.dev/recover-quorum';
export const DEFAULT_RECOVERY_GRACE_SECONDS = 600;
export const MIN_RECOVERY_GRACE_SECONDS = 60;

export interface RecoveryPolicy {
  automatic: boolean;
  gracePeriodMs: number;
  source: 'Survivor' | 'Backup';
}

export function resolveRecoveryPolicy(s: QuorumRecoverySpec | undefined): RecoveryPolicy {
  return {
    automatic: s?.policy === 'Automatic',
    gracePeriodMs: (s?.gracePeriodSeconds ?? DEFAULT_RECOVERY_GRACE_SECONDS) * 1000,
    source: s?.source ?? 'Survivor',
  };
}

/** What the CRD's schema also refuses; the operator checks it too (an older CRD may be installed). */
export function recoveryPolicyProblems(s: QuorumRecoverySpec | undefined): string[] {
  const out: string[] = [];
  if (s === undefined) return out;
  if (s.policy !== undefined && s.policy !== 'Manual' && s.policy !== 'Automatic') out.push(`quorumRecovery.policy must be Manual or Automatic, got "${String(s.policy)}"`);
  if (s.source !== undefined && s.source !== 'Survivor' && s.source !== 'Backup') out.push(`quorumRecovery.source must be Survivor or Backup, got "${String(s.source)}"`);
  const g = s.gracePeriodSeconds;
  if (g !== undefined && (!Number.isInteger(g) || g < MIN_RECOVERY_GRACE_SECONDS)) out.push(`quorumRecovery.gracePeriodSeconds must be a whole number of at least ${MIN_RECOVERY_GRACE_SECONDS}, got ${String(g)}`);
  return out;
}

export interface RecoveryCandidate {
  name: string;
  ordinal: number;
  /** The ID recorded for it in status.members (hex); null when none was. */
  recordedID: string | null;
  /** Its Maintenance.Status now (served without a leader; memberID in hex); null when it did not answer. */
  status: { memberID: string; appliedIndex: number; errors: readonly string[] } | null;
  /** Its data is gone (a new PVC under it, another ID). */
  dataLost: boolean;
}

/** The newest backup, checked whole by the controller (fetch-backup.ts); or why there is none to use. */
export type BackupCandidate = { verified: RestoreStatus } | { problem: string };

export interface RecoveryInput {
  /** The annotation's value; null when absent. */
  request: string | null;
  policy: RecoveryPolicy;
  /** When the Available condition turned False (the outage began); null while Available. */
  unavailableSince: string | null;
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
  /** The survivor's pod is there and the scheduler cannot place it (PodScheduled False, Unschedulable). */
  survivorUnschedulable: boolean;
  /** Pods of the dropped ordinals that are on a node and not being deleted. */
  droppedPodsPlaced: readonly string[];
  /** A dropped ordinal still has its old PVC. */
  staleDataPresent: boolean;
  /** The newest backup; null when it was not looked at (not needed) or none is configured. */
  backup: BackupCandidate | null;
  statefulSetPresent: boolean;
  /** Member pods and PVCs left (any, terminating or not), and the PVCs not yet being deleted. */
  podsLeft: number;
  pvcsLeft: number;
  pvcsToDelete: readonly number[];
  nowMs: number;
  nowIso: string;
}

export type RecoveryAction =
  | { kind: 'none' }
  /** Refused: nothing changes; the condition and an Event say why. */
  | { kind: 'refuse'; reason: 'QuorumNotLost' | 'NoSurvivor' | 'NoBackup'; message: string }
  /** Name this member for --force-new-cluster in the bootstrap ConfigMap (its pod reads it at start). */
  | { kind: 'set-flag'; name: string }
  /** Delete its pod, so that it starts again with the flag. */
  | { kind: 'restart-survivor'; name: string }
  /**
   * Delete the dropped members' pods: the survivor's new pod cannot be placed, and one of them may
   * hold the one node its volume is on (required anti-affinity). They hold nothing the recovery needs.
   */
  | { kind: 'free-survivor-node'; pods: string[] }
  /** Wait for the survivor to serve alone, or for pods and volumes to go. */
  | { kind: 'wait'; message: string }
  | { kind: 'clear-flag' }
  | { kind: 'remove-stale-data'; ordinals: number[] }
  /** Delete the StatefulSet and its pods (the backup path). */
  | { kind: 'stop-members' }
  | { kind: 'delete-volumes'; ordinals: number[] }
  /** Record status.restore = the backup and forget the cluster ID: the planner bootstraps from it. */
  | { kind: 'bootstrap-from-backup'; backup: RestoreStatus };

export interface RecoveryPlan {
  action: RecoveryAction;
  /** status.recovery after this pass (written before the action is taken). */
  next: RecoveryStatus | null;
}

const quorumOf = (voters: number): number => Math.floor(voters / 2) + 1;
const ACTIVE: ReadonlySet<string> = new Set<RecoveryPhase>(['ForcingNewCluster', 'ClearingFlag', 'RemovingStaleData', 'StoppingMembers', 'RemovingVolumes']);

/** A recovery is under way (the ordinary planner stands aside). */
export function recoveryActive(r: RecoveryStatus | null | undefined): boolean {
  return r != null && ACTIVE.has(r.phase);
}

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

/** The request this pass answers: the annotation's new value, else the policy's once the grace period is over; null: none. */
export function pendingRequest(i: Pick<RecoveryInput, 'request' | 'policy' | 'unavailableSince' | 'recovery' | 'nowMs'>): { request: string; trigger: 'Annotation' | 'Policy' } | null {
  const { annotation, automatic } = answered(i.recovery);
  if (i.request !== null && i.request !== '' && i.request !== annotation) return { request: i.request, trigger: 'Annotation' };
  if (!i.policy.automatic || i.unavailableSince === null) return null;
  if (i.nowMs - Date.parse(i.unavailableSince) < i.policy.gracePeriodMs) return null;
  // One automatic attempt per outage: the outage's start names it.
  const request = `auto:${i.unavailableSince}`;
  return request === automatic ? null : { request, trigger: 'Policy' };
}

/**
 * The last annotation value and the last automatic request answered. Both are remembered: were only the
 * latest request kept, an automatic one would make an old annotation value look new, and back again.
 */
function answered(r: RecoveryStatus | null): { annotation: string | undefined; automatic: string | undefined } {
  return {
    annotation: r?.lastAnnotation ?? (r?.trigger !== 'Policy' ? r?.request : undefined),
    automatic: r?.lastAutomatic ?? (r?.trigger === 'Policy' ? r?.request : undefined),
  };
}

/** What a new recovery status remembers of the requests answered, this one included. */
function remembered(r: RecoveryStatus | null, request: string, trigger: 'Annotation' | 'Policy'): Pick<RecoveryStatus, 'lastAnnotation' | 'lastAutomatic'> {
  const a = answered(r);
  const annotation = trigger === 'Annotation' ? request : a.annotation;
  const automatic = trigger === 'Policy' ? request : a.automatic;
  return { ...(annotation !== undefined ? { lastAnnotation: annotation } : {}), ...(automatic !== undefined ? { lastAutomatic: automatic } : {}) };
}

/** Whether this pass needs the newest backup checked (a fresh request that will not use a survivor). */
export function needsBackup(i: RecoveryInput): boolean {
  if (recoveryActive(i.recovery) || pendingRequest(i) === null || quorumHolds(i)) return false;
  return i.policy.source === 'Backup' || pickSurvivor(i.candidates) === null;
}

function quorumHolds(i: Pick<RecoveryInput, 'voters' | 'healthyVoters'>): boolean {
  return i.voters === 0 || i.healthyVoters >= quorumOf(i.voters);
}

const ordinals = (os: readonly number[]): string => os.map((o) => `#${o}`).join(', ') || '(none)';

export function planQuorumRecovery(i: RecoveryInput): RecoveryPlan {
  const r = i.recovery;
  // A recovery under way goes on to its end, whatever the annotation says now.
  if (r !== null && recoveryActive(r)) return continueRecovery(i, r);
  const pending = pendingRequest(i);
  if (pending === null) return { action: { kind: 'none' }, next: r };
  const { request, trigger } = pending;
  const seen = remembered(r, request, trigger);
  const refused = (reason: 'QuorumNotLost' | 'NoSurvivor' | 'NoBackup', message: string): RecoveryPlan => ({
    action: { kind: 'refuse', reason, message },
    next: { request, trigger, ...seen, phase: 'Refused', message, completionTime: i.nowIso },
  });
  if (quorumHolds(i)) {
    return refused('QuorumNotLost', `quorum is not lost (${i.healthyVoters} of ${i.voters} voting members answer with their data): nothing to recover; the request "${request}" is recorded and ignored`);
  }
  const survivor = i.policy.source === 'Backup' ? null : pickSurvivor(i.candidates);
  if (survivor === null) {
    const why = i.policy.source === 'Backup' ? 'spec.quorumRecovery.source is Backup' : 'no member answers with its own data';
    if (i.backup === null) return refused(i.policy.source === 'Backup' ? 'NoBackup' : 'NoSurvivor', `${why}, and there is no backup to recover from (spec.backup with a successful backup in status.backup.lastLocation); nothing is changed`);
    if ('problem' in i.backup) return refused(i.policy.source === 'Backup' ? 'NoBackup' : 'NoSurvivor', `${why}, and the newest backup cannot be used: ${i.backup.problem}; nothing is changed`);
    return startFromBackup(i, { request, trigger, ...seen }, i.backup.verified, why);
  }
  const applied = survivor.status!.appliedIndex;
  const dropped = i.candidates.filter((c) => c.ordinal !== survivor.ordinal).map((c) => c.ordinal).sort((a, b) => a - b);
  const gap = Math.max(0, i.highestRecordedIndex - applied);
  const loses = `members ${ordinals(dropped)} are dropped and re-added empty; ${survivor.name} keeps what it committed up to index ${applied}` +
    (gap > 0 ? `; up to ${gap} entries recorded beyond it on other members are lost` : '; no newer index was recorded on any other member') +
    '; writes it had not committed are lost';
  return {
    action: { kind: 'set-flag', name: survivor.name },
    next: {
      request, trigger, ...seen, source: 'Survivor', phase: 'ForcingNewCluster', dropped, loses, startTime: i.nowIso, flagSetTime: i.nowIso,
      survivor: { name: survivor.name, ordinal: survivor.ordinal, id: survivor.status!.memberID, appliedIndex: applied },
      message: `restarting ${survivor.name} with --force-new-cluster`,
    },
  };
}

function startFromBackup(i: RecoveryInput, req: Pick<RecoveryStatus, 'request' | 'trigger' | 'lastAnnotation' | 'lastAutomatic'>, backup: RestoreStatus, why: string): RecoveryPlan {
  const dropped = i.candidates.map((c) => c.ordinal).sort((a, b) => a - b);
  const best = pickSurvivor(i.candidates);
  const loses = `every member's data is replaced by the backup ${backup.location} (revision ${backup.revision}, verified ${backup.verifiedTime}); every write after revision ${backup.revision} is lost` +
    (best !== null ? `, including what ${best.name} still holds (applied index ${best.status!.appliedIndex})` : '') + '; the cluster starts anew from it';
  return {
    action: { kind: 'stop-members' },
    next: { ...req, source: 'Backup', phase: 'StoppingMembers', dropped, backup, loses, startTime: i.nowIso, message: `${why}: restoring every member from ${backup.location}; stopping the members` },
  };
}

function removeStale(i: RecoveryInput, r: RecoveryStatus): RecoveryPlan {
  if (i.staleDataPresent) return { action: { kind: 'remove-stale-data', ordinals: r.dropped ?? [] }, next: r };
  return { action: { kind: 'none' }, next: { ...r, phase: 'Done', completionTime: i.nowIso, message: `recovered from ${r.survivor!.name}; the other members are re-added one at a time` } };
}

function continueRecovery(i: RecoveryInput, r: RecoveryStatus): RecoveryPlan {
  switch (r.phase) {
    case 'ForcingNewCluster': {
      const s = r.survivor!;
      if (!i.flagPresent) return { action: { kind: 'set-flag', name: s.name }, next: r };
      if (!i.survivorStartedWithFlag) return { action: { kind: 'restart-survivor', name: s.name }, next: r };
      // Restarting the survivor frees its node for a moment; a dropped member's pod created then may
      // take it, and the survivor's volume can be used nowhere else: no step after this would come.
      if (i.survivorUnschedulable && i.droppedPodsPlaced.length > 0) {
        const pods = [...i.droppedPodsPlaced];
        return { action: { kind: 'free-survivor-node', pods }, next: { ...r, message: `${s.name} cannot be placed; deleting the dropped members' pods ${pods.join(', ')} so its node is free` } };
      }
      const alone = i.survivorMemberList !== null && i.survivorMemberList.length === 1 && i.survivorMemberList[0] === s.id;
      if (!alone) return { action: { kind: 'wait', message: `waiting for ${s.name} to serve alone` }, next: r };
      return { action: { kind: 'clear-flag' }, next: { ...r, phase: 'ClearingFlag', message: `${s.name} serves alone; taking --force-new-cluster away again` } };
    }
    case 'ClearingFlag':
      if (i.flagPresent) return { action: { kind: 'clear-flag' }, next: r };
      return removeStale(i, { ...r, phase: 'RemovingStaleData', message: `removing the old data of ${ordinals(r.dropped ?? [])}` });
    case 'RemovingStaleData':
      return removeStale(i, r);
    case 'StoppingMembers':
      if (i.statefulSetPresent) return { action: { kind: 'stop-members' }, next: r };
      return removeVolumes(i, { ...r, phase: 'RemovingVolumes', message: 'the members are stopped; deleting their volumes' });
    case 'RemovingVolumes':
      return removeVolumes(i, r);
    default:
      return { action: { kind: 'none' }, next: r };
  }
}

function removeVolumes(i: RecoveryInput, r: RecoveryStatus): RecoveryPlan {
  // A StatefulSet recreated meanwhile (by hand) would bring members back on the old volumes: stop it again.
  if (i.statefulSetPresent) return { action: { kind: 'stop-members' }, next: r };
  if (i.pvcsToDelete.length > 0) return { action: { kind: 'delete-volumes', ordinals: [...i.pvcsToDelete] }, next: r };
  if (i.podsLeft > 0 || i.pvcsLeft > 0) return { action: { kind: 'wait', message: `waiting for ${i.podsLeft} pod(s) and ${i.pvcsLeft} PVC(s) to go` }, next: r };
  const backup = r.backup!;
  return {
    action: { kind: 'bootstrap-from-backup', backup },
    next: { ...r, phase: 'Done', completionTime: i.nowIso, message: `every member starts from ${backup.location} (revision ${backup.revision}) as a new cluster` },
  };
}
