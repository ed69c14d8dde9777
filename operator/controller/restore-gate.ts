// Restore from a backup, before the first member starts: the operator fetches the backup named in
// spec.bootstrap.fromBackup and checks it whole (backup/fetch-backup.ts: it exists, its size, the sha256
// recorded at upload, etcd's trailer, a readable database). Only then is its sha256 recorded in
// status.restore and the StatefulSet created with the restore init container (plan/restore.ts), which
// refuses any other object. A missing or corrupt backup, or unusable credentials, is a spec problem:
// Degraded with reason RestoreRefused and an Event, and no member is started.
//
// A backup in a PersistentVolumeClaim is read through the restore source pod (plan/backup-pod.ts): it
// mounts the claim and serves its files over HTTP, to this check and then to every member's restore
// init container, so the claim is mounted once, not by each member. Until that pod is ready the
// restore waits (Degraded, reason RestorePending); it is deleted once every member runs.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { EtcdCluster, PvcDestination, RestoreStatus, S3Destination } from '../api/types.js';
import { HttpObjectStore } from '../backup/backup-http.js';
import type { ObjectStore } from '../backup/object-store.js';
import { BACKUP_OF_LABEL, buildRestoreSourcePod, DEFAULT_OPERATOR_IMAGE, pvcLocation, RESTORE_SOURCE_PORT, type OperatorImage } from '../plan/backup-pod.js';
import type { KubeApi } from './kube-api.js';
import type { SpecProblem } from '../api/validate.js';
import { fetchBackup } from '../backup/fetch-backup.js';
import { BackupError } from '../backup/take-backup.js';
import { utcIso } from '../plan/cron.js';
import { s3LocationFor, storeFor, type BackupRunnerDeps } from './backup-runner.js';
import { rm } from 'node:fs/promises';

export const RESTORE_FIELD = 'spec.bootstrap.fromBackup';

/**
 * The object spec.bootstrap.fromBackup names: its s3 and key, or those of the named EtcdBackup once it
 * Succeeded (a missing or unfinished one is refused: the restore waits for it).
 */
export type RestoreObject = { s3: S3Destination; key: string } | { pvc: PvcDestination; key: string };

export async function resolveRestoreSource(kube: Pick<KubeApi, 'getEtcdBackup'>, cluster: EtcdCluster): Promise<RestoreObject | { reason: string; message: string }> {
  const from = cluster.spec.bootstrap?.fromBackup;
  if (from?.backupName !== undefined) {
    const b = await kube.getEtcdBackup(cluster.metadata.namespace, from.backupName);
    if (b === null) return { reason: 'BackupNotFound', message: `EtcdBackup "${from.backupName}" does not exist in ${cluster.metadata.namespace}` };
    if (b.status?.phase !== 'Succeeded' || b.status.key === undefined) {
      return { reason: 'BackupNotReady', message: `EtcdBackup "${from.backupName}" is ${b.status?.phase ?? 'Pending'}, not Succeeded` };
    }
    if (b.spec.pvc !== undefined) return { pvc: b.spec.pvc, key: b.status.key };
    if (b.spec.s3 !== undefined) return { s3: b.spec.s3, key: b.status.key };
  }
  if (from?.key !== undefined && from.pvc !== undefined && from.s3 === undefined) return { pvc: from.pvc, key: from.key };
  if (from?.s3 === undefined || from.key === undefined) return { reason: 'InvalidRestoreSource', message: 'fromBackup needs s3 (or pvc) and key, or backupName' };
  return { s3: from.s3, key: from.key };
}

/** The restore source pod of a cluster restored from a claim. */
export function restoreSourcePodName(cluster: EtcdCluster): string {
  return `${cluster.metadata.name}-restore-source`;
}

type GateDeps = Pick<BackupRunnerDeps, 'tmpDir' | 'storeFor'> & { kube: Pick<KubeApi, 'getSecret' | 'getEtcdBackup' | 'getPvc' | 'getOneOffPod' | 'apply' | 'deletePod'>; operatorImage?: OperatorImage };

/** The store a claim's backup is read through once the restore source pod serves it; or why the restore waits or is refused. */
async function pvcSource(d: GateDeps, cluster: EtcdCluster, pvc: PvcDestination): Promise<{ store: HttpObjectStore; url: string } | { wait: string } | { reason: string; message: string }> {
  const ns = cluster.metadata.namespace;
  const claim = await d.kube.getPvc(ns, pvc.claimName);
  if (claim === null || claim.terminating) return { reason: 'ClaimNotFound', message: `PersistentVolumeClaim "${pvc.claimName}" ${claim === null ? 'does not exist' : 'is being deleted'} in ${ns}` };
  const name = restoreSourcePodName(cluster);
  const pod = await d.kube.getOneOffPod(ns, name);
  if (pod === null || pod.phase === 'Failed' || pod.phase === 'Succeeded') {
    if (pod !== null) await d.kube.deletePod(ns, name);
    else {
      await d.kube.apply(buildRestoreSourcePod({
        name, namespace: ns,
        owner: { apiVersion: cluster.apiVersion, kind: cluster.kind, name: cluster.metadata.name, uid: cluster.metadata.uid ?? '' },
        labels: { 'app.kubernetes.io/managed-by': 'tsetcd-operator', [BACKUP_OF_LABEL]: cluster.metadata.name },
        pvc, image: d.operatorImage ?? DEFAULT_OPERATOR_IMAGE,
      }));
    }
    return { wait: `starting pod "${name}" to serve ${pvcLocation(pvc.claimName, '')} to the restore` };
  }
  if (!pod.ready || pod.podIP === null) return { wait: `pod "${name}", which serves ${pvcLocation(pvc.claimName, '')} to the restore, is not ready yet${pod.notRunning !== null ? ` (${pod.notRunning})` : ''}` };
  const host = pod.podIP.includes(':') ? `[${pod.podIP}]` : pod.podIP;
  const url = `http://${host}:${RESTORE_SOURCE_PORT}/`;
  return { store: new HttpObjectStore(url, pvcLocation(pvc.claimName, '')), url };
}

/** Once every member runs, the restore source pod has served its purpose (members that join later get their data from the leader). */
export async function retireRestoreSource(kube: Pick<KubeApi, 'deletePod' | 'getOneOffPod'>, cluster: EtcdCluster): Promise<boolean> {
  const name = restoreSourcePodName(cluster);
  if ((await kube.getOneOffPod(cluster.metadata.namespace, name)) === null) return false;
  await kube.deletePod(cluster.metadata.namespace, name);
  return true;
}

export async function verifyRestoreSource(d: GateDeps, cluster: EtcdCluster, nowMs: number): Promise<{ status: RestoreStatus } | { problem: SpecProblem }> {
  if (cluster.spec.bootstrap?.fromBackup === undefined) throw new Error('verifyRestoreSource without spec.bootstrap.fromBackup');
  const refuse = (reason: string, message: string): { problem: SpecProblem } => ({
    problem: { field: RESTORE_FIELD, reason: 'RestoreRefused', message: `${reason}: ${message}; no member is started until the backup is there and whole` },
  });
  const from = await resolveRestoreSource(d.kube, cluster);
  if ('reason' in from) return refuse(from.reason, from.message);
  if ('pvc' in from) {
    const src = await pvcSource(d, cluster, from.pvc);
    if ('wait' in src) return { problem: { field: RESTORE_FIELD, reason: 'RestorePending', message: `${src.wait}; no member is started until the backup is checked` } };
    if ('reason' in src) return refuse(src.reason, src.message);
    const r = await checkBackupObject(d, src.store, { pvc: from.pvc, sourceURL: src.url }, from.key, nowMs);
    return 'reason' in r ? refuse(r.reason, r.message) : r;
  }
  const r = await verifyBackupObject(d, cluster.metadata.namespace, from, nowMs);
  return 'reason' in r ? refuse(r.reason, r.message) : r;
}

/** Fetches one backup object in S3 and checks it whole (fetch-backup.ts): what a restore from it records, or why it cannot be used. */
export async function verifyBackupObject(
  d: Pick<BackupRunnerDeps, 'tmpDir' | 'storeFor'> & { kube: Pick<KubeApi, 'getSecret'> },
  namespace: string,
  from: { s3: S3Destination; key: string },
  nowMs: number,
): Promise<{ status: RestoreStatus } | { reason: string; message: string }> {
  const loc = await s3LocationFor(d.kube, namespace, from.s3);
  if ('reason' in loc) return loc;
  return checkBackupObject(d, storeFor(d, loc), { s3: from.s3 }, from.key, nowMs);
}

async function checkBackupObject(
  d: Pick<BackupRunnerDeps, 'tmpDir'>,
  store: ObjectStore & { destroy?(): void },
  source: Pick<RestoreStatus, 's3' | 'pvc' | 'sourceURL'>,
  key: string,
  nowMs: number,
): Promise<{ status: RestoreStatus } | { reason: string; message: string }> {
  const file = join(d.tmpDir, `restore-check-${randomBytes(6).toString('hex')}.db`);
  try {
    const snap = await fetchBackup(store, key, file);
    return { status: { ...source, key, location: store.locationOf(key), sizeBytes: snap.sizeBytes, revision: snap.revision, sha256: snap.sha256, verifiedTime: utcIso(nowMs) } };
  } catch (err: unknown) {
    if (err instanceof BackupError) return { reason: err.reason === 'NotFound' ? 'BackupNotFound' : err.reason, message: err.message };
    return { reason: 'RestoreCheckFailed', message: err instanceof Error ? err.message : String(err) };
  } finally {
    await rm(file, { force: true });
    store.destroy?.();
  }
}
