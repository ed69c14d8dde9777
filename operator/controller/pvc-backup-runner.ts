// Scheduled backups (spec.backup) to a PersistentVolumeClaim: the same decisions as backup-runner.ts's
// S3 path (a scheduled minute or a new backup-request value starts one attempt), but the work is a
// backup pod's (plan/backup-pod.ts), so an attempt spans passes:
// 1. due: the pod is created, named after the scheduled minute (a crash before status is written finds
//    the same pod again), and status.backup.pod records it and what it consumes;
// 2. while it runs, passes come back every BACKUP_POD_POLL_MS and change nothing;
// 3. once it ended, its outcome (its termination message) becomes status, condition, Event and metric
//    exactly as an S3 backup's, and the pod is deleted after status is written.
// Retention runs in the pod, in the claim, after a verified backup.
import type { BackupStatus, EtcdCluster, PvcDestination } from '../api/types.js';
import { backupFolder, backupKey } from '../plan/backup.js';
import { BACKUP_OF_LABEL, buildBackupPod, DEFAULT_OPERATOR_IMAGE, parseBackupPodResult, type OperatorImage } from '../plan/backup-pod.js';
import { utcIso } from '../plan/cron.js';
import { successMessage } from '../plan/etcd-backup.js';
import { ownerReference, refOf } from '../plan/names.js';
import type { BackupOutcome } from './backup-runner.js';
import type { KubeApi } from './kube-api.js';
import type { BackupRecord } from '../backup/take-backup.js';

/** How often a pass looks at a backup pod at work. */
export const BACKUP_POD_POLL_MS = 2000;

export interface PvcBackupDeps {
  kube: Pick<KubeApi, 'getOneOffPod' | 'getPvc' | 'apply' | 'deletePod'>;
  endpointMode: 'pod-ip' | 'dns';
  operatorImage?: OperatorImage;
}

/** What the cluster's pass knows that a backup pod needs. */
export interface PvcBackupAccess {
  endpoints: readonly string[];
  tlsSecretName: string | null;
  authSecretName: string | null;
}

export interface PvcAttemptStart {
  /** The scheduled minute (epoch ms) this attempt is for, or null (a request only). */
  slotMs: number | null;
  /** The backup-request value it consumes, or null. */
  request: string | null;
  retention: { maxCount: number | null; maxAge: string | null };
  nowMs: number;
}

/** The attempt under way, if any: null when status records no pod. Otherwise an outcome (running or ended). */
export async function pollPvcBackup(d: PvcBackupDeps, cluster: EtcdCluster, gen: number, nowMs: number): Promise<BackupOutcome | null> {
  const prev = cluster.status?.backup ?? {};
  const running = prev.pod;
  if (running === undefined) return null;
  const ns = cluster.metadata.namespace;
  const pod = await d.kube.getOneOffPod(ns, running.name);
  if (pod !== null && pod.phase !== 'Succeeded' && pod.phase !== 'Failed') {
    return { status: prev, condition: null, event: null, result: null, requeueAfterMs: BACKUP_POD_POLL_MS };
  }
  const { pod: _done, ...rest } = prev;
  const consumed: BackupStatus = {
    ...rest,
    ...(running.scheduleTime !== undefined ? { lastScheduleTime: running.scheduleTime } : {}),
    ...(running.request !== undefined ? { lastRequest: running.request } : {}),
  };
  const r = pod === null
    ? { ok: false as const, reason: 'BackupPodLost', message: `the backup pod "${running.name}" is gone before it reported; nothing is known of ${running.key}` }
    : parseBackupPodResult(pod.phase as 'Succeeded' | 'Failed', pod.terminationMessage);
  const afterStatus = async (): Promise<void> => {
    if (pod !== null) await d.kube.deletePod(ns, running.name);
  };
  if (r.ok) {
    const record: BackupRecord = { key: r.key, location: r.location, sizeBytes: r.sizeBytes, revision: r.revision, sha256: r.sha256, memberEndpoint: r.member, appliedIndex: r.appliedIndex };
    const message = `${successMessage(record)}${r.pruned > 0 ? `; retention removed ${r.pruned}` : ''}`;
    return {
      status: { ...consumed, lastSuccessTime: utcIso(nowMs), lastLocation: r.location, lastSizeBytes: r.sizeBytes, lastRevision: r.revision, consecutiveFailures: 0 },
      condition: { type: 'BackupSucceeded', status: 'True', reason: 'BackupSucceeded', message, observedGeneration: gen },
      event: { type: 'Normal', reason: 'BackupSucceeded', message },
      result: { succeeded: true, reason: 'BackupSucceeded', record, pruned: [] },
      afterStatus,
    };
  }
  return {
    status: { ...consumed, lastFailureTime: utcIso(nowMs), lastFailureMessage: r.message, consecutiveFailures: (prev.consecutiveFailures ?? 0) + 1 },
    condition: { type: 'BackupSucceeded', status: 'False', reason: r.reason, message: r.message, observedGeneration: gen },
    event: { type: 'Warning', reason: 'BackupFailed', message: `${r.reason}: ${r.message}` },
    result: { succeeded: false, reason: r.reason, record: null, pruned: [] },
    afterStatus,
  };
}

/** Starts an attempt: the claim must exist (else the attempt fails at once, consuming its minute). */
export async function startPvcBackup(d: PvcBackupDeps, cluster: EtcdCluster, pvc: PvcDestination, access: PvcBackupAccess, a: PvcAttemptStart, gen: number): Promise<BackupOutcome> {
  const prev = cluster.status?.backup ?? {};
  const ns = cluster.metadata.namespace;
  const name = cluster.metadata.name;
  const claim = await d.kube.getPvc(ns, pvc.claimName);
  const consumes = { ...(a.slotMs !== null ? { scheduleTime: utcIso(a.slotMs) } : {}), ...(a.request !== null ? { request: a.request } : {}) };
  if (claim === null || claim.terminating) {
    const message = `PersistentVolumeClaim "${pvc.claimName}" ${claim === null ? 'does not exist' : 'is being deleted'} in ${ns}; nothing was written`;
    return {
      status: { ...prev, ...(consumes.scheduleTime !== undefined ? { lastScheduleTime: consumes.scheduleTime } : {}), ...(consumes.request !== undefined ? { lastRequest: consumes.request } : {}), lastFailureTime: utcIso(a.nowMs), lastFailureMessage: message, consecutiveFailures: (prev.consecutiveFailures ?? 0) + 1 },
      condition: { type: 'BackupSucceeded', status: 'False', reason: 'ClaimNotFound', message, observedGeneration: gen },
      event: { type: 'Warning', reason: 'BackupFailed', message: `ClaimNotFound: ${message}` },
      result: { succeeded: false, reason: 'ClaimNotFound', record: null, pruned: [] },
    };
  }
  // Named after the minute it is for, so that a pass that crashed before writing status finds it again.
  const attemptMs = a.slotMs ?? a.nowMs;
  const folder = backupFolder(pvc.prefix ?? '', ns, name);
  const key = backupKey(folder, name, attemptMs);
  const podName = `${name}-backup-${key.slice(folder.length + name.length + 1, -'.db'.length).toLowerCase()}`;
  await d.kube.apply(buildBackupPod({
    name: podName, namespace: ns,
    owner: ownerReference(refOf(cluster)) as unknown as { apiVersion: string; kind: string; name: string; uid: string },
    labels: { 'app.kubernetes.io/managed-by': 'tsetcd-operator', [BACKUP_OF_LABEL]: name },
    pvc, key, endpoints: access.endpoints, endpointMode: d.endpointMode,
    tlsSecretName: access.tlsSecretName, authSecretName: access.authSecretName,
    prune: { folder, maxCount: a.retention.maxCount, maxAge: a.retention.maxAge },
    image: d.operatorImage ?? DEFAULT_OPERATOR_IMAGE,
  }));
  return { status: { ...prev, pod: { name: podName, key, ...consumes } }, condition: null, event: null, result: null, requeueAfterMs: BACKUP_POD_POLL_MS };
}
