// One EtcdBackup, the decisions only (pure; the time comes in): what the next step is, and the status
// each step writes. The reconciler (controller/etcd-backup-reconciler.ts) observes, asks planEtcdBackup,
// acts, then writes the status built here. The attempt is recorded (phase Running, startTime) before
// the snapshot is taken, and the object key derives from that startTime: a crash mid-backup repeats the
// same attempt into the same key. Succeeded and Failed are final (a one-off, like a Job without retries):
// a new EtcdBackup tries again.
import type { EtcdBackup, EtcdBackupCondition, EtcdBackupSpec, EtcdBackupStatus } from '../api/etcd-backup.js';
import { backupFolder, backupKey, destinationPrefix, destinationProblems } from './backup.js';

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

export type EtcdBackupStep =
  | { kind: 'done' }
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

export function planEtcdBackup(b: EtcdBackup, cluster: ObservedBackupCluster): EtcdBackupStep {
  const phase = b.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return { kind: 'done' };
  const problems = etcdBackupSpecProblems(b.spec);
  if (problems.length > 0) return { kind: 'refuse', reason: 'InvalidSpec', message: problems.join('; ') };
  if (phase === 'Running') return { kind: 'take' };
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
  const base: EtcdBackupStatus = { ...prev, observedGeneration: b.metadata.generation ?? 0 };
  switch (step.kind) {
    case 'done':
      return prev;
    case 'refuse':
      return { ...base, phase: 'Failed', completionTime: nowIso, conditions: withCondition(prev, b, { status: 'False', reason: step.reason, message: step.message }, nowIso) };
    case 'wait':
      return { ...base, phase: 'Pending', conditions: withCondition(prev, b, { status: 'Unknown', reason: step.reason, message: step.message }, nowIso) };
    case 'start':
      return { ...base, phase: 'Running', startTime: nowIso, conditions: withCondition(prev, b, { status: 'Unknown', reason: 'Running', message: `backing up EtcdCluster "${b.spec.clusterName}"` }, nowIso) };
    case 'take': {
      if (attempt === null) throw new Error('etcdBackupStatus: take without an attempt');
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
    case 'take': return c.status === 'True' ? { type: 'Normal', reason: 'BackupSucceeded', message: c.message } : { type: 'Warning', reason: 'BackupFailed', message: `${c.reason}: ${c.message}` };
  }
}
