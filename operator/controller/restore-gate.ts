// Restore from a backup, before the first member starts: the operator fetches the backup named in
// spec.bootstrap.fromBackup and checks it whole (backup/fetch-backup.ts: it exists, its size, the sha256
// recorded at upload, etcd's trailer, a readable database). Only then is its sha256 recorded in
// status.restore and the StatefulSet created with the restore init container (plan/restore.ts), which
// refuses any other object. A missing or corrupt backup, or unusable credentials, is a spec problem:
// Degraded with reason RestoreRefused and an Event, and no member is started.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { EtcdCluster, RestoreStatus } from '../api/types.js';
import type { SpecProblem } from '../api/validate.js';
import { fetchBackup } from '../backup/fetch-backup.js';
import { BackupError } from '../backup/take-backup.js';
import { utcIso } from '../plan/cron.js';
import { s3LocationFor, storeFor, type BackupRunnerDeps } from './backup-runner.js';
import { rm } from 'node:fs/promises';

export const RESTORE_FIELD = 'spec.bootstrap.fromBackup';

export async function verifyRestoreSource(d: Pick<BackupRunnerDeps, 'kube' | 'tmpDir' | 'storeFor'>, cluster: EtcdCluster, nowMs: number): Promise<{ status: RestoreStatus } | { problem: SpecProblem }> {
  const from = cluster.spec.bootstrap?.fromBackup;
  if (from === undefined) throw new Error('verifyRestoreSource without spec.bootstrap.fromBackup');
  const refuse = (reason: string, message: string): { problem: SpecProblem } => ({
    problem: { field: RESTORE_FIELD, reason: 'RestoreRefused', message: `${reason}: ${message}; no member is started until the backup is there and whole` },
  });
  const loc = await s3LocationFor(d.kube, cluster.metadata.namespace, from.s3);
  if ('reason' in loc) return refuse(loc.reason, loc.message);
  const store = storeFor(d, loc);
  const file = join(d.tmpDir, `restore-check-${randomBytes(6).toString('hex')}.db`);
  try {
    const snap = await fetchBackup(store, from.key, file);
    return { status: { location: store.locationOf(from.key), sizeBytes: snap.sizeBytes, revision: snap.revision, sha256: snap.sha256, verifiedTime: utcIso(nowMs) } };
  } catch (err: unknown) {
    if (err instanceof BackupError) return refuse(err.reason === 'NotFound' ? 'BackupNotFound' : err.reason, err.message);
    return refuse('RestoreCheckFailed', err instanceof Error ? err.message : String(err));
  } finally {
    await rm(file, { force: true });
    store.destroy?.();
  }
}
