// The EtcdBackup controller's pass: observe (the EtcdBackup; the named cluster and which voting members
// answer, read the way a cluster pass reads them, without issuing anything), plan (plan/etcd-backup.ts,
// pure), act (record the attempt first; then stream, upload, verify: backup-runner.ts's backupOnce), and
// write status once, with one Event for what changed. Bad input (a spec the schema let through, wrong
// credentials, a missing bucket, a corrupt snapshot) ends in phase Failed with the reason in the
// Succeeded condition and a Warning Event; nothing is written to the store then, nothing is deleted.
import type { Logger } from '../../node/log.js';
import { resolveSpec } from '../api/defaults.js';
import type { EtcdBackup } from '../api/etcd-backup.js';
import type { EtcdCluster } from '../api/types.js';
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
}

export interface EtcdBackupResult {
  requeueAfterMs: number | null;
  action: ReturnType<typeof planEtcdBackup>['kind'] | 'gone';
}

/**
 * The voting members' endpoints of a cluster and the member API that reaches them (the cluster's
 * operator-client certificate under TLS). Read only: certificates are never issued from here.
 */
export async function memberAccess(d: Pick<EtcdBackupReconcilerDeps, 'kube' | 'members' | 'memberApiFor' | 'endpointMode'>, cluster: EtcdCluster, nowMs: number): Promise<{ api: MemberApi; endpoints: string[] }> {
  const ref = refOf(cluster);
  let spec = resolveSpec(cluster.spec ?? {});
  const runningPlain = spec.tls.mode === null && (await d.kube.getStatefulSet(ref.namespace, statefulSetName(ref)))?.peerTLS === false;
  spec = effectiveTls(ref, spec, runningPlain);
  const certs = await certificateStep(d.kube, ref, spec, nowMs, false);
  // The operator's user too when the cluster's auth is on (Snapshot is root-only then).
  const auth = await operatorCredentials(d.kube, cluster);
  const wants = certs.operatorSecret !== null || auth.credentials !== null;
  const api = wants && d.memberApiFor !== undefined ? d.memberApiFor(certs.operatorSecret, auth.credentials) : d.members;
  return { api, endpoints: voterEndpoints(await observe(d.kube, api, cluster, ref, spec, d.endpointMode)) };
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
    let access: { api: MemberApi; endpoints: string[] } | null = null;
    if (!final && typeof b.spec?.clusterName === 'string') {
      const c = await d.kube.getCluster(namespace, b.spec.clusterName);
      if (c !== null && c.metadata.deletionTimestamp !== undefined) cluster = { kind: 'deleting' };
      else if (c !== null) {
        access = await memberAccess(d, c, nowMs);
        cluster = { kind: 'present', voters: access.endpoints.length };
      }
    }

    // Plan, act.
    const step = planEtcdBackup(b, cluster);
    if (step.kind === 'done') return { requeueAfterMs: null, action: 'done' };
    let attempt: BackupAttempt | null = null;
    if (step.kind === 'take') attempt = await this.take(b, access, log);

    // Status, once; then the Event.
    const next = etcdBackupStatus(b, step, attempt, utcIso(nowMs));
    await d.kube.updateEtcdBackupStatus(b, next);
    const event = etcdBackupEvent(b.status ?? {}, next, step);
    if (event !== null) await d.kube.recordEvent(b, event.type, event.reason, event.message).catch(() => {});
    if (step.kind === 'take' || step.kind === 'refuse') log.info('backup finished', { phase: next.phase, reason: next.conditions?.[0]?.reason, location: next.location });
    return { requeueAfterMs: step.kind === 'wait' ? BACKUP_WAIT_REQUEUE_MS : step.kind === 'start' ? 0 : null, action: step.kind };
  }

  /** The recorded attempt: into the key its startTime names, from a voting member. Never throws. */
  private async take(b: EtcdBackup, access: { api: MemberApi; endpoints: string[] } | null, log: Logger): Promise<BackupAttempt> {
    if (access === null || access.endpoints.length === 0) {
      return { ok: false, reason: 'NoMemberAvailable', message: `no voting member of EtcdCluster "${b.spec.clusterName}" answered`, record: null };
    }
    const startMs = Date.parse(b.status?.startTime ?? '');
    const key = etcdBackupKey(b, Number.isNaN(startMs) ? this.d.clock.nowMs() : startMs);
    const r = await backupOnce({ ...this.d.backups, kube: this.d.kube, log }, b.metadata.namespace, b.spec.s3, key, access.api, access.endpoints, null);
    return { ok: r.succeeded, reason: r.reason, message: r.message, record: r.record };
  }
}
