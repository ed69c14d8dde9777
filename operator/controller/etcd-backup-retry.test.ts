// EtcdBackup retries and metrics: a transient failure (an endpoint that does not answer) is retried with
// backoff (10 s, 20 s, ...), the phase staying Running with the attempts counted, a Retrying condition
// and a Warning Event each time, until an attempt succeeds or BACKUP_MAX_ATTEMPTS are spent; a permanent
// one (a missing bucket) is final at once. The metrics (last success, size, failures, retries, duration)
// through the operator's real registry.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../node/log.js';
import type { EtcdBackup } from '../api/etcd-backup.js';
import { DirObjectStore } from '../backup/dir-object-store.js';
import { BackupStoreError, type ObjectStore } from '../backup/object-store.js';
import { snapshotBytes } from '../backup/testing/snapshot-bytes.js';
import { EtcdBackupMetrics } from '../etcd-backup-metrics.js';
import { OperatorMetrics } from '../metrics.js';
import { BACKUP_MAX_ATTEMPTS } from '../plan/etcd-backup.js';
import { EtcdBackupReconciler } from './etcd-backup-reconciler.js';
import { setup } from './testing/reconciler-harness.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'etcd-backup-retry-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A store whose uploads fail with `reason` the first `failures` times. */
class FlakyStore extends DirObjectStore {
  puts = 0;
  constructor(private readonly failures: number, private readonly reason: 'Unreachable' | 'NoSuchBucket') {
    super(join(root, 'store'));
  }

  override async put(key: string, file: string, size: number, meta: Record<string, string>): Promise<void> {
    this.puts++;
    if (this.puts <= this.failures) throw new BackupStoreError(this.reason, this.reason === 'Unreachable' ? 'connect ECONNREFUSED 127.0.0.1:9' : 'bucket "backups" does not exist');
    return super.put(key, file, size, meta);
  }
}
const flakyStore = (failures: number, reason: 'Unreachable' | 'NoSuchBucket'): FlakyStore => new FlakyStore(failures, reason);

async function withController(store: ObjectStore) {
  const t = setup({ replicas: 3 });
  t.kube.secrets.set('ns/creds', { accessKeyID: Buffer.from('id'), secretAccessKey: Buffer.from('secret') });
  const registry = new OperatorMetrics({ defaultMetrics: false }).registry;
  const r = new EtcdBackupReconciler({
    kube: t.kube, members: t.twin, memberApiFor: () => t.twin, clock: t.clock, log: silentLogger, endpointMode: 'pod-ip',
    backups: { tmpDir: root, storeFor: () => store }, metrics: new EtcdBackupMetrics(registry),
  });
  const b: EtcdBackup = { apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdBackup', metadata: { name: 'b1', namespace: 'ns', uid: 'bu', generation: 1 }, spec: { clusterName: 'e', s3: { endpoint: 'http://127.0.0.1:9', bucket: 'backups', credentialsSecret: { name: 'creds' } } } };
  t.kube.backups.set('ns/b1', b);
  t.twin.snapshotBytes.set('*', (await snapshotBytes([['a', '1']])).bytes);
  await t.settle();
  const backup = (): EtcdBackup => t.kube.backups.get('ns/b1')!;
  const events = (): string[] => t.kube.events.filter((e) => e.about === 'EtcdBackup/b1').map((e) => `${e.type}/${e.reason}`);
  return { ...t, r, backup, events, metrics: () => registry.metrics() };
}

describe('EtcdBackup retries', () => {
  it('retries a transient failure with backoff, then succeeds; the metrics count the retries and the success', async () => {
    const store = flakyStore(2, 'Unreachable');
    const t = await withController(store);
    await t.r.reconcile('ns', 'b1');
    expect(await t.r.reconcile('ns', 'b1')).toEqual({ requeueAfterMs: 10_000, action: 'take' });
    expect(t.backup().status).toMatchObject({ phase: 'Running', attempts: 1, conditions: [{ status: 'Unknown', reason: 'Retrying' }] });
    expect(t.backup().status?.conditions?.[0]?.message).toBe(`attempt 1 of ${BACKUP_MAX_ATTEMPTS} failed (Unreachable: connect ECONNREFUSED 127.0.0.1:9); trying again in 10 s`);
    // Before its time, a pass only waits.
    t.clock.advance(4_000);
    expect(await t.r.reconcile('ns', 'b1')).toEqual({ requeueAfterMs: 6_000, action: 'backoff' });
    expect(store.puts).toBe(1);
    t.clock.advance(6_000);
    expect(await t.r.reconcile('ns', 'b1')).toEqual({ requeueAfterMs: 20_000, action: 'take' });
    expect(t.backup().status?.attempts).toBe(2);
    t.clock.advance(20_000);
    expect(await t.r.reconcile('ns', 'b1')).toEqual({ requeueAfterMs: null, action: 'take' });
    expect(t.backup().status).toMatchObject({ phase: 'Succeeded', attempts: 2 });
    expect(t.backup().status?.nextAttemptTime).toBeUndefined();
    expect(t.events()).toEqual(['Normal/BackupStarted', 'Warning/BackupRetrying', 'Warning/BackupRetrying', 'Normal/BackupSucceeded']);
    const text = await t.metrics();
    expect(text).toMatch(/tsetcd_etcdbackup_retries_total\{namespace="ns",cluster="e",reason="Unreachable"\} 2/);
    expect(text).toMatch(/tsetcd_etcdbackup_successes_total\{namespace="ns",cluster="e"\} 1/);
    expect(text).toMatch(/tsetcd_etcdbackup_last_success_timestamp_seconds\{namespace="ns",cluster="e"\} \d+/);
    expect(text).toMatch(/tsetcd_etcdbackup_last_size_bytes\{namespace="ns",cluster="e"\} [1-9]\d*/);
    // Duration: from Running to Succeeded, the 30 s of backoff included.
    expect(text).toMatch(/tsetcd_etcdbackup_duration_seconds_sum\{namespace="ns",cluster="e",result="Succeeded"\} 30/);
  });

  it(`gives up after ${BACKUP_MAX_ATTEMPTS} attempts, Failed with the last reason`, async () => {
    const store = flakyStore(100, 'Unreachable');
    const t = await withController(store);
    await t.r.reconcile('ns', 'b1');
    for (let i = 0; i < BACKUP_MAX_ATTEMPTS; i++) {
      const res = await t.r.reconcile('ns', 'b1');
      t.clock.advance(res.requeueAfterMs ?? 0);
    }
    expect(store.puts).toBe(BACKUP_MAX_ATTEMPTS);
    expect(t.backup().status).toMatchObject({ phase: 'Failed', attempts: BACKUP_MAX_ATTEMPTS - 1, conditions: [{ status: 'False', reason: 'Unreachable' }] });
    expect(t.events().at(-1)).toBe('Warning/BackupFailed');
    expect(await t.metrics()).toMatch(/tsetcd_etcdbackup_failures_total\{namespace="ns",cluster="e",reason="Unreachable"\} 1/);
  });

  it('a permanent failure (a missing bucket) is final at once, without retries', async () => {
    const store = flakyStore(1, 'NoSuchBucket');
    const t = await withController(store);
    await t.r.reconcile('ns', 'b1');
    expect(await t.r.reconcile('ns', 'b1')).toEqual({ requeueAfterMs: null, action: 'take' });
    expect(t.backup().status).toMatchObject({ phase: 'Failed', conditions: [{ status: 'False', reason: 'NoSuchBucket' }] });
    expect(t.backup().status?.attempts).toBeUndefined();
    expect(store.puts).toBe(1);
    const text = await t.metrics();
    expect(text).toMatch(/tsetcd_etcdbackup_failures_total\{namespace="ns",cluster="e",reason="NoSuchBucket"\} 1/);
    expect(text).not.toMatch(/tsetcd_etcdbackup_retries_total\{/);
  });
});
