// The quorum-loss recovery pass (plan/quorum-recovery.ts is the pure part): observe what the plan needs,
// which the ordinary observation cannot give without a leader (each recorded member's own Status, served
// without one; the survivor's own member list; the newest backup, checked whole), plan, record the step in
// status.recovery, then act, then emit the Event. While a recovery is under way it owns the pass: the
// ordinary planner stands aside (it would only wait for a leader, or recreate what the backup path stops).
import type { Logger } from '../../node/log.js';
import { setCondition } from '../api/conditions.js';
import type { ResolvedSpec } from '../api/defaults.js';
import type { Condition, EtcdCluster, EtcdClusterStatus, RecoveryStatus } from '../api/types.js';
import type { MemberApi } from '../members/member-api.js';
import { buildBootstrapConfigMap } from '../plan/bootstrap-configmap.js';
import { hexID, memberName, ordinalOfName, peerURL, pvcName, statefulSetName, type ClusterRef } from '../plan/names.js';
import {
  RECOVER_QUORUM_ANNOTATION,
  needsBackup,
  pendingRequest,
  planQuorumRecovery,
  recoveryActive,
  resolveRecoveryPolicy,
  type BackupCandidate,
  type RecoveryAction,
  type RecoveryCandidate,
  type RecoveryInput,
  type RecoveryPlan,
} from '../plan/quorum-recovery.js';
import { s3LocationFor, storeFor, type BackupRunnerDeps } from './backup-runner.js';
import type { KubeApi } from './kube-api.js';
import { ALREADY_BOOTSTRAPPED, memberEndpoint, type EndpointMode, type Observation } from './observe.js';
import { verifyBackupObject } from './restore-gate.js';

export interface RecoveryStepDeps {
  kube: KubeApi;
  api: MemberApi;
  log: Logger;
  endpointMode: EndpointMode;
  /** Absent: this operator runs without backup support (no backup path). */
  backups?: Omit<BackupRunnerDeps, 'kube' | 'log'>;
}

/** What the pass did: null when there is no recovery to do (the ordinary pass goes on). */
export interface RecoveryStepResult {
  action: RecoveryAction['kind'];
  requeueAfterMs: number;
}

export async function quorumRecoveryStep(d: RecoveryStepDeps, cluster: EtcdCluster, ref: ClusterRef, spec: ResolvedSpec, obs: Observation, nowMs: number): Promise<RecoveryStepResult | null> {
  const prev = cluster.status ?? {};
  const recorded = prev.recovery ?? null;
  const request = cluster.metadata.annotations?.[RECOVER_QUORUM_ANNOTATION] ?? null;
  const policy = resolveRecoveryPolicy(cluster.spec.quorumRecovery);
  // Cheap exit for the common case: nothing under way, nothing asked, no automatic recovery due.
  if (!recoveryActive(recorded) && pendingRequest({ request, policy, unavailableSince: unavailableSince(prev), recovery: recorded, nowMs }) === null) return null;
  const nowIso = new Date(nowMs).toISOString();
  const peerTLS = spec.tls.peerSecretName !== null;
  // The bootstrap ConfigMap as the recorded phase wants it (level-triggered: a crash after recording the
  // step but before applying it is made good here).
  if (recorded?.phase === 'ForcingNewCluster' || recorded?.phase === 'ClearingFlag') {
    await applyConfigMap(d.kube, ref, recorded, peerTLS, recorded.phase === 'ForcingNewCluster');
  }
  const input = await observeRecovery(d, cluster, ref, spec, obs, request, nowMs, nowIso);
  if (needsBackup(input)) input.backup = await newestBackup(d, cluster, nowMs);
  const plan = planQuorumRecovery(input);
  if (plan.action.kind === 'none' && plan.next === recorded) return null;
  const next = withStalePvcs(plan, recorded, obs);
  await d.kube.updateStatus(cluster, statusFor(prev, next, plan, nowIso, input.candidates, obs.members !== null));
  d.log.info('quorum recovery', { action: plan.action.kind, phase: next?.phase, request: next?.request });
  await act(d, ref, next, plan.action, peerTLS);
  await emit(d, cluster, recorded, next, plan);
  return { action: plan.action.kind, requeueAfterMs: plan.action.kind === 'refuse' ? 10_000 : 2000 };
}

/** The dropped members' PVCs as they are at the start: the old cluster's data, which step 3 deletes. */
function withStalePvcs(plan: RecoveryPlan, recorded: RecoveryStatus | null, obs: Observation): RecoveryStatus | null {
  const next = plan.next;
  if (next === null || next.phase !== 'ForcingNewCluster' || recoveryActive(recorded)) return next;
  const dropped = new Set(next.dropped ?? []);
  return { ...next, stalePvcUIDs: obs.pvcs.filter((p) => dropped.has(p.ordinal)).map((p) => p.uid) };
}

async function observeRecovery(
  d: RecoveryStepDeps,
  cluster: EtcdCluster,
  ref: ClusterRef,
  spec: ResolvedSpec,
  obs: Observation,
  request: string | null,
  nowMs: number,
  nowIso: string,
): Promise<RecoveryInput> {
  const prev = cluster.status ?? {};
  const recorded = prev.recovery ?? null;
  const tls = spec.tls.clientSecretName !== null;
  const endpointOf = (ordinal: number): string | null => memberEndpoint(ref, obs.pods, ordinal, d.endpointMode, tls);
  const recordedVoters = (prev.members ?? []).filter((m) => !m.isLearner);
  // Each recorded voter's own Status (served without a leader), in parallel; a silent one is null.
  const candidates: RecoveryCandidate[] = await Promise.all(
    recordedVoters.flatMap((m) => {
      const ordinal = ordinalOfName(ref, m.name);
      if (ordinal === null) return [];
      return [(async (): Promise<RecoveryCandidate> => {
        const ep = endpointOf(ordinal);
        const s = ep === null ? null : await d.api.status(ep).catch(() => null);
        const pod = obs.pods.find((p) => p.ordinal === ordinal);
        const pvc = obs.pvcs.find((p) => p.ordinal === ordinal && !p.terminating);
        const dataLost = pvc === undefined || (m.pvcUID !== undefined && pvc.uid !== m.pvcUID) || (pod?.lastTerminationMessage != null && ALREADY_BOOTSTRAPPED.test(pod.lastTerminationMessage));
        return {
          name: m.name, ordinal, recordedID: m.id, dataLost,
          status: s === null ? null : { memberID: hexID(s.memberID), appliedIndex: s.raftAppliedIndex ?? s.raftIndex, errors: s.errors },
        };
      })()];
    }),
  );
  // With a linearizable member list there is a leader and a quorum behind it: count as the cluster does.
  const voters = obs.members !== null ? obs.members.filter((m) => !m.info.isLearner) : null;
  const healthyVoters = voters !== null ? voters.filter((m) => m.observed.healthy).length : candidates.filter((c) => c.status !== null && !c.dataLost && c.status.errors.length === 0 && c.status.memberID === c.recordedID).length;
  const survivor = recorded?.survivor;
  const survivorEndpoint = survivor === undefined ? null : endpointOf(survivor.ordinal);
  const survivorMemberList =
    recorded?.phase === 'ForcingNewCluster' && survivorEndpoint !== null
      ? await d.api.list([survivorEndpoint], { linearizable: false }).then((l) => l.members.map((m) => hexID(m.id)), () => null)
      : null;
  const survivorPod = survivor === undefined ? undefined : obs.pods.find((p) => p.ordinal === survivor.ordinal && !p.deleting);
  const flagSetMs = recorded?.flagSetTime !== undefined ? Date.parse(recorded.flagSetTime) : null;
  const createdMs = survivorPod?.createdTime != null ? Date.parse(survivorPod.createdTime) : null;
  const stale = new Set(recorded?.stalePvcUIDs ?? []);
  const dropped = new Set(recorded?.dropped ?? []);
  return {
    request,
    policy: resolveRecoveryPolicy(cluster.spec.quorumRecovery),
    unavailableSince: unavailableSince(prev),
    recovery: recorded,
    voters: voters?.length ?? recordedVoters.length,
    healthyVoters,
    candidates,
    highestRecordedIndex: Math.max(0, ...recordedVoters.map((m) => m.raftIndex ?? 0)),
    survivorMemberList,
    flagPresent: recorded?.phase === 'ForcingNewCluster',
    // creationTimestamp has whole seconds: a pod created in the flag's second counts as older (restarted once more, harmlessly).
    survivorStartedWithFlag: flagSetMs !== null && createdMs !== null && createdMs > flagSetMs,
    survivorUnschedulable: survivorPod?.unschedulable === true,
    droppedPodsPlaced: obs.pods.filter((p) => dropped.has(p.ordinal) && !p.deleting && (p.nodeName ?? null) !== null).map((p) => p.name).sort(),
    staleDataPresent: obs.pvcs.some((p) => !p.terminating && stale.has(p.uid)),
    backup: null,
    statefulSetPresent: obs.sts !== null,
    podsLeft: obs.pods.length,
    pvcsLeft: obs.pvcs.length,
    pvcsToDelete: obs.pvcs.filter((p) => !p.terminating).map((p) => p.ordinal).sort((a, b) => a - b),
    nowMs,
    nowIso,
  };
}

/** When the Available condition turned False; only an outage of a cluster that ran (a cluster ID recorded) counts. */
function unavailableSince(prev: EtcdClusterStatus): string | null {
  const available = prev.conditions?.find((c) => c.type === 'Available');
  return available?.status === 'False' && (prev.clusterID ?? '') !== '' ? available.lastTransitionTime : null;
}

/** The newest backup recorded in status.backup (spec.backup's destination), fetched and checked whole. */
async function newestBackup(d: RecoveryStepDeps, cluster: EtcdCluster, nowMs: number): Promise<BackupCandidate | null> {
  const s3 = cluster.spec.backup?.s3;
  const location = cluster.status?.backup?.lastLocation;
  if (s3 === undefined || location === undefined) return null;
  if (d.backups === undefined) return { problem: 'this operator runs without backup support' };
  const deps = { ...d.backups, kube: d.kube };
  const loc = await s3LocationFor(d.kube, cluster.metadata.namespace, s3);
  if ('reason' in loc) return { problem: `${loc.reason}: ${loc.message}` };
  // The key is the location less the store's own prefix (s3://bucket/).
  const store = storeFor(deps, loc);
  const base = store.locationOf('');
  store.destroy?.();
  if (!location.startsWith(base)) return { problem: `status.backup.lastLocation ${location} is not in spec.backup.s3 (${base})` };
  const r = await verifyBackupObject(deps, cluster.metadata.namespace, { s3, key: location.slice(base.length) }, nowMs);
  return 'reason' in r ? { problem: `${r.reason}: ${r.message}` } : { verified: r.status };
}

async function applyConfigMap(kube: KubeApi, ref: ClusterRef, r: RecoveryStatus, peerTLS: boolean, flag: boolean): Promise<void> {
  const s = r.survivor;
  if (s === undefined) return;
  // The survivor alone: what the member list is once it forced the new cluster (a member joining later
  // gets the list from the ordinary planner).
  await kube.apply(buildBootstrapConfigMap(ref, 'existing', [{ name: s.name, peerURL: peerURL(ref, s.ordinal, peerTLS) }], flag ? s.name : null));
}

async function act(d: RecoveryStepDeps, ref: ClusterRef, r: RecoveryStatus | null, a: RecoveryAction, peerTLS: boolean): Promise<void> {
  const ns = ref.namespace;
  switch (a.kind) {
    case 'none':
    case 'refuse':
    case 'wait':
    case 'bootstrap-from-backup': // a status write, made with status.recovery
      return;
    case 'set-flag':
    case 'clear-flag':
      if (r !== null) await applyConfigMap(d.kube, ref, r, peerTLS, a.kind === 'set-flag');
      return;
    case 'restart-survivor':
      await d.kube.deletePod(ns, a.name);
      return;
    case 'free-survivor-node':
      for (const name of a.pods) await d.kube.deletePod(ns, name);
      return;
    case 'remove-stale-data':
      for (const o of a.ordinals) {
        await d.kube.deletePvc(ns, pvcName(ref, o));
        await d.kube.deletePod(ns, memberName(ref, o));
      }
      return;
    case 'stop-members': {
      await d.kube.deleteStatefulSet(ns, statefulSetName(ref));
      // The pods too, without waiting for the garbage collector.
      for (const o of r?.dropped ?? []) await d.kube.deletePod(ns, memberName(ref, o));
      return;
    }
    case 'delete-volumes':
      for (const o of a.ordinals) await d.kube.deletePvc(ns, pvcName(ref, o));
      return;
    default:
      assertNever(a);
  }
}

function assertNever(x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`);
}

/** status.recovery, the conditions, and for a backup recovery's last step the restore it bootstraps from. */
function statusFor(prev: EtcdClusterStatus, next: RecoveryStatus | null, plan: RecoveryPlan, nowIso: string, seen: readonly RecoveryCandidate[], listed: boolean): EtcdClusterStatus {
  const out: EtcdClusterStatus = { ...prev };
  if (next !== null) out.recovery = next;
  // Without a member list the ordinary status is not rewritten: say what this pass saw of each member
  // (no leader; healthy only if it answered as itself with its data), never a stale healthy quorum.
  if (!listed && prev.members !== undefined) {
    out.members = prev.members.map((m) => {
      const c = seen.find((x) => x.name === m.name);
      const answered = c?.status != null && !c.dataLost && c.status.errors.length === 0 && c.status.memberID === c.recordedID;
      return { ...m, isLeader: false, healthy: m.healthy && answered };
    });
  }
  let conds: Condition[] = prev.conditions ?? [];
  const set = (c: Omit<Condition, 'lastTransitionTime'>): void => {
    conds = setCondition(conds, c, nowIso);
  };
  const a = plan.action;
  if (a.kind === 'refuse') {
    set({ type: 'RecoverySucceeded', status: 'False', reason: a.reason, message: a.message });
  } else if (next !== null && recoveryActive(next)) {
    const what = `${next.message ?? next.phase}; what is lost: ${next.loses ?? 'nothing'}`;
    set({ type: 'RecoverySucceeded', status: 'False', reason: next.phase, message: what });
    set({ type: 'Progressing', status: 'True', reason: 'RecoveringQuorum', message: what });
    set({ type: 'Degraded', status: 'True', reason: 'QuorumLost', message: `recovering from quorum loss (${next.source ?? 'Survivor'}): ${what}` });
    // A membership operation cut short by the outage is moot: the recovery rebuilds the membership.
    out.currentOperation = null;
  } else if (next?.phase === 'Done') {
    set({ type: 'RecoverySucceeded', status: 'True', reason: 'Recovered', message: `${next.message ?? ''}; lost: ${next.loses ?? 'nothing'}` });
  }
  if (a.kind === 'bootstrap-from-backup') {
    // The members start anew from the backup: no cluster ID, no members, as before a first bootstrap.
    out.restore = a.backup;
    delete out.clusterID;
    delete out.members;
    delete out.leader;
    out.currentOperation = null;
  }
  out.conditions = conds;
  return out;
}

async function emit(d: RecoveryStepDeps, cluster: EtcdCluster, prev: RecoveryStatus | null, next: RecoveryStatus | null, plan: RecoveryPlan): Promise<void> {
  const a = plan.action;
  const event = (type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> =>
    d.kube.recordEvent(cluster, type, reason, message).catch((err: unknown) => d.log.warn('event not recorded', { reason, error: err instanceof Error ? err.message : String(err) }));
  if (a.kind === 'refuse') return event('Warning', `RecoveryRefused${a.reason}`, a.message);
  if (next === null) return;
  const started = prev?.request !== next.request;
  if (started) await event('Warning', 'QuorumRecoveryStarted', `${next.trigger === 'Policy' ? 'spec.quorumRecovery.policy Automatic' : `annotation ${RECOVER_QUORUM_ANNOTATION}=${next.request}`}: recovering from ${next.source === 'Backup' ? 'the newest backup' : next.survivor?.name ?? 'a survivor'}; what is lost: ${next.loses ?? 'nothing'}`);
  if (next.phase === 'Done') return event('Normal', 'QuorumRecovered', `${next.message ?? ''}`);
  if (a.kind === 'wait' || a.kind === 'none') return;
  if (!started || a.kind !== 'set-flag') await event('Normal', `Recovery${a.kind.split('-').map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')}`, `${next.phase}: ${describe(a)}`);
}

function describe(a: RecoveryAction): string {
  switch (a.kind) {
    case 'set-flag':
      return `naming ${a.name} for --force-new-cluster (ETCD_FORCE_NEW_CLUSTER_FOR)`;
    case 'restart-survivor':
      return `restarting ${a.name} with --force-new-cluster`;
    case 'free-survivor-node':
      return `the survivor's pod cannot be placed: deleting the dropped members' pods ${a.pods.join(', ')}`;
    case 'clear-flag':
      return 'taking --force-new-cluster away again';
    case 'remove-stale-data':
      return `deleting the old data (PVC and pod) of ordinal(s) ${a.ordinals.join(', ')}`;
    case 'stop-members':
      return 'deleting the StatefulSet and its pods';
    case 'delete-volumes':
      return `deleting the PVCs of ordinal(s) ${a.ordinals.join(', ')}`;
    case 'bootstrap-from-backup':
      return `bootstrapping every member from ${a.backup.location}`;
    case 'none':
    case 'wait':
    case 'refuse':
      return a.kind;
    default:
      return assertNever(a);
  }
}
