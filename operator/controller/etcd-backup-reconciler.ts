// The EtcdBackup controller's pass: observe (the EtcdBackup; the named cluster and which voting members
// answer, read the way a cluster pass reads them, without issuing anything), plan (plan/etcd-backup.ts,
// pure), act (record the attempt first; then stream, upload, verify: backup-runner.ts's backupOnce), and
// write status once, with one Event for what changed. Bad input (a spec the schema let through, wrong
// credentials, a missing bucket, a corrupt snapshot) ends in phase Failed with the reason in the
// Succeeded condition and a Warning Event; nothing is written to the store then, nothing is deleted.
import type { Logger } from '../../node/log.js';
import type { EtcdBackupMetricsSink } from '../etcd-backup-metrics.js';
import { resolveSpec } from '../api/defaults.js';
import type { EtcdBackup } from '../api/etcd-backup.js';
import type { EtcdCluster, PvcDestination, S3Destination } from '../api/types.js';
import { BACKUP_POD_POLL_MS } from './pvc-backup-runner.js';
import { BACKUP_OF_LABEL, buildBackupPod, DEFAULT_OPERATOR_IMAGE, parseBackupPodResult, type OperatorImage } from '../plan/backup-pod.js';
import type { MemberApi } from '../members/member-api.js';
import type { GatewayCredentials } from '../members/gateway-member-api.js';
import { utcIso } from '../plan/cron.js';
import { BACKUP_WAIT_REQUEUE_MS, etcdBackupEvent, etcdBackupKey, etcdBackupStatus, planEtcdBackup, type BackupAttempt, type ObservedBackupCluster } from '../plan/etcd-backup.js';
import { refOf, statefulSetName } from '../plan/names.js';
import { effectiveTls } from '../plan/tls.js';
import { operatorCredentials } from './auth-credentials.js';
import { backupOnce, type BackupRunnerDeps } from './backup-runner.js';
import { certificateStep } from './certificate-step.js';
import type { Clock } from './clock.js';
import type { KubeApi } from './kube-api.js';
import { observe, voterEndpoints, type EndpointMode } from './observe.js';

export interface EtcdBackupReconcilerDeps {
  kube: KubeApi;
  members: MemberApi;
  /** The client for a cluster's TLS material and operator user (operator.ts: the member-API factory). */
  memberApiFor?: (tls: Record<string, Buffer> | null, credentials: GatewayCredentials | null) => MemberApi;
  clock: Clock;
  log: Logger;
  endpointMode: EndpointMode;
  backups: Pick<BackupRunnerDeps, 'tmpDir' | 'storeFor'>;
  /** The image and command of backup pods (a PVC destination); default: the operator's own image. */
  operatorImage?: OperatorImage;
  metrics?: EtcdBackupMetricsSink;
}

/** The backup pod of an EtcdBackup with a PVC destination. */
export function backupPodName(b: EtcdBackup): string {
  return `${b.metadata.name}-backup`;
}

export interface EtcdBackupResult {
  requeueAfterMs: number | null;
  action: ReturnType<typeof planEtcdBackup>['kind'] | 'gone';
}

/**
 * The voting members' endpoints of a cluster and the member API that reaches them (the cluster's
 * operator-client certificate under TLS). Read only: certificates are never issued from here.
 */
export interface MemberAccess {
  api: MemberApi;
  endpoints: string[];
  /** The Secret of the operator-client certificate under TLS (a backup pod mounts it); null: plain. */
  tlsSecretName: string | null;
  /** spec.auth's Secret when the cluster's auth is on. */
  authSecretName: string | null;
}

export async function memberAccess(d: Pick<EtcdBackupReconcilerDeps, 'kube' | 'members' | 'memberApiFor' | 'endpointMode'>, cluster: EtcdCluster, nowMs: number): Promise<MemberAccess> {
  const ref = refOf(cluster);
  let spec = resolveSpec(cluster.spec ?? {});
  const runningPlain = spec.tls.mode === null && (await d.kube.getStatefulSet(ref.namespace, statefulSetName(ref)))?.peerTLS === false;
  spec = effectiveTls(ref, spec, runningPlain);
  const certs = await certificateStep(d.kube, ref, spec, nowMs, false);
  // The operator's user too when the cluster's auth is on (Snapshot is root-only then).
  const auth = await operatorCredentials(d.kube, cluster);
  const wants = certs.operatorSecret !== null || auth.credentials !== null;
  const api = wants && d.memberApiFor !== undefined ? d.memberApiFor(certs.operatorSecret, auth.credentials) : d.members;
  return {
    api,
    endpoints: voterEndpoints(await observe(d.kube, api, cluster, ref, spec, d.endpointMode)),
    tlsSecretName: certs.operatorSecret !== null ? spec.tls.operatorSecretName : null,
    authSecretName: auth.credentials !== null ? (cluster.spec.auth?.secretName ?? null) : null,
  };
}

export class EtcdBackupReconciler {
  constructor(private readonly d: EtcdBackupReconcilerDeps) {}

  async reconcile(namespace: string, name: string): Promise<EtcdBackupResult> {
    const d = this.d;
    const b = await d.kube.getEtcdBackup(namespace, name);
    if (b === null || b.metadata.deletionTimestamp !== undefined) return { requeueAfterMs: null, action: 'gone' };
    const nowMs = d.clock.nowMs();
    const log = d.log.child('etcd-backup', { backup: `${namespace}/${name}` });

    // Observe. A final backup reads nothing more.
    const final = b.status?.phase === 'Succeeded' || b.status?.phase === 'Failed';
    let cluster: ObservedBackupCluster = { kind: 'missing' };
    let access: MemberAccess | null = null;
    if (!final && typeof b.spec?.clusterName === 'string') {
      const c = await d.kube.getCluster(namespace, b.spec.clusterName);
      if (c !== null && c.metadata.deletionTimestamp !== undefined) cluster = { kind: 'deleting' };
      else if (c !== null) {
        access = await memberAccess(d, c, nowMs);
        cluster = { kind: 'present', voters: access.endpoints.length };
      }
    }

    // Plan, act.
    const step = planEtcdBackup(b, cluster, nowMs);
    if (step.kind === 'done') return { requeueAfterMs: null, action: 'done' };
    if (step.kind === 'backoff') return { requeueAfterMs: step.waitMs, action: 'backoff' };
    let attempt: BackupAttempt | null = null;
    if (step.kind === 'take') {
      const taken = b.spec.pvc !== undefined ? await this.takeToPvc(b, access, log) : await this.take(b, access, log);
      // A backup pod still at work: the status says which pod, and the pass comes back.
      if ('running' in taken) {
        if (b.status?.pod !== taken.running.pod) await d.kube.updateEtcdBackupStatus(b, { ...b.status, pod: taken.running.pod });
        return { requeueAfterMs: BACKUP_POD_POLL_MS, action: step.kind };
      }
      attempt = taken;
    }

    // Status, once; then the Event.
    const next = etcdBackupStatus(b, step, attempt, utcIso(nowMs));
    await d.kube.updateEtcdBackupStatus(b, next);
    const event = etcdBackupEvent(b.status ?? {}, next, step);
    if (event !== null) await d.kube.recordEvent(b, event.type, event.reason, event.message).catch(() => {});
    // The outcome is recorded: the pod (and its hold on the claim) can go; a retry makes a new one.
    if (attempt !== null && b.spec.pvc !== undefined) await d.kube.deletePod(namespace, backupPodName(b)).catch(() => {});
    const cond = next.conditions?.[0];
    if (step.kind === 'take' && next.phase === 'Running') {
      log.warn('backup attempt failed, retrying', { reason: attempt?.reason, message: attempt?.message, nextAttemptTime: next.nextAttemptTime });
      d.metrics?.retried(namespace, b.spec.clusterName, attempt?.reason ?? '');
      return { requeueAfterMs: Math.max(0, Date.parse(next.nextAttemptTime ?? '') - nowMs), action: step.kind };
    }
    if (step.kind === 'take' || step.kind === 'refuse') {
      log.info('backup finished', { phase: next.phase, reason: cond?.reason, location: next.location });
      const started = Date.parse(next.startTime ?? '');
      d.metrics?.finished(namespace, String(b.spec?.clusterName ?? ''), next.phase === 'Succeeded', cond?.reason ?? '', nowMs / 1000, next.sizeBytes ?? null, Number.isNaN(started) ? null : Math.max(0, (nowMs - started) / 1000));
    }
    return { requeueAfterMs: step.kind === 'wait' ? BACKUP_WAIT_REQUEUE_MS : step.kind === 'start' ? 0 : null, action: step.kind };
  }

  /**
   * The recorded attempt to a PVC: the backup pod writes and verifies the file (plan/backup-pod.ts);
   * this pass creates it, or reads its outcome once it ended. A missing claim fails before any pod.
   */
  private async takeToPvc(b: EtcdBackup, access: MemberAccess | null, log: Logger): Promise<BackupAttempt | { running: { pod: string } }> {
    const d = this.d;
    const ns = b.metadata.namespace;
    const name = backupPodName(b);
    const pvc = b.spec.pvc as PvcDestination;
    const pod = await d.kube.getOneOffPod(ns, name);
    if (pod !== null && !pod.deleting && (pod.phase === 'Succeeded' || pod.phase === 'Failed')) {
      const r = parseBackupPodResult(pod.phase, pod.terminationMessage);
      return r.ok
        ? { ok: true, reason: 'BackupSucceeded', message: '', record: { key: r.key, location: r.location, sizeBytes: r.sizeBytes, revision: r.revision, sha256: r.sha256, memberEndpoint: r.member } }
        : { ok: false, reason: r.reason, message: r.message, record: null };
    }
    // At work, or the previous attempt's pod still going away (a retry waits for it).
    if (pod !== null) return { running: { pod: name } };
    const claim = await d.kube.getPvc(ns, pvc.claimName);
    if (claim === null || claim.terminating) {
      return { ok: false, reason: 'ClaimNotFound', message: `PersistentVolumeClaim "${pvc.claimName}" ${claim === null ? 'does not exist' : 'is being deleted'} in ${ns}; nothing was written`, record: null };
    }
    if (access === null || access.endpoints.length === 0) {
      return { ok: false, reason: 'NoMemberAvailable', message: `no voting member of EtcdCluster "${b.spec.clusterName}" answered`, record: null };
    }
    const startMs = Date.parse(b.status?.startTime ?? '');
    const key = etcdBackupKey(b, Number.isNaN(startMs) ? d.clock.nowMs() : startMs);
    await d.kube.apply(buildBackupPod({
      name, namespace: ns,
      owner: { apiVersion: b.apiVersion, kind: b.kind, name: b.metadata.name, uid: b.metadata.uid ?? '' },
      labels: { 'app.kubernetes.io/managed-by': 'tsetcd-operator', [BACKUP_OF_LABEL]: b.spec.clusterName, 'tsetcd.dev/etcd-backup': b.metadata.name },
      pvc, key, endpoints: access.endpoints, endpointMode: d.endpointMode,
      tlsSecretName: access.tlsSecretName, authSecretName: access.authSecretName, prune: null,
      image: d.operatorImage ?? DEFAULT_OPERATOR_IMAGE,
    }));
    log.info('backup pod created', { pod: name, claim: pvc.claimName, key });
    return { running: { pod: name } };
  }

  /** The recorded attempt: into the key its startTime names, from a voting member. Never throws. */
  private async take(b: EtcdBackup, access: MemberAccess | null, log: Logger): Promise<BackupAttempt> {
    if (access === null || access.endpoints.length === 0) {
      return { ok: false, reason: 'NoMemberAvailable', message: `no voting member of EtcdCluster "${b.spec.clusterName}" answered`, record: null };
    }
    const startMs = Date.parse(b.status?.startTime ?? '');
    const key = etcdBackupKey(b, Number.isNaN(startMs) ? this.d.clock.nowMs() : startMs);
    const r = await backupOnce({ ...this.d.backups, kube: this.d.kube, log }, b.metadata.namespace, b.spec.s3 as S3Destination, key, access.api, access.endpoints, null);
    return { ok: r.succeeded, reason: r.reason, message: r.message, record: r.record };
  }
}
