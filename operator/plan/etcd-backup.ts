// One EtcdBackup, the decisions only (pure; the time comes in): what the next step is, and the status
// each step writes. The reconciler (controller/etcd-backup-reconciler.ts) observes, asks planEtcdBackup,
// acts, then writes the status built here. The attempt is recorded (phase Running, startTime) before
// the snapshot is taken, and the object key derives from that startTime: a crash mid-backup repeats the
// same attempt into the same key. A transient failure (an endpoint that did not answer, a stream that
// broke, no voting member) is retried with backoff (10 s, doubling, at most 5 min between, at most
// BACKUP_MAX_ATTEMPTS attempts): the phase stays Running, status.attempts counts, status.nextAttemptTime
// says when, with a Warning Event each time. A permanent one (wrong credentials, a missing bucket or
// claim, a corrupt snapshot, a full claim) is final at once. Succeeded and Failed are final: a new
// EtcdBackup tries again.
import type { EtcdBackup, EtcdBackupCondition, EtcdBackupSpec, EtcdBackupStatus } from '../api/etcd-backup.js';
import { backupFolder, backupKey, destinationPrefix, destinationProblems } from './backup.js';
import { utcIso } from './cron.js';

/** How long a Pending backup waits before the cluster is looked at again. */
export const BACKUP_WAIT_REQUEUE_MS = 10_000;
/** An EtcdCluster's name as spec.clusterName takes it (the CRD's pattern is this one). */
export const CLUSTER_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** What the reconciler saw of the named cluster. */
export type ObservedBackupCluster =
  | { kind: 'missing' }
  | { kind: 'deleting' }
  /** voters: endpoints of voting members that answered (the snapshot comes from one of them). */
  | { kind: 'present'; voters: number };

/** Attempts of one EtcdBackup before a transient failure is final. */
export const BACKUP_MAX_ATTEMPTS = 5;
export const BACKUP_RETRY_BASE_MS = 10_000;
export const BACKUP_RETRY_MAX_MS = 300_000;

/**
 * Failures that another attempt may not meet: the endpoint or member did not answer, the stream broke,
 * the backup pod vanished. Everything else (credentials, bucket, claim, corrupt snapshot, no space, a
 * failed verification) is the same next time, and final.
 */
export const TRANSIENT_BACKUP_REASONS: ReadonlySet<string> = new Set(['Unreachable', 'NoMemberAvailable', 'SnapshotFailed', 'BackupPodLost']);

/** The wait before attempt n+1 after n failed ones (n >= 1). */
export function backupRetryDelayMs(failedAttempts: number): number {
  return Math.min(BACKUP_RETRY_BASE_MS * 2 ** Math.max(0, failedAttempts - 1), BACKUP_RETRY_MAX_MS);
}

export type EtcdBackupStep =
  | { kind: 'done' }
  /** Running, a transient failure behind it: the next attempt is due in waitMs. */
  | { kind: 'backoff'; waitMs: number }
  | { kind: 'refuse'; reason: 'InvalidSpec'; message: string }
  | { kind: 'wait'; reason: 'ClusterNotFound' | 'ClusterDeleting' | 'ClusterNotReady'; message: string }
  | { kind: 'start' }
  | { kind: 'take' };

/** The problems of an EtcdBackup's spec, in the words of its condition. Empty: fine. */
export function etcdBackupSpecProblems(spec: EtcdBackupSpec | undefined): string[] {
  const out: string[] = [];
  const name = spec?.clusterName;
  if (typeof name !== 'string' || name.length > 63 || !CLUSTER_NAME_PATTERN.test(name)) out.push(`spec.clusterName "${String(name)}" must name an EtcdCluster (a DNS label)`);
  out.push(...destinationProblems(spec, 'spec'));
  return out;
}

export function planEtcdBackup(b: EtcdBackup, cluster: ObservedBackupCluster, nowMs = 0): EtcdBackupStep {
  const phase = b.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return { kind: 'done' };
  const problems = etcdBackupSpecProblems(b.spec);
  if (problems.length > 0) return { kind: 'refuse', reason: 'InvalidSpec', message: problems.join('; ') };
  if (phase === 'Running') {
    const next = Date.parse(b.status?.nextAttemptTime ?? '');
    return !Number.isNaN(next) && next > nowMs ? { kind: 'backoff', waitMs: next - nowMs } : { kind: 'take' };
  }
  const c = b.spec.clusterName;
  if (cluster.kind === 'missing') return { kind: 'wait', reason: 'ClusterNotFound', message: `EtcdCluster "${c}" does not exist in ${b.metadata.namespace}; waiting for it` };
  if (cluster.kind === 'deleting') return { kind: 'wait', reason: 'ClusterDeleting', message: `EtcdCluster "${c}" is being deleted` };
  if (cluster.voters === 0) return { kind: 'wait', reason: 'ClusterNotReady', message: `no voting member of EtcdCluster "${c}" answers yet; waiting` };
  return { kind: 'start' };
}

/** The object key of a backup attempt started at startMs: <prefix><namespace>/<cluster>/on-demand/<backup>-<UTC time>.db (outside the scheduled backups' retention). */
export function etcdBackupKey(b: EtcdBackup, startMs: number): string {
  const folder = `${backupFolder(destinationPrefix(b.spec), b.metadata.namespace, b.spec.clusterName)}on-demand/`;
  return backupKey(folder, b.metadata.name, startMs);
}

export interface BackupAttempt {
  ok: boolean;
  reason: string;
  message: string;
  record: { key: string; location: string; sizeBytes: number; revision: number; sha256: string; memberEndpoint: string } | null;
}

function withCondition(prev: EtcdBackupStatus, b: EtcdBackup, c: Omit<EtcdBackupCondition, 'type' | 'lastTransitionTime' | 'observedGeneration'>, nowIso: string): EtcdBackupCondition[] {
  const was = prev.conditions?.find((x) => x.type === 'Succeeded');
  const lastTransitionTime = was !== undefined && was.status === c.status ? was.lastTransitionTime : nowIso;
  return [{ type: 'Succeeded', ...c, lastTransitionTime, observedGeneration: b.metadata.generation ?? 0 }];
}

/** The status after a step (attempt: what `take` gave). Unchanged fields carry over. */
export function etcdBackupStatus(b: EtcdBackup, step: EtcdBackupStep, attempt: BackupAttempt | null, nowIso: string): EtcdBackupStatus {
  const prev = b.status ?? {};
  const { nextAttemptTime: _retryAt, ...rest } = prev;
  const base: EtcdBackupStatus = { ...rest, observedGeneration: b.metadata.generation ?? 0 };
  switch (step.kind) {
    case 'done':
    case 'backoff':
      return prev;
    case 'refuse':
      return { ...base, phase: 'Failed', completionTime: nowIso, conditions: withCondition(prev, b, { status: 'False', reason: step.reason, message: step.message }, nowIso) };
    case 'wait':
      return { ...base, phase: 'Pending', conditions: withCondition(prev, b, { status: 'Unknown', reason: step.reason, message: step.message }, nowIso) };
    case 'start':
      return { ...base, phase: 'Running', startTime: nowIso, conditions: withCondition(prev, b, { status: 'Unknown', reason: 'Running', message: `backing up EtcdCluster "${b.spec.clusterName}"` }, nowIso) };
    case 'take': {
      if (attempt === null) throw new Error('etcdBackupStatus: take without an attempt');
      const failed = (prev.attempts ?? 0) + 1;
      if (!attempt.ok && TRANSIENT_BACKUP_REASONS.has(attempt.reason) && failed < BACKUP_MAX_ATTEMPTS) {
        const waitMs = backupRetryDelayMs(failed);
        const message = `attempt ${failed} of ${BACKUP_MAX_ATTEMPTS} failed (${attempt.reason}: ${attempt.message}); trying again in ${waitMs / 1000} s`;
        return {
          ...base, phase: 'Running', attempts: failed, nextAttemptTime: utcIso(Date.parse(nowIso) + waitMs),
          conditions: withCondition(prev, b, { status: 'Unknown', reason: 'Retrying', message }, nowIso),
        };
      }
      if (!attempt.ok || attempt.record === null) {
        return { ...base, phase: 'Failed', completionTime: nowIso, conditions: withCondition(prev, b, { status: 'False', reason: attempt.reason, message: attempt.message }, nowIso) };
      }
      const r = attempt.record;
      return {
        ...base, phase: 'Succeeded', completionTime: nowIso,
        location: r.location, key: r.key, sizeBytes: r.sizeBytes, revision: r.revision, sha256: r.sha256, member: r.memberEndpoint,
        conditions: withCondition(prev, b, { status: 'True', reason: 'BackupSucceeded', message: successMessage(r) }, nowIso),
      };
    }
  }
}

export function successMessage(r: NonNullable<BackupAttempt['record']>): string {
  return `backed up revision ${r.revision} (${r.sizeBytes} bytes) from ${r.memberEndpoint} to ${r.location}`;
}

/** The Event a step's status change deserves, or null (a wait Event only when its reason changes). */
export function etcdBackupEvent(prev: EtcdBackupStatus, next: EtcdBackupStatus, step: EtcdBackupStep): { type: 'Normal' | 'Warning'; reason: string; message: string } | null {
  const c = next.conditions?.[0];
  if (c === undefined || step.kind === 'done') return null;
  switch (step.kind) {
    case 'refuse': return { type: 'Warning', reason: 'InvalidSpec', message: c.message };
    case 'wait': return prev.conditions?.[0]?.reason === c.reason ? null : { type: 'Normal', reason: c.reason, message: c.message };
    case 'start': return { type: 'Normal', reason: 'BackupStarted', message: c.message };
    case 'backoff': return null;
    case 'take':
      if (c.status === 'True') return { type: 'Normal', reason: 'BackupSucceeded', message: c.message };
      return c.reason === 'Retrying' ? { type: 'Warning', reason: 'BackupRetrying', message: c.message } : { type: 'Warning', reason: 'BackupFailed', message: `${c.reason}: ${c.message}` };
  }
}
