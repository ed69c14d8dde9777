// Scheduled backups inside a reconcile pass: when plan/backup.ts says a scheduled minute is due,
// read the credentials Secret, take a verified backup (backup/take-backup.ts), apply retention, and
// say what happened: the next status.backup, the BackupSucceeded condition, one Event, and the
// metric. A scheduled minute starts at most one attempt (status.backup.lastScheduleTime), success or
// failure; a failure leaves every stored backup as it was. A bad backup spec is reported in the
// condition and an Event, and does not stop the rest of the reconcile (membership, scaling).
//
// The pass waits for the backup: the work queue runs one pass per cluster at a time, so other
// clusters are not held up, and a crash mid-backup only means the minute is tried again at start.
import { parseCron, utcIso } from '../plan/cron.js';
import { backupDueSlot, backupFolder, backupKey, destinationProblems, parseRetentionAge, type Retention } from '../plan/backup.js';
import { pollPvcBackup, startPvcBackup, type PvcBackupAccess, type PvcBackupDeps } from './pvc-backup-runner.js';
import { successMessage } from '../plan/etcd-backup.js';
import type { Logger } from '../../node/log.js';
import type { BackupSpec, BackupStatus, Condition, EtcdCluster, S3Destination } from '../api/types.js';
import type { MemberApi } from '../members/member-api.js';
import type { ObjectStore } from '../backup/object-store.js';
import { pruneBackups } from '../backup/prune-backups.js';
import { S3ObjectStore, type S3Location } from '../backup/s3-object-store.js';
import { BackupError, takeBackup, type BackupRecord } from '../backup/take-backup.js';
import type { KubeApi } from './kube-api.js';

export const DEFAULT_BACKUP_REGION = 'us-east-1';
/** Set (to any new value) on an EtcdCluster to take one backup now; status.backup.lastRequest records it. */
export const BACKUP_REQUEST_ANNOTATION = 'tsetcd.dev/backup-request';
export const DEFAULT_ACCESS_KEY_ID_KEY = 'accessKeyID';
export const DEFAULT_SECRET_ACCESS_KEY_KEY = 'secretAccessKey';

export interface BackupRunnerDeps {
  kube: Pick<KubeApi, 'getSecret'>;
  log: Logger;
  /** Where snapshots wait between stream and upload. */
  tmpDir: string;
  /** The store for an S3 destination; the default is S3ObjectStore. */
  storeFor?: (loc: S3Location) => ObjectStore & { destroy?(): void };
}

export interface BackupOutcome {
  status: BackupStatus;
  /** null: the condition stays as it is (a backup pod at work). */
  condition: Omit<Condition, 'lastTransitionTime'> | null;
  event: { type: 'Normal' | 'Warning'; reason: string; message: string } | null;
  /** Set when an attempt ran. */
  result: { succeeded: boolean; reason: string; record: BackupRecord | null; pruned: string[] } | null;
  /** Come back this soon (a backup pod at work). */
  requeueAfterMs?: number;
  /** Run once status is written (delete the finished backup pod). */
  afterStatus?: () => Promise<void>;
}

/** The problems of a backup spec, in the words of the condition. Empty: fine. */
export function backupSpecProblems(b: BackupSpec): string[] {
  const out: string[] = [];
  if (b.schedule !== undefined) {
    const c = parseCron(b.schedule);
    if (!c.ok) out.push(`backup.schedule "${b.schedule}": ${c.error}`);
  }
  out.push(...destinationProblems(b, 'backup'));
  const r = b.retention;
  if (r?.maxCount !== undefined && (!Number.isInteger(r.maxCount) || r.maxCount < 1)) out.push(`backup.retention.maxCount must be a whole number of at least 1, got ${r.maxCount}`);
  if (r?.maxAge !== undefined && parseRetentionAge(r.maxAge) === null) out.push(`backup.retention.maxAge "${r.maxAge}" is not an age like 7d, 12h or 1h30m`);
  return out;
}

export function retentionOf(b: BackupSpec): Retention {
  return { maxCount: b.retention?.maxCount ?? null, maxAgeMs: b.retention?.maxAge === undefined ? null : parseRetentionAge(b.retention.maxAge) };
}

/** null: no backup spec, or nothing due; status.backup stays as it is. `pvc`: what a PVC destination's backup pod needs. */
export async function runScheduledBackup(d: BackupRunnerDeps, cluster: EtcdCluster, api: MemberApi, endpoints: readonly string[], nowMs: number, pvc?: { deps: PvcBackupDeps; access: Omit<PvcBackupAccess, 'endpoints'> }): Promise<BackupOutcome | null> {
  const spec = cluster.spec.backup;
  if (spec === undefined) return null;
  const prev = cluster.status?.backup ?? {};
  const gen = cluster.metadata.generation ?? 0;
  const problems = backupSpecProblems(spec);
  if (problems.length > 0) {
    const message = problems.join('; ');
    const was = cluster.status?.conditions?.find((c) => c.type === 'BackupSucceeded');
    const changed = was?.reason !== 'InvalidBackupSpec' || was.message !== message;
    return {
      status: prev,
      condition: { type: 'BackupSucceeded', status: 'False', reason: 'InvalidBackupSpec', message, observedGeneration: gen },
      event: changed ? { type: 'Warning', reason: 'InvalidBackupSpec', message } : null,
      result: null,
    };
  }
  // A PVC destination's attempt under way (its pod) is seen through first, even when the destination
  // changed meanwhile: its outcome is reported, and status.backup.pod never stays behind.
  if (pvc !== undefined) {
    const polled = await pollPvcBackup(pvc.deps, cluster, gen, nowMs);
    if (polled !== null) return polled;
  }
  if ((spec.s3 === undefined && (spec.pvc === undefined || pvc === undefined)) || endpoints.length === 0) return null;
  // On demand: a new value of the annotation asks for one backup now, schedule or not.
  const request = cluster.metadata.annotations?.[BACKUP_REQUEST_ANNOTATION];
  const requested = request !== undefined && request !== '' && request !== prev.lastRequest;
  const slot = spec.schedule === undefined ? null : backupDueSlot(spec.schedule, prev.lastScheduleTime, nowMs);
  if (slot === null && !requested) return null;
  if (spec.pvc !== undefined && pvc !== undefined) {
    return startPvcBackup(pvc.deps, cluster, spec.pvc, { ...pvc.access, endpoints }, {
      slotMs: slot, request: requested ? request : null, nowMs,
      retention: { maxCount: spec.retention?.maxCount ?? null, maxAge: spec.retention?.maxAge ?? null },
    }, gen);
  }
  if (spec.s3 === undefined) return null;
  const folder = backupFolder(spec.s3.prefix ?? '', cluster.metadata.namespace, cluster.metadata.name);
  const result = await backupOnce(d, cluster.metadata.namespace, spec.s3, backupKey(folder, cluster.metadata.name, nowMs), api, endpoints, { folder, retention: retentionOf(spec), nowMs });
  const nowIso = utcIso(nowMs);
  // What this attempt consumed: the scheduled minute, the request, or both.
  const consumed: BackupStatus = {
    ...(slot !== null ? { lastScheduleTime: utcIso(slot) } : prev.lastScheduleTime !== undefined ? { lastScheduleTime: prev.lastScheduleTime } : {}),
    ...(requested ? { lastRequest: request } : prev.lastRequest !== undefined ? { lastRequest: prev.lastRequest } : {}),
  };
  if (result.record !== null) {
    const r = result.record;
    const message = `${successMessage(r)}${result.pruned.length > 0 ? `; retention removed ${result.pruned.length}` : ''}`;
    return {
      status: { ...consumed, lastSuccessTime: nowIso, lastLocation: r.location, lastSizeBytes: r.sizeBytes, lastRevision: r.revision, ...(prev.lastFailureTime ? { lastFailureTime: prev.lastFailureTime } : {}), ...(prev.lastFailureMessage ? { lastFailureMessage: prev.lastFailureMessage } : {}), consecutiveFailures: 0 },
      condition: { type: 'BackupSucceeded', status: 'True', reason: 'BackupSucceeded', message, observedGeneration: gen },
      event: { type: 'Normal', reason: 'BackupSucceeded', message },
      result,
    };
  }
  return {
    status: { ...prev, ...consumed, lastFailureTime: nowIso, lastFailureMessage: result.message, consecutiveFailures: (prev.consecutiveFailures ?? 0) + 1 },
    condition: { type: 'BackupSucceeded', status: 'False', reason: result.reason, message: result.message, observedGeneration: gen },
    event: { type: 'Warning', reason: 'BackupFailed', message: `${result.reason}: ${result.message}` },
    result,
  };
}

export interface AttemptResult {
  succeeded: boolean;
  reason: string;
  message: string;
  record: BackupRecord | null;
  pruned: string[];
}

/** The S3 location of a destination, its credentials read from the Secret; or why they cannot be. */
export async function s3LocationFor(kube: Pick<KubeApi, 'getSecret'>, namespace: string, s3: S3Destination): Promise<S3Location | { reason: string; message: string }> {
  const secret = await kube.getSecret(namespace, s3.credentialsSecret.name).catch(() => null);
  if (secret === null) return { reason: 'CredentialsSecretNotFound', message: `Secret "${s3.credentialsSecret.name}" (the S3 access key and secret) does not exist in ${namespace}` };
  const idKey = s3.credentialsSecret.accessKeyIDKey ?? DEFAULT_ACCESS_KEY_ID_KEY;
  const secretKey = s3.credentialsSecret.secretAccessKeyKey ?? DEFAULT_SECRET_ACCESS_KEY_KEY;
  const id = secret[idKey];
  const key = secret[secretKey];
  if (id === undefined || key === undefined) return { reason: 'CredentialsSecretInvalid', message: `Secret "${s3.credentialsSecret.name}" lacks the key ${id === undefined ? idKey : secretKey}` };
  return {
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    region: s3.region ?? DEFAULT_BACKUP_REGION,
    forcePathStyle: s3.forcePathStyle ?? true,
    accessKeyID: id.toString('utf8').trim(),
    secretAccessKey: key.toString('utf8').trim(),
  };
}

export function storeFor(d: Pick<BackupRunnerDeps, 'storeFor'>, loc: S3Location): ObjectStore & { destroy?(): void } {
  return (d.storeFor ?? ((l: S3Location) => new S3ObjectStore(l)))(loc);
}

/**
 * One backup of a cluster (its voting members' endpoints) to `key` at an S3 destination, then, when
 * asked, retention in `prune.folder`. Never throws.
 */
export async function backupOnce(
  d: Pick<BackupRunnerDeps, 'kube' | 'log' | 'tmpDir' | 'storeFor'>,
  namespace: string,
  s3: S3Destination,
  key: string,
  api: MemberApi,
  endpoints: readonly string[],
  prune: { folder: string; retention: Retention; nowMs: number } | null,
): Promise<AttemptResult> {
  const fail = (reason: string, message: string): AttemptResult => ({ succeeded: false, reason, message, record: null, pruned: [] });
  const loc = await s3LocationFor(d.kube, namespace, s3);
  if ('reason' in loc) return fail(loc.reason, loc.message);
  const store = storeFor(d, loc);
  try {
    const record = await takeBackup({ api, endpoints, store, key, tmpDir: d.tmpDir });
    let pruned: string[] = [];
    try {
      if (prune !== null) pruned = await pruneBackups(store, prune.folder, prune.retention, prune.nowMs);
    } catch (err: unknown) {
      // The backup itself stands; retention is tried again after the next one.
      d.log.warn('backup retention failed', { folder: prune?.folder, error: err instanceof Error ? err.message : String(err) });
    }
    return { succeeded: true, reason: 'BackupSucceeded', message: '', record, pruned };
  } catch (err: unknown) {
    if (err instanceof BackupError) return fail(err.reason, err.message);
    return fail('BackupFailed', err instanceof Error ? err.message : String(err));
  } finally {
    store.destroy?.();
  }
}
