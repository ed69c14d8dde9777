// Restore from a backup, before the first member starts: the operator fetches the backup named in
// spec.bootstrap.fromBackup and checks it whole (backup/fetch-backup.ts: it exists, its size, the sha256
// recorded at upload, etcd's trailer, a readable database). Only then is its sha256 recorded in
// status.restore and the StatefulSet created with the restore init container (plan/restore.ts), which
// refuses any other object. A missing or corrupt backup, or unusable credentials, is a spec problem:
// Degraded with reason RestoreRefused and an Event, and no member is started.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { EtcdCluster, RestoreStatus, S3Destination } from '../api/types.js';
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
export async function resolveRestoreSource(kube: Pick<KubeApi, 'getEtcdBackup'>, cluster: EtcdCluster): Promise<{ s3: S3Destination; key: string } | { reason: string; message: string }> {
  const from = cluster.spec.bootstrap?.fromBackup;
  if (from?.backupName !== undefined) {
    const b = await kube.getEtcdBackup(cluster.metadata.namespace, from.backupName);
    if (b === null) return { reason: 'BackupNotFound', message: `EtcdBackup "${from.backupName}" does not exist in ${cluster.metadata.namespace}` };
    if (b.status?.phase !== 'Succeeded' || b.status.key === undefined) {
      return { reason: 'BackupNotReady', message: `EtcdBackup "${from.backupName}" is ${b.status?.phase ?? 'Pending'}, not Succeeded` };
    }
    return { s3: b.spec.s3, key: b.status.key };
  }
  if (from?.s3 === undefined || from.key === undefined) return { reason: 'InvalidRestoreSource', message: 'fromBackup needs s3 and key, or backupName' };
  return { s3: from.s3, key: from.key };
}

export async function verifyRestoreSource(d: Pick<BackupRunnerDeps, 'tmpDir' | 'storeFor'> & { kube: Pick<KubeApi, 'getSecret' | 'getEtcdBackup'> }, cluster: EtcdCluster, nowMs: number): Promise<{ status: RestoreStatus } | { problem: SpecProblem }> {
  if (cluster.spec.bootstrap?.fromBackup === undefined) throw new Error('verifyRestoreSource without spec.bootstrap.fromBackup');
  const refuse = (reason: string, message: string): { problem: SpecProblem } => ({
    problem: { field: RESTORE_FIELD, reason: 'RestoreRefused', message: `${reason}: ${message}; no member is started until the backup is there and whole` },
  });
  const from = await resolveRestoreSource(d.kube, cluster);
  if ('reason' in from) return refuse(from.reason, from.message);
  const r = await verifyBackupObject(d, cluster.metadata.namespace, from, nowMs);
  return 'reason' in r ? refuse(r.reason, r.message) : r;
}

/** Fetches one backup object and checks it whole (fetch-backup.ts): what a restore from it records, or why it cannot be used. */
export async function verifyBackupObject(
  d: Pick<BackupRunnerDeps, 'tmpDir' | 'storeFor'> & { kube: Pick<KubeApi, 'getSecret'> },
  namespace: string,
  from: { s3: S3Destination; key: string },
  nowMs: number,
): Promise<{ status: RestoreStatus } | { reason: string; message: string }> {
  const loc = await s3LocationFor(d.kube, namespace, from.s3);
  if ('reason' in loc) return loc;
  const store = storeFor(d, loc);
  const file = join(d.tmpDir, `restore-check-${randomBytes(6).toString('hex')}.db`);
  try {
    const snap = await fetchBackup(store, from.key, file);
    return { status: { s3: from.s3, key: from.key, location: store.locationOf(from.key), sizeBytes: snap.sizeBytes, revision: snap.revision, sha256: snap.sha256, verifiedTime: utcIso(nowMs) } };
  } catch (err: unknown) {
    if (err instanceof BackupError) return { reason: err.reason === 'NotFound' ? 'BackupNotFound' : err.reason, message: err.message };
    return { reason: 'RestoreCheckFailed', message: err instanceof Error ? err.message : String(err) };
  } finally {
    await rm(file, { force: true });
    store.destroy?.();
  }
}
