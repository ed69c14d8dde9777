// One reconcile pass: observe -> plan (pure) -> act (server-side apply children, then at most one
// membership step) -> write status once -> events and metrics. Level-triggered: it never asks which event
// woke it. Bad input is reported (Degraded + Event), never thrown, and never touches the running cluster.
import type { Logger } from '../../node/log.js';
import { setCondition } from '../api/conditions.js';
import { resolveSpec, type ResolvedSpec } from '../api/defaults.js';
import type { Condition, DefragmentationStatus, EtcdCluster, EtcdClusterStatus, MemberStatus, MembershipOperation, RestoreStatus, ScaleUpRetry } from '../api/types.js';
import { validateSpec, type SpecProblem } from '../api/validate.js';
import { clusterVersionOf } from '../api/versions.js';
import { parseQuantity } from '../api/quantity.js';
import { MemberApiError, type MemberApi } from '../members/member-api.js';
import type { GatewayCredentials } from '../members/gateway-member-api.js';
import { authRefusedProblem, operatorCredentials } from './auth-credentials.js';
import type { ClusterMetricsSink, ClusterSnapshot } from '../metrics.js';
import { buildBootstrapConfigMap } from '../plan/bootstrap-configmap.js';
import { parseCron } from '../plan/cron.js';
import type { KubeObject } from '../plan/kube-object.js';
import type { MemberContainerConfig } from '../plan/member-config.js';
import { STORAGE_FINALIZER, hexID, memberName, ordinalOfName, pvcName, refOf, selectorString, statefulSetName, type ClusterRef } from '../plan/names.js';
import type { ObservedCluster } from '../plan/observed.js';
import { buildPodDisruptionBudget } from '../plan/pdb.js';
import { assertNever, planNextStep, type Action, type Plan } from '../plan/planner.js';
import { quorum, quorumMargin } from '../plan/quorum.js';
import { buildClientService, buildPeerService } from '../plan/services.js';
import { buildStatefulSet } from '../plan/statefulset.js';
import { buildCertManagerCertificates, effectiveTls } from '../plan/tls.js';
import { tlsProblems } from '../api/tls.js';
import { certificateStep } from './certificate-step.js';
import { runScheduledBackup, type BackupOutcome, type BackupRunnerDeps } from './backup-runner.js';
import { retireRestoreSource, verifyRestoreSource } from './restore-gate.js';
import { quorumRecoveryStep } from './quorum-recovery-step.js';
import { recoveryPolicyProblems, type RecoveryAction } from '../plan/quorum-recovery.js';
import type { PvcBackupAccess } from './pvc-backup-runner.js';
import { DEFAULT_OPERATOR_IMAGE } from '../plan/backup-pod.js';
import { addRestoreInitContainer, restoreObjectOf, type RestoreContainerConfig } from '../plan/restore.js';
import { DEFAULT_IMAGE_REPOSITORY, TSETCD_RELEASE } from '../api/defaults.js';
import type { Clock } from './clock.js';
import { ConflictError, type KubeApi } from './kube-api.js';
import { observe, sameMemberID, voterEndpoints, type EndpointMode, type Observation } from './observe.js';

export interface ReconcilerDeps {
  kube: KubeApi;
  members: MemberApi;
  clock: Clock;
  log: Logger;
  metrics: ClusterMetricsSink;
  memberConfig: MemberContainerConfig;
  learnerTimeoutMs: number;
  endpointMode: EndpointMode;
  /**
   * The member API for a cluster whose client traffic uses TLS (the client Secret's data: ca.crt,
   * tls.crt, tls.key) or whose auth is on (spec.auth's user), or both. Absent: `members` as is.
   */
  memberApiFor?: (tls: Record<string, Buffer> | null, credentials: GatewayCredentials | null) => MemberApi;
  /** Reads a member's etcd_server_heartbeat_send_failures_total; null when it cannot. */
  scrapeHeartbeatFailures?: (metricsURL: string) => Promise<number | null>;
  /** Requeue delay while something is in flight. */
  activeRequeueMs?: number;
  /** Scheduled backups (spec.backup) and restores (spec.bootstrap.fromBackup); absent: neither. */
  backups?: Omit<BackupRunnerDeps, 'kube' | 'log'>;
  /** The image and command of the restore init container; default: the operator's own image. */
  restoreContainer?: RestoreContainerConfig;
}

export interface ReconcileResult {
  /** null: nothing pending, the periodic resync is enough. */
  requeueAfterMs: number | null;
  /** gone: the cluster is (being) deleted; finalizer: this pass only added or removed the finalizer. */
  action: Action['kind'] | 'gone' | 'finalizer' | `recovery:${RecoveryAction['kind']}`;
}

/** Wake up for the next certificate renewal if nothing sooner is due. */
function withRenewal(requeueAfterMs: number | null, renewAtMs: number | null, nowMs: number): number | null {
  if (renewAtMs === null) return requeueAfterMs;
  const untilRenewal = Math.max(1000, Math.ceil(renewAtMs - nowMs));
  return requeueAfterMs === null ? untilRenewal : Math.min(requeueAfterMs, untilRenewal);
}

/** The operator image (it holds the backup client and tsetcd's restore code) runs the restore init container. */
export const DEFAULT_RESTORE_CONTAINER: RestoreContainerConfig = DEFAULT_OPERATOR_IMAGE;

export class Reconciler {
  constructor(private readonly d: ReconcilerDeps) {}

  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const d = this.d;
    const cluster = await d.kube.getCluster(namespace, name);
    if (cluster === null) {
      d.metrics.forgetCluster(namespace, name);
      return { requeueAfterMs: null, action: 'gone' };
    }
    const ref = refOf(cluster);
    const log = d.log.child('reconcile', { cluster: `${namespace}/${name}` });
    let spec = resolveSpec(cluster.spec ?? {});
    let runningPlain = false;
    if (cluster.metadata.deletionTimestamp !== undefined) return this.finalize(cluster, spec);
    // The finalizer is there exactly when deleting the cluster must delete its volumes.
    const wantFinalizer = spec.storage.retentionPolicy === 'Delete';
    if ((cluster.metadata.finalizers ?? []).includes(STORAGE_FINALIZER) !== wantFinalizer) {
      await d.kube.setFinalizer(cluster, STORAGE_FINALIZER, wantFinalizer);
      return { requeueAfterMs: 0, action: 'finalizer' };
    }
    const nowMs = d.clock.nowMs();
    const nowIso = new Date(nowMs).toISOString();

    // TLS: the mode in effect (an unset mode keeps a cluster that runs plain HTTP plain), then the
    // certificates (issued or renewed before anything talks to the members).
    if (spec.tls.mode === null) runningPlain = (await d.kube.getStatefulSet(namespace, statefulSetName(ref)))?.peerTLS === false;
    spec = effectiveTls(ref, spec, runningPlain);
    const certs = await certificateStep(d.kube, ref, spec, nowMs, !spec.paused && tlsProblems(cluster.spec?.tls).length === 0);
    if (certs.issued.length > 0) {
      const what = certs.issued.map((r) => `${r.secretName} (${r.reason})`).join(', ');
      log.info('issued certificates', { what });
      await d.kube.recordEvent(cluster, 'Normal', 'CertificatesIssued', `issued ${what}`).catch(() => {});
    }
    const tlsProblemsFound = certs.problems;
    const auth = await operatorCredentials(d.kube, cluster);
    let api = d.members;
    if ((certs.operatorSecret !== null || auth.credentials !== null) && d.memberApiFor !== undefined) api = d.memberApiFor(certs.operatorSecret, auth.credentials);
    const obs = await observe(d.kube, api, cluster, ref, spec, d.endpointMode);
    const status = cluster.status ?? {};
    const restore = await this.restore(cluster, obs, nowMs);
    const authProblems = auth.problem !== null ? [auth.problem] : obs.authError !== null ? [authRefusedProblem(cluster, obs.authError)] : [];
    const problems = [...tlsProblemsFound, ...authProblems, ...(restore.problem ? [restore.problem] : []), ...(await this.problems(cluster, spec, obs))];
    // Quorum-loss recovery (opt-in): while one is under way, it owns the pass.
    if (problems.length === 0 && !spec.paused) {
      const recovery = await quorumRecoveryStep({ kube: d.kube, api, log, endpointMode: d.endpointMode, ...(d.backups !== undefined ? { backups: d.backups } : {}) }, cluster, ref, spec, obs, nowMs).catch((err: unknown) => {
        if (err instanceof ConflictError) return { action: 'none' as const, requeueAfterMs: 200 };
        throw err;
      });
      if (recovery !== null) return { requeueAfterMs: recovery.requeueAfterMs, action: `recovery:${recovery.action}` };
    }
    const observed: ObservedCluster = {
      ref,
      generation: cluster.metadata.generation ?? 0,
      desiredReplicas: spec.replicas,
      peerTLS: spec.tls.peerSecretName !== null,
      retentionPolicy: spec.storage.retentionPolicy,
      paused: spec.paused,
      specInvalid: problems.length > 0,
      statefulSetReplicas: obs.sts?.replicas ?? null,
      bootstrapped: (status.clusterID ?? '') !== '' || (obs.clusterID !== null && obs.sts !== null),
      members: obs.members?.map((m) => m.observed) ?? null,
      pods: obs.pods.map((p) => ({
        ordinal: p.ordinal,
        ready: p.ready,
        upToDate: obs.sts?.updateRevision == null || p.revision == null || p.revision === obs.sts.updateRevision,
        deleting: p.deleting,
        deletionMs: p.deletionTime ? Date.parse(p.deletionTime) : null,
      })),
      recordedOrdinals: (status.members ?? []).flatMap((m) => {
        const ord = ordinalOfName(ref, m.name);
        return ord === null ? [] : [ord];
      }),
      pvcs: obs.pvcs.map((p) => ({ ordinal: p.ordinal, terminating: p.terminating })),
      operation: status.currentOperation ?? null,
      scaleUpBlockedGeneration: status.scaleUpBlockedGeneration ?? null,
      scaleUpRetry: status.scaleUpRetry ?? null,
      nowMs,
      nowIso,
      learnerTimeoutMs: d.learnerTimeoutMs,
      desiredVersion: spec.version,
      defragmentation:
        spec.defragmentation.schedule === null
          ? null
          : {
              schedule: spec.defragmentation.schedule,
              minFreePercent: spec.defragmentation.minFreePercent,
              minDbSizeBytes: parseQuantity(spec.defragmentation.minDbSize) ?? 0,
              timeoutMs: spec.defragmentation.timeoutSeconds * 1000,
            },
      defragStatus: status.defragmentation ?? {},
    };
    const plan = planNextStep(observed);
    log.debug('planned', { action: plan.action, statefulSetReplicas: plan.statefulSetReplicas });

    // Act. A bad spec or a paused cluster: observe and report only.
    let actionError: string | null = null;
    /** Whether the failure was applying the children (not the membership step). */
    let applyFailed = false;
    let expanded: string[] = [];
    let expansionError: string | null = null;
    let defragged: DefragOutcome | null = null;
    const mutate = problems.length === 0 && !spec.paused;
    if (mutate) {
      try {
        applyFailed = true;
        for (const obj of this.children(ref, spec, plan, obs, restore.status === null ? null : { cluster, verified: restore.status })) await d.kube.apply(obj);
        applyFailed = false;
        ({ expanded, error: expansionError } = await this.expandVolumes(ref, spec, obs));
        defragged = await this.perform(plan.action, ref, obs, api);
      } catch (err: unknown) {
        // Write status below anyway; the queue backs off and retries.
        actionError = err instanceof Error ? err.message : String(err);
        log.warn(applyFailed ? 'applying children failed' : 'membership step failed', { action: plan.action.kind, error: actionError });
      }
    }
    const backup = await this.backup(cluster, spec.paused, obs, api, nowMs, log, { tlsSecretName: certs.operatorSecret !== null ? spec.tls.operatorSecretName : null, authSecretName: auth.credentials !== null ? (cluster.spec.auth?.secretName ?? null) : null });
    const acted = mutate && actionError === null;
    // Each step that changes something, in the log too (Events are rate-limited and expire).
    if (acted && plan.action.kind !== 'none' && plan.action.kind !== 'wait' && plan.action.kind !== 'refuse') {
      log.info('acted', { action: describeAction(plan.action, plan.operation), phase: plan.operation?.phase });
    }
    const operation = acted ? plan.operation : (status.currentOperation ?? null);

    // Status, once.
    const failure = actionError === null ? null : applyFailed ? { reason: 'ApplyFailed', message: `applying the cluster's objects: ${actionError}` } : { reason: plan.action.kind === 'defragment' ? 'DefragmentFailed' : 'MembershipStepFailed', message: `${describeAction(plan.action)}: ${actionError}`, eventReason: plan.action.kind === 'defragment' ? 'DefragmentFailed' : `${eventReason(plan.action)}Failed` };
    // A failed Defragment call still counts its attempt (the intent was recorded before it).
    const defrag = acted ? plan.defrag : mutate && !applyFailed && plan.defragOnFailure !== undefined ? plan.defragOnFailure : (status.defragmentation ?? {});
    const next = this.status(cluster, spec, obs, plan, problems, operation, acted ? { generation: plan.scaleUpBlockedGeneration, retry: plan.scaleUpRetry } : { generation: status.scaleUpBlockedGeneration ?? null, retry: status.scaleUpRetry ?? null }, failure, expansionError, nowIso, defrag, defragged);
    if (backup !== null) {
      next.backup = backup.status;
      if (backup.condition !== null) next.conditions = setCondition(next.conditions, backup.condition, nowIso);
    } else if (status.backup !== undefined) next.backup = status.backup;
    if (restore.status !== null) next.restore = restore.status;
    await this.events(cluster, plan, problems, acted, failure, status, next, defragged);
    if (backup?.event) await d.kube.recordEvent(cluster, backup.event.type, backup.event.reason, backup.event.message).catch(() => {});
    if (backup?.result) d.metrics.backupFinished?.(ref.namespace, ref.name, backup.result.succeeded, backup.result.reason, nowMs / 1000, backup.result.record?.sizeBytes ?? null);
    if (defragged !== null) d.metrics.memberDefragmented(ref.namespace, ref.name, defragged.memberName, defragged.reclaimedBytes, nowMs / 1000);
    if (acted && plan.action.kind === 'finish-defrag') d.metrics.defragmentationRun(ref.namespace, ref.name, plan.action.result);
    if (expansionError !== null && cluster.status?.conditions?.find((c) => c.type === 'Degraded')?.reason !== 'VolumeExpansionFailed') {
      await d.kube.recordEvent(cluster, 'Warning', 'VolumeExpansionFailed', expansionError).catch(() => {});
    }
    if (expanded.length > 0) {
      await d.kube.recordEvent(cluster, 'Normal', 'VolumeExpansionRequested', `asked ${expanded.join(', ')} to grow to ${spec.storage.size}`).catch(() => {});
    }
    await this.observeMetrics(ref, obs, operation, nowMs);
    if (acted && plan.action.kind === 'finish-operation' && status.currentOperation) {
      const op = status.currentOperation;
      d.metrics.membershipOperation(ref.namespace, ref.name, op.type, plan.action.result, Math.max(0, (nowMs - Date.parse(op.startTime)) / 1000));
    }
    try {
      await d.kube.updateStatus(cluster, next);
    } catch (err: unknown) {
      if (err instanceof ConflictError) return { requeueAfterMs: 200, action: plan.action.kind };
      throw err;
    }
    await backup?.afterStatus?.().catch((err: unknown) => log.warn('backup pod cleanup failed', { error: err instanceof Error ? err.message : String(err) }));
    if (actionError !== null) throw new ReconcileError(actionError);
    const requeueAfterMs = withRenewal(this.requeueFor(plan, operation), certs.renewAtMs, nowMs);
    // A backup pod at work brings the pass back sooner.
    const backupMs = backup?.requeueAfterMs ?? null;
    return { requeueAfterMs: backupMs !== null && (requeueAfterMs === null || backupMs < requeueAfterMs) ? backupMs : requeueAfterMs, action: plan.action.kind };
  }

  /**
   * spec.bootstrap.fromBackup: verified once, before the first member starts (restore-gate.ts); the
   * recorded result stands from then on. status null: not restoring (or not yet verified).
   */
  private async restore(cluster: EtcdCluster, obs: Observation, nowMs: number): Promise<{ status: RestoreStatus | null; problem?: SpecProblem }> {
    // Recorded: the backup the members were seeded from (fromBackup, or a quorum recovery from a backup).
    const recorded = cluster.status?.restore ?? null;
    if (recorded !== null) {
      // A claim's restore source pod goes once every member runs (it served their init containers).
      const replicas = cluster.spec.replicas ?? 0;
      if (recorded.pvc !== undefined && obs.pods.length >= replicas && obs.pods.every((p) => p.ready)) await retireRestoreSource(this.d.kube, cluster);
      return { status: recorded };
    }
    if (cluster.spec.bootstrap?.fromBackup === undefined) return { status: null };
    // Already running (the field was added later): a running cluster is never restored over.
    if (obs.sts !== null || (cluster.status?.clusterID ?? '') !== '') return { status: null };
    if (this.d.backups === undefined) return { status: null, problem: { field: 'spec.bootstrap.fromBackup', reason: 'RestoreRefused', message: 'this operator runs without backup support' } };
    const r = await verifyRestoreSource({ ...this.d.backups, kube: this.d.kube, ...(this.d.restoreContainer !== undefined ? { operatorImage: this.d.restoreContainer } : {}) }, cluster, nowMs);
    return 'problem' in r ? { status: null, problem: r.problem } : { status: r.status };
  }

  /** A scheduled backup when one is due (backup-runner.ts); never throws. */
  private async backup(cluster: EtcdCluster, paused: boolean, obs: Observation, api: MemberApi, nowMs: number, log: Logger, access: Omit<PvcBackupAccess, 'endpoints'>): Promise<BackupOutcome | null> {
    if (this.d.backups === undefined || paused) return null;
    const endpoints = voterEndpoints(obs);
    const pvc = { deps: { kube: this.d.kube, endpointMode: this.d.endpointMode, ...(this.d.restoreContainer !== undefined ? { operatorImage: this.d.restoreContainer } : {}) }, access };
    try {
      return await runScheduledBackup({ ...this.d.backups, kube: this.d.kube, log }, cluster, api, endpoints, nowMs, pvc);
    } catch (err: unknown) {
      log.warn('scheduled backup failed unexpectedly', { error: err instanceof Error ? err.message : String(err) });
      return null;
    }
  }

  /**
   * The EtcdCluster is being deleted and carries our finalizer (retentionPolicy Delete): stop the members,
   * delete every PVC of the cluster, then let the deletion finish. Each step is idempotent, so a crash
   * anywhere repeats it harmlessly. (With Retain there is no finalizer: the volumes simply stay.)
   */
  private async finalize(cluster: EtcdCluster, spec: ResolvedSpec): Promise<ReconcileResult> {
    const d = this.d;
    const ref = refOf(cluster);
    if (!(cluster.metadata.finalizers ?? []).includes(STORAGE_FINALIZER)) return { requeueAfterMs: null, action: 'gone' };
    if (spec.storage.retentionPolicy === 'Delete') {
      // A claim in use goes only once its pod does: stop the members first.
      await d.kube.deleteStatefulSet(ref.namespace, statefulSetName(ref));
      const pvcs = (await d.kube.listPvcs(ref.namespace, selectorString(ref))).filter((p) => !p.terminating);
      for (const p of pvcs) await d.kube.deletePvc(ref.namespace, p.name);
      if (pvcs.length > 0) {
        await d.kube.recordEvent(cluster, 'Normal', 'VolumesDeleted', `storage.retentionPolicy is Delete: deleted ${pvcs.map((p) => p.name).join(', ')}`).catch(() => {});
      }
    }
    await d.kube.setFinalizer(cluster, STORAGE_FINALIZER, false);
    d.metrics.forgetCluster(ref.namespace, ref.name);
    return { requeueAfterMs: null, action: 'gone' };
  }

  private requeueFor(plan: Plan, operation: MembershipOperation | null): number | null {
    const active = this.d.activeRequeueMs ?? 2000;
    switch (plan.action.kind) {
      case 'none':
        return operation !== null ? active : null;
      case 'refuse':
        return active * 5;
      case 'wait':
        return plan.action.reason === 'Paused' ? null : active;
      case 'bootstrap':
      case 'start-operation':
      case 'member-add-learner':
      case 'promote':
      case 'move-leader':
      case 'member-remove':
      case 'set-replicas':
      case 'delete-pvc':
      case 'recreate-pod':
      case 'finish-operation':
      case 'record-defrag':
      case 'defragment':
      case 'finish-defrag':
        return active;
      default:
        return assertNever(plan.action);
    }
  }

  private async problems(cluster: EtcdCluster, spec: ResolvedSpec, obs: Observation): Promise<SpecProblem[]> {
    const out = validateSpec(cluster.spec ?? {}, spec, obs.sts?.storageSize ?? null);
    if (spec.defragmentation.schedule !== null) {
      const cron = parseCron(spec.defragmentation.schedule);
      if (!cron.ok) {
        out.push({ field: 'spec.defragmentation.schedule', reason: 'InvalidSchedule', message: `defragmentation.schedule "${spec.defragmentation.schedule}": ${cron.error}` });
      }
    }
    for (const message of recoveryPolicyProblems(cluster.spec?.quorumRecovery)) out.push({ field: 'spec.quorumRecovery', reason: 'InvalidRecoveryPolicy', message });
    if (obs.sts !== null && obs.sts.peerTLS !== null && obs.sts.peerTLS !== (spec.tls.peerSecretName !== null)) {
      out.push({
        field: 'spec.tls',
        reason: 'TLSChangeUnsupported',
        message: `the members run peer ${obs.sts.peerTLS ? 'TLS' : 'plain HTTP'}; switching a running cluster ${obs.sts.peerTLS ? 'to plain HTTP' : 'to TLS'} changes every peer URL and is not automated: set spec.tls back (mode ${obs.sts.peerTLS ? 'operator, secrets or cert-manager' : 'disabled'})`,
      });
    }
    if (obs.sts !== null) {
      if (spec.storage.storageClassName !== null && obs.sts.storageClassName !== null && spec.storage.storageClassName !== obs.sts.storageClassName) {
        out.push({
          field: 'spec.storage.storageClassName',
          reason: 'StorageClassImmutable',
          message: `storage.storageClassName cannot change on an existing cluster (it is ${obs.sts.storageClassName}); set it back`,
        });
      }
    } else if (spec.storage.storageClassName !== null) {
      const exists = await this.d.kube.storageClassExists(spec.storage.storageClassName);
      if (exists === false) {
        out.push({
          field: 'spec.storage.storageClassName',
          reason: 'StorageClassNotFound',
          message: `StorageClass "${spec.storage.storageClassName}" does not exist; create it or pick another (kubectl get storageclass)`,
        });
      }
    }
    return out;
  }

  private children(ref: ClusterRef, spec: ResolvedSpec, plan: Plan, obs: Observation, restore: { cluster: EtcdCluster; verified: RestoreStatus } | null = null): KubeObject[] {
    const out: KubeObject[] = [buildPeerService(ref), buildClientService(ref), ...buildCertManagerCertificates(ref, spec)];
    if (plan.initialCluster.length > 0) out.push(buildBootstrapConfigMap(ref, plan.initialClusterState, plan.initialCluster));
    // A refused version change keeps the image the members run (a pod restarted meanwhile must not get the new one).
    const held = plan.holdImage && obs.sts?.image != null ? { ...spec, image: obs.sts.image } : spec;
    const sts = buildStatefulSet(ref, held, plan.statefulSetReplicas, this.d.memberConfig);
    const from = restore === null ? null : restoreObjectOf(restore.cluster, restore.verified);
    if (restore !== null && from !== null) addRestoreInitContainer(sts, from, restore.verified, this.d.restoreContainer ?? DEFAULT_RESTORE_CONTAINER);
    if (obs.sts !== null && obs.sts.volumeClaimTemplates.length > 0) {
      // volumeClaimTemplates are immutable: re-send what the StatefulSet has.
      (sts.spec as Record<string, unknown>).volumeClaimTemplates = obs.sts.volumeClaimTemplates;
    }
    // A missing StatefulSet is created only by a plan that sizes it (bootstrap, set-replicas): one
    // created at 0 while the plan waits would start no pod, and no member would answer again.
    if (obs.sts !== null || plan.action.kind === 'bootstrap' || plan.action.kind === 'set-replicas') out.push(sts);
    const voters = obs.members === null ? spec.replicas : obs.members.filter((m) => !m.info.isLearner).length;
    out.push(buildPodDisruptionBudget(ref, voters));
    return out;
  }

  /**
   * Grows PVCs smaller than spec.storage.size (the StatefulSet's template is immutable, so members keep
   * the size they were created with until their claim is expanded). Returns the PVCs asked to grow.
   */
  private async expandVolumes(ref: ClusterRef, spec: ResolvedSpec, obs: Observation): Promise<{ expanded: string[]; error: string | null }> {
    const want = parseQuantity(spec.storage.size);
    const out: string[] = [];
    if (want === null || obs.sts === null) return { expanded: out, error: null };
    for (const p of obs.pvcs) {
      if (p.terminating || p.requestedStorage === null) continue;
      const have = parseQuantity(p.requestedStorage);
      if (have === null || have >= want) continue;
      try {
        await this.d.kube.resizePvc(ref.namespace, p.name, spec.storage.size);
      } catch (err: unknown) {
        const why = err instanceof Error ? err.message : String(err);
        return {
          expanded: out,
          error: `cannot grow ${p.name} from ${p.requestedStorage} to ${spec.storage.size}: ${why}; use a StorageClass with allowVolumeExpansion, or set storage.size back to ${p.requestedStorage}`,
        };
      }
      out.push(p.name);
    }
    return { expanded: out, error: null };
  }

  /** The one membership (or maintenance) step of this pass; for a Defragment, what it gave back. */
  private async perform(action: Action, ref: ClusterRef, obs: Observation, api: MemberApi): Promise<DefragOutcome | null> {
    const d = this.d;
    const members = obs.members ?? [];
    const healthyEndpoints = (exclude?: string): string[] =>
      members
        .filter((m) => m.observed.healthy && m.endpoint !== null && m.info.id !== exclude && !m.info.isLearner)
        .sort((a, b) => Number(b.observed.isLeader) - Number(a.observed.isLeader))
        .map((m) => m.endpoint as string);
    switch (action.kind) {
      case 'none':
      case 'wait':
      case 'refuse':
      case 'bootstrap':
      case 'start-operation':
      case 'set-replicas':
      case 'finish-operation':
      case 'record-defrag':
      case 'finish-defrag':
        return null;
      case 'defragment': {
        const m = members.find((x) => x.info.id === action.memberID);
        if (m?.endpoint == null) throw new MemberApiError('Unavailable', `${action.memberName} has no endpoint`);
        const before = m.status?.dbSize ?? null;
        const t0 = d.clock.nowMs();
        await api.defragment(m.endpoint, action.timeoutMs);
        const tookMs = d.clock.nowMs() - t0;
        const after = await api.status(m.endpoint).catch(() => null);
        return {
          memberID: action.memberID,
          memberName: action.memberName,
          dbSizeBefore: before,
          dbSizeAfter: after?.dbSize ?? null,
          dbSizeInUseAfter: after?.dbSizeInUse ?? null,
          reclaimedBytes: before !== null && after !== null ? Math.max(0, before - after.dbSize) : 0,
          tookMs,
        };
      }
      case 'member-add-learner':
        await api.addLearner(healthyEndpoints(), action.peerURL);
        return null;
      case 'promote':
        await api.promote(healthyEndpoints(), action.memberID);
        return null;
      case 'move-leader': {
        const leader = members.find((m) => m.info.id === action.fromID);
        if (leader?.endpoint == null) throw new MemberApiError('Unavailable', 'the leader has no endpoint');
        await api.moveLeader(leader.endpoint, action.toID);
        return null;
      }
      case 'member-remove':
        await api.remove(healthyEndpoints(action.memberID), action.memberID);
        return null;
      case 'delete-pvc':
        await d.kube.deletePvc(ref.namespace, pvcName(ref, action.ordinal));
        return null;
      case 'recreate-pod':
        if (action.deletePvc) await d.kube.deletePvc(ref.namespace, pvcName(ref, action.ordinal));
        await d.kube.deletePod(ref.namespace, memberName(ref, action.ordinal));
        return null;
      default:
        return assertNever(action);
    }
  }

  private status(
    cluster: EtcdCluster,
    spec: ResolvedSpec,
    obs: Observation,
    plan: Plan,
    problems: SpecProblem[],
    operation: MembershipOperation | null,
    blocked: { generation: number | null; retry: ScaleUpRetry | null },
    failure: Failure | null,
    expansionError: string | null,
    nowIso: string,
    defrag: DefragmentationStatus,
    defragged: DefragOutcome | null,
  ): EtcdClusterStatus {
    const ref = refOf(cluster);
    const prev = cluster.status ?? {};
    const gen = cluster.metadata.generation ?? 0;
    const members: MemberStatus[] | undefined = obs.members?.map((m) => {
      const pvc = m.ordinal === null ? undefined : obs.pvcs.find((p) => p.ordinal === m.ordinal && !p.terminating);
      const before = prev.members?.find((x) => sameMemberID(x.id, m.info.id));
      const s: MemberStatus = {
        name: m.info.name || (m.ordinal !== null ? memberName(ref, m.ordinal) : ''),
        id: hexID(m.info.id),
        peerURL: m.info.peerURLs[0] ?? '',
        isLearner: m.info.isLearner,
        isLeader: m.observed.isLeader,
        healthy: m.observed.healthy,
      };
      if (m.status !== null) {
        s.raftIndex = m.status.raftIndex;
        s.dbSize = m.status.dbSize;
        if (m.status.dbSizeInUse !== null) s.dbSizeInUse = m.status.dbSizeInUse;
      }
      if (defragged !== null && defragged.memberID === m.info.id) {
        s.lastDefragTime = nowIso;
        s.lastDefragReclaimedBytes = defragged.reclaimedBytes;
        if (defragged.dbSizeAfter !== null) s.dbSize = defragged.dbSizeAfter;
        if (defragged.dbSizeInUseAfter !== null) s.dbSizeInUse = defragged.dbSizeInUseAfter;
      } else {
        if (before?.lastDefragTime !== undefined) s.lastDefragTime = before.lastDefragTime;
        if (before?.lastDefragReclaimedBytes !== undefined) s.lastDefragReclaimedBytes = before.lastDefragReclaimedBytes;
      }
      // Remember the volume a healthy member runs on; a later change of it means its data is gone.
      const pvcUID = before?.pvcUID ?? (m.observed.healthy && pvc !== undefined ? pvc.uid : undefined);
      if (pvcUID !== undefined) s.pvcUID = pvcUID;
      return s;
    });
    const voters = obs.members?.filter((m) => !m.info.isLearner) ?? [];
    const healthyVoters = voters.filter((m) => m.observed.healthy).length;
    const leader = obs.members?.find((m) => m.observed.isLeader);
    const quorate = leader !== undefined && healthyVoters >= quorum(voters.length);
    // The client Service routes only to ready pods: without one, clients reach nothing.
    const routable = obs.pods.some((p) => p.ready && !p.deleting && voters.some((v) => v.ordinal === p.ordinal && v.observed.healthy));
    const available = quorate && routable;

    let conds: Condition[] = prev.conditions ?? [];
    conds = setCondition(
      conds,
      available
        ? { type: 'Available', status: 'True', reason: 'QuorumHealthy', message: `${healthyVoters} of ${voters.length} voters healthy, leader ${leader?.info.name ?? ''}`, observedGeneration: gen }
        : {
            type: 'Available',
            status: 'False',
            reason: obs.members === null ? (obs.sts === null ? 'Bootstrapping' : unreachableReason(obs)) : leader === undefined ? 'NoLeader' : !quorate ? 'NoQuorum' : 'NoReadyEndpoint',
            message:
              obs.members === null
                ? (obs.memberListError ?? 'no member answered')
                : quorate
                  ? `${healthyVoters} of ${voters.length} voters healthy, but no member pod is ready yet: the client Service routes nowhere`
                  : `${healthyVoters} of ${voters.length} voters healthy`,
            observedGeneration: gen,
          },
      nowIso,
    );
    const progressing =
      operation !== null
        ? { reason: operation.type, message: `${operation.type} ${operation.memberName}: ${operation.phase}${operation.message ? ` (${operation.message})` : ''}` }
        : plan.action.kind === 'bootstrap'
          ? { reason: 'Bootstrapping', message: `creating ${plan.statefulSetReplicas} members` }
          : plan.action.kind === 'set-replicas' || plan.action.kind === 'recreate-pod' || plan.action.kind === 'move-leader'
            ? { reason: 'Reconciling', message: describeAction(plan.action) }
            : plan.action.kind === 'wait' && plan.action.reason !== 'Paused'
              ? { reason: plan.action.reason, message: plan.action.message }
              : defrag.run != null
                ? { reason: 'Defragmenting', message: `defragmentation run of ${defrag.run.scheduleTime}: ${defrag.run.done.length} member(s) done${defrag.run.current ? `, ${defrag.run.current.memberName} next` : ''}` }
                : null;
    conds = setCondition(
      conds,
      progressing
        ? { type: 'Progressing', status: 'True', reason: progressing.reason, message: progressing.message, observedGeneration: gen }
        : { type: 'Progressing', status: 'False', reason: spec.paused ? 'Paused' : 'Stable', message: spec.paused ? 'spec.paused is true' : 'no change in flight', observedGeneration: gen },
      nowIso,
    );
    const failedOp = plan.action.kind === 'finish-operation' && plan.action.result === 'Failed' ? (prev.currentOperation ?? null) : null;
    const degraded = degradedReason(obs, plan, problems, failure, failedOp, (prev.clusterID ?? '') !== '') ?? (expansionError !== null ? { reason: 'VolumeExpansionFailed', message: expansionError } : null);
    conds = setCondition(
      conds,
      degraded
        ? { type: 'Degraded', status: 'True', reason: degraded.reason, message: degraded.message, observedGeneration: gen }
        : { type: 'Degraded', status: 'False', reason: 'AsExpected', message: '', observedGeneration: gen },
      nowIso,
    );
    const out: EtcdClusterStatus = {
      observedGeneration: gen,
      replicas: obs.members?.length ?? obs.sts?.replicas ?? 0,
      readyReplicas: obs.pods.filter((p) => p.ready).length,
      selector: selectorString(ref),
      conditions: conds,
      currentOperation: operation,
      available: available ? 'True' : 'False',
    };
    if (prev.recovery !== undefined) out.recovery = prev.recovery;
    if (members !== undefined) out.members = members;
    else if (prev.members !== undefined) out.members = prev.members;
    const leaderName = leader ? leader.info.name || (leader.ordinal !== null ? memberName(ref, leader.ordinal) : leader.info.id) : undefined;
    if (leaderName !== undefined) out.leader = leaderName;
    else if (obs.members === null && prev.leader !== undefined) out.leader = '';
    const clusterID = obs.clusterID ?? prev.clusterID;
    if (clusterID !== undefined && clusterID !== null && clusterID !== '0') out.clusterID = clusterID;
    if (blocked.generation !== null) out.scaleUpBlockedGeneration = blocked.generation;
    if (blocked.retry !== null) out.scaleUpRetry = blocked.retry;
    if (Object.keys(defrag).length > 0) out.defragmentation = defrag;
    const clusterVersion = obs.members === null ? null : clusterVersionOf(obs.members.flatMap((m) => (m.observed.version === null ? [] : [m.observed.version])));
    if (clusterVersion !== null) out.clusterVersion = clusterVersion;
    else if (prev.clusterVersion !== undefined) out.clusterVersion = prev.clusterVersion;
    return out;
  }

  private async events(
    cluster: EtcdCluster,
    plan: Plan,
    problems: SpecProblem[],
    acted: boolean,
    failure: Failure | null,
    prev: EtcdClusterStatus,
    next: EtcdClusterStatus,
    defragged: DefragOutcome | null,
  ): Promise<void> {
    const emit = async (type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> => {
      try {
        await this.d.kube.recordEvent(cluster, type, reason, message);
      } catch (err: unknown) {
        this.d.log.warn('event not recorded', { reason, error: err instanceof Error ? err.message : String(err) });
      }
    };
    const prevDegraded = prev.conditions?.find((c) => c.type === 'Degraded');
    const nextDegraded = next.conditions?.find((c) => c.type === 'Degraded');
    const degradedChanged = nextDegraded?.status === 'True' && (prevDegraded?.status !== 'True' || prevDegraded.reason !== nextDegraded.reason || prevDegraded.message !== nextDegraded.message);
    if (problems.length > 0) {
      if (degradedChanged) await emit('Warning', problems[0]?.reason ?? 'InvalidSpec', problems.map((p) => `${p.field}: ${p.message}`).join('; '));
      return;
    }
    if (failure !== null) {
      await emit('Warning', failure.eventReason ?? failure.reason, failure.message);
      return;
    }
    if (!acted) return;
    const a = plan.action;
    switch (a.kind) {
      case 'none':
      case 'wait':
        if (degradedChanged && nextDegraded) await emit('Warning', nextDegraded.reason, nextDegraded.message);
        return;
      case 'refuse':
        if (degradedChanged) await emit('Warning', a.reason, a.message);
        return;
      case 'finish-operation': {
        const op = prev.currentOperation;
        await emit(a.result === 'Succeeded' ? 'Normal' : 'Warning', `Operation${a.result}`, `${op?.type ?? 'operation'} ${op?.memberName ?? ''} ${a.result.toLowerCase()}${op?.message && a.result === 'Failed' ? `: ${op.message}` : ''}`);
        return;
      }
      case 'defragment': {
        const r = defragged;
        const sizes = r !== null && r.dbSizeBefore !== null && r.dbSizeAfter !== null ? ` (dbSize ${r.dbSizeBefore} -> ${r.dbSizeAfter})` : '';
        await emit('Normal', eventReason(a), `${a.memberName}: Defragment gave back ${r?.reclaimedBytes ?? 0} bytes${sizes} in ${r?.tookMs ?? 0}ms`);
        return;
      }
      case 'finish-defrag':
        await emit(a.result === 'Failed' ? 'Warning' : 'Normal', eventReason(a), a.message);
        return;
      case 'bootstrap':
      case 'start-operation':
      case 'member-add-learner':
      case 'promote':
      case 'move-leader':
      case 'member-remove':
      case 'set-replicas':
      case 'delete-pvc':
      case 'recreate-pod':
      case 'record-defrag':
        await emit('Normal', eventReason(a), describeAction(a, plan.operation));
        return;
      default:
        assertNever(a);
    }
  }

  private async observeMetrics(ref: ClusterRef, obs: Observation, operation: MembershipOperation | null, nowMs: number): Promise<void> {
    if (obs.members === null) {
      this.d.metrics.observeCluster(ref.namespace, ref.name, {
        voters: 0,
        learners: 0,
        unhealthy: 0,
        hasLeader: false,
        leaderID: null,
        quorumMargin: -1,
        raftIndexLag: [],
        heartbeatFailures: [],
        operation: operation ? { type: operation.type, ageSeconds: (nowMs - Date.parse(operation.startTime)) / 1000 } : null,
      });
      return;
    }
    const ms = obs.members;
    const voters = ms.filter((m) => !m.info.isLearner);
    const leader = ms.find((m) => m.observed.isLeader);
    const leaderIndex = leader?.status?.raftIndex ?? null;
    const snap: ClusterSnapshot = {
      voters: voters.length,
      learners: ms.length - voters.length,
      unhealthy: ms.filter((m) => !m.observed.healthy).length,
      hasLeader: leader !== undefined,
      leaderID: obs.leaderID,
      quorumMargin: quorumMargin(voters.length, voters.filter((m) => m.observed.healthy).length),
      raftIndexLag: leaderIndex === null ? [] : ms.flatMap((m) => (m.status === null ? [] : [{ member: m.info.name || m.info.id, lag: Math.max(0, leaderIndex - m.status.raftIndex) }])),
      heartbeatFailures: await this.scrapeHeartbeats(obs),
      operation: operation ? { type: operation.type, ageSeconds: Math.max(0, (nowMs - Date.parse(operation.startTime)) / 1000) } : null,
    };
    this.d.metrics.observeCluster(ref.namespace, ref.name, snap);
  }

  /** Reads each member's etcd_server_heartbeat_send_failures_total (in parallel; failures are skipped). */
  private async scrapeHeartbeats(obs: Observation): Promise<Array<{ member: string; total: number }>> {
    const scrape = this.d.scrapeHeartbeatFailures;
    if (scrape === undefined || obs.members === null) return [];
    const got = await Promise.all(
      obs.members.map(async (m) => {
        if (m.metricsURL === null) return null;
        const total = await scrape(m.metricsURL).catch(() => null);
        return total === null ? null : { member: m.info.name || m.info.id, total };
      }),
    );
    return got.filter((x): x is { member: string; total: number } => x !== null);
  }
}

/** What one Defragment call gave back. */
interface DefragOutcome {
  memberID: string;
  memberName: string;
  dbSizeBefore: number | null;
  dbSizeAfter: number | null;
  dbSizeInUseAfter: number | null;
  reclaimedBytes: number;
  tookMs: number;
}

interface Failure {
  reason: string;
  message: string;
  eventReason?: string;
}

export class ReconcileError extends Error {
  override readonly name = 'ReconcileError';
}



function degradedReason(
  obs: Observation,
  plan: Plan,
  problems: SpecProblem[],
  failure: Failure | null,
  failedOp: MembershipOperation | null,
  /** The cluster answered once (a cluster ID is recorded): not answering now is not bootstrapping. */
  answeredBefore: boolean,
): { reason: string; message: string } | null {
  if (problems.length > 0) return { reason: problems[0]?.reason ?? 'InvalidSpec', message: problems.map((p) => `${p.field}: ${p.message}`).join('; ') };
  if (failure !== null) return { reason: failure.reason, message: failure.message };
  if (plan.action.kind === 'refuse') return { reason: plan.action.reason, message: plan.action.message };
  if (failedOp !== null) {
    return { reason: 'LearnerTimeout', message: `${failedOp.message ?? 'a learner did not catch up in time'}; rolled back; change the spec to retry` };
  }
  if (plan.operation?.phase === 'RollingBack') return { reason: 'LearnerTimeout', message: plan.operation.message ?? 'rolling back a scale-up' };
  // No (linearizable) member list: no leader or nobody answers. Nothing is changed meanwhile; say so.
  if (obs.members === null && answeredBefore && obs.sts !== null && plan.action.kind !== 'set-replicas') {
    return { reason: unreachableReason(obs), message: `no member list: ${obs.memberListError ?? 'no member answered'}; membership is left as it is` };
  }
  const pull = obs.pods.find((p) => p.waitingReason !== null && /ErrImagePull|ImagePullBackOff|InvalidImageName/.test(p.waitingReason));
  if (pull !== undefined) {
    return { reason: 'ImagePullFailed', message: `pod ${pull.name} cannot pull its image (${pull.waitingReason}${pull.waitingMessage ? `: ${pull.waitingMessage}` : ''}); set spec.image to an image that exists` };
  }
  const unhealthy = obs.members?.filter((m) => !m.observed.healthy && !m.info.isLearner) ?? [];
  if (unhealthy.length > 0) return { reason: 'MemberUnhealthy', message: `unhealthy: ${unhealthy.map((m) => m.info.name || m.info.id).join(', ')}` };
  return null;
}

/** Without a linearizable member list: NoLeader when a member said so, else ClusterUnreachable. */
function unreachableReason(obs: Observation): string {
  return /no leader/i.test(obs.memberListError ?? '') ? 'NoLeader' : 'ClusterUnreachable';
}

function eventReason(a: Action): string {
  switch (a.kind) {
    case 'bootstrap':
      return 'Bootstrapping';
    case 'start-operation':
      return 'OperationStarted';
    case 'member-add-learner':
      return 'MemberAdded';
    case 'promote':
      return 'MemberPromoted';
    case 'move-leader':
      return 'LeaderMoved';
    case 'member-remove':
      return 'MemberRemoved';
    case 'set-replicas':
      return 'ReplicasChanged';
    case 'delete-pvc':
      return 'VolumeDeleted';
    case 'recreate-pod':
      return 'MemberPodRecreated';
    case 'finish-operation':
      return 'OperationFinished';
    case 'record-defrag':
      return 'DefragmentationNext';
    case 'defragment':
      return 'MemberDefragmented';
    case 'finish-defrag':
      return a.result === 'Failed' ? 'DefragmentationFailed' : 'DefragmentationFinished';
    case 'wait':
    case 'refuse':
      return a.reason;
    case 'none':
      return 'Reconciled';
    default:
      return assertNever(a);
  }
}

function describeAction(a: Action, op?: MembershipOperation | null): string {
  switch (a.kind) {
    case 'bootstrap':
      return `bootstrapping a new cluster of ${a.replicas} member(s) (initial-cluster-state=new)`;
    case 'start-operation':
      return op ? `${op.type} of ${op.memberName} recorded: ${op.message ?? ''}` : 'operation recorded';
    case 'member-add-learner':
      return `MemberAdd (learner) ${a.peerURL}`;
    case 'promote':
      return `MemberPromote ${hexID(a.memberID)}`;
    case 'move-leader':
      return `MoveLeader ${hexID(a.fromID)} -> ${hexID(a.toID)}`;
    case 'member-remove':
      return `MemberRemove ${hexID(a.memberID)}`;
    case 'set-replicas':
      return `StatefulSet replicas -> ${a.replicas}`;
    case 'delete-pvc':
      return `deleting the PVC of ordinal ${a.ordinal}`;
    case 'recreate-pod':
      return `recreating the pod of ordinal ${a.ordinal}${a.deletePvc ? ' on a new volume' : ''}`;
    case 'finish-operation':
      return `operation ${a.result}`;
    case 'record-defrag':
    case 'finish-defrag':
      return a.message;
    case 'defragment':
      return `Defragment ${a.memberName} (timeout ${a.timeoutMs}ms)`;
    case 'wait':
    case 'refuse':
      return a.message;
    case 'none':
      return 'nothing to do';
    default:
      return assertNever(a);
  }
}
