// Backups and restore through the reconciler: the in-memory KubeApi, the member-API twin streaming a real
// snapshot (tsetcd's own exporter), and a folder as the object store (the S3 path is proven against a
// real server in test/integration/backup-s3.test.ts). Asserts what an operator user sees: status,
// conditions, Events, metrics, the StatefulSet's restore init container, and that nothing else changes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EtcdBackup } from '../api/etcd-backup.js';
import type { EtcdClusterSpec } from '../api/types.js';
import { DirObjectStore } from '../backup/dir-object-store.js';
import { snapshotBytes } from '../backup/testing/snapshot-bytes.js';
import { OperatorMetrics } from '../metrics.js';
import { RESTORE_CONTAINER } from '../plan/restore.js';
import { BACKUP_REQUEST_ANNOTATION } from './backup-runner.js';
import { cond, setup } from './testing/reconciler-harness.js';

let root: string;
let store: DirObjectStore;
const creds = { accessKeyID: Buffer.from('id'), secretAccessKey: Buffer.from('secret') };
const s3 = { endpoint: 'http://objects.invalid:9000', bucket: 'backups', prefix: 'daily', credentialsSecret: { name: 'creds' } };

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'reconciler-backup-'));
  store = new DirObjectStore(join(root, 'store'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function withBackups(spec: EtcdClusterSpec, metrics = new OperatorMetrics({ defaultMetrics: false })) {
  const t = setup(spec, metrics, { backups: { tmpDir: root, storeFor: () => store } });
  t.kube.secrets.set('ns/creds', creds);
  return { ...t, metrics };
}

describe('scheduled backups through the reconciler', () => {
  it('backs up when due, records status, condition, Event and metrics, and applies retention', async () => {
    const t = withBackups({ replicas: 3, backup: { schedule: '* * * * *', s3, retention: { maxCount: 2 } } });
    const snap = await snapshotBytes([['a', '1'], ['b', '2']]);
    t.twin.snapshotBytes.set('*', snap.bytes);
    await t.settle();
    for (let i = 0; i < 3; i++) {
      t.clock.advance(60_000);
      await t.pass();
    }
    const c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'BackupSucceeded')).toMatchObject({ status: 'True', reason: 'BackupSucceeded' });
    expect(c.status?.backup).toMatchObject({ lastRevision: snap.revision, lastSizeBytes: snap.bytes.length, consecutiveFailures: 0 });
    expect(c.status?.backup?.lastLocation).toMatch(/^file:\/\/.*\/daily\/ns\/e\/e-\d{8}T\d{9}Z\.db$/);
    expect(t.kube.events.filter((e) => e.reason === 'BackupSucceeded').length).toBeGreaterThanOrEqual(3);
    expect((await store.list('daily/ns/e/')).filter((o) => o.key.endsWith('.db'))).toHaveLength(2);
    const text = await t.metrics.registry.metrics();
    expect(text).toMatch(/tsetcd_cluster_backup_last_success_timestamp_seconds\{namespace="ns",cluster="e"\} \d+/);
    expect(text).toMatch(new RegExp(`tsetcd_cluster_backup_last_size_bytes\\{namespace="ns",cluster="e"\\} ${snap.bytes.length}`));
    // The snapshot came from the member with the highest applied index (all equal in the twin: any one, once per backup).
    expect(t.twin.calls.filter((x) => x.startsWith('snapshot:')).length).toBeGreaterThanOrEqual(3);
  });

  it('a corrupt snapshot fails with a condition, an Event and a metric, uploads nothing and leaves the cluster alone', async () => {
    const t = withBackups({ replicas: 3, backup: { schedule: '* * * * *', s3 } });
    const snap = await snapshotBytes([['a', '1']]);
    const bad = Buffer.from(snap.bytes);
    bad[100] = bad[100]! ^ 1;
    t.twin.snapshotBytes.set('*', bad);
    await t.settle();
    t.clock.advance(60_000);
    await t.pass();
    const c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'BackupSucceeded')).toMatchObject({ status: 'False', reason: 'SnapshotCorrupt' });
    expect(c.status?.backup?.consecutiveFailures).toBeGreaterThanOrEqual(1);
    expect(t.kube.events.some((e) => e.type === 'Warning' && e.reason === 'BackupFailed' && e.message.startsWith('SnapshotCorrupt'))).toBe(true);
    expect(await store.list('')).toEqual([]);
    expect(cond(c, 'Available')).toMatchObject({ status: 'True' });
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'False' });
    expect(await t.metrics.registry.metrics()).toMatch(/tsetcd_cluster_backup_failures_total\{namespace="ns",cluster="e",reason="SnapshotCorrupt"\} [1-9]/);
  });

  it('the tsetcd.dev/backup-request annotation takes one backup now, without a schedule, once per value', async () => {
    const t = withBackups({ replicas: 3, backup: { s3 } });
    t.twin.snapshotBytes.set('*', (await snapshotBytes([['a', '1']])).bytes);
    await t.settle();
    await t.pass();
    expect(await store.list('')).toEqual([]);
    const annotate = (v: string): void => t.kube.editSpec('ns', 'e', (c) => (c.metadata.annotations = { ...c.metadata.annotations, [BACKUP_REQUEST_ANNOTATION]: v }));
    annotate('first');
    await t.pass();
    await t.pass();
    expect(t.kube.cluster('ns', 'e').status?.backup?.lastRequest).toBe('first');
    expect((await store.list('')).filter((o) => o.key.endsWith('.db'))).toHaveLength(1);
    annotate('second');
    t.clock.advance(1);
    await t.pass();
    expect((await store.list('')).filter((o) => o.key.endsWith('.db'))).toHaveLength(2);
    expect(t.kube.events.filter((e) => e.reason === 'BackupSucceeded')).toHaveLength(2);
  });

  it('a bad backup spec is reported once, and does not stop the rest of the reconcile', async () => {
    const t = withBackups({ replicas: 3, backup: { schedule: '61 * * * *', s3, retention: { maxAge: '3 days' } } });
    await t.settle();
    await t.pass();
    const c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'BackupSucceeded')).toMatchObject({ status: 'False', reason: 'InvalidBackupSpec' });
    expect(cond(c, 'BackupSucceeded')?.message).toMatch(/backup.schedule "61 \* \* \* \*".*backup.retention.maxAge "3 days"/);
    expect(t.kube.events.filter((e) => e.reason === 'InvalidBackupSpec')).toHaveLength(1);
    expect(cond(c, 'Available')).toMatchObject({ status: 'True' });
    expect(t.twin.calls.some((x) => x.startsWith('snapshot:'))).toBe(false);
  });
});

describe('restore from a backup (spec.bootstrap.fromBackup)', () => {
  const key = 'daily/ns/old/old-20261201T000000000Z.db';
  const restoreSpec: EtcdClusterSpec = { replicas: 3, bootstrap: { fromBackup: { s3, key } } };

  it('refuses a missing backup with a condition and an Event, and starts no member', async () => {
    const t = withBackups(restoreSpec);
    await t.pass();
    await t.pass();
    const c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'RestoreRefused' });
    expect(cond(c, 'Degraded')?.message).toMatch(/BackupNotFound: .*no such backup/);
    expect(t.kube.events.some((e) => e.type === 'Warning' && e.reason === 'RestoreRefused')).toBe(true);
    expect(t.kube.object('StatefulSet', 'ns', 'e')).toBeUndefined();
    expect(c.status?.restore).toBeUndefined();
  });

  it('refuses a corrupt or truncated backup', async () => {
    const snap = await snapshotBytes([['a', '1']]);
    for (const [what, bytes] of [
      ['flipped', Buffer.concat([snap.bytes.subarray(0, 50), Buffer.from([snap.bytes[50]! ^ 0xff]), snap.bytes.subarray(51)])],
      ['truncated', snap.bytes.subarray(0, snap.bytes.length - 512)],
    ] as const) {
      const src = join(root, 'src');
      writeFileSync(src, bytes);
      await store.put(key, src, bytes.length, {});
      const t = withBackups(restoreSpec);
      await t.pass();
      const c = t.kube.cluster('ns', 'e');
      expect(cond(c, 'Degraded')?.reason, what).toBe('RestoreRefused');
      expect(cond(c, 'Degraded')?.message, what).toMatch(/SnapshotCorrupt: /);
      expect(t.kube.object('StatefulSet', 'ns', 'e'), what).toBeUndefined();
    }
  });

  it('verifies the backup, records it, and gives every member the restore init container with its sha256', async () => {
    const snap = await snapshotBytes([['a', '1'], ['b', '2'], ['c', '3']]);
    const src = join(root, 'src');
    writeFileSync(src, snap.bytes);
    await store.put(key, src, snap.bytes.length, {});
    const t = withBackups(restoreSpec);
    await t.settle();
    const c = t.kube.cluster('ns', 'e');
    expect(c.status?.restore).toMatchObject({ revision: snap.revision, sizeBytes: snap.bytes.length });
    expect(c.status?.restore?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(cond(c, 'Available')).toMatchObject({ status: 'True' });
    const pod = (t.kube.object('StatefulSet', 'ns', 'e')?.spec as { template: { spec: { initContainers: Array<{ name: string; command: string[]; env: Array<{ name: string }> }>; containers: Array<{ args: string[] }> } } }).template.spec;
    const init = pod.initContainers[0]!;
    expect(init.name).toBe(RESTORE_CONTAINER);
    expect(init.command.slice(0, 2)).toEqual(['tsetcd-operator', 'restore-member']);
    expect(init.command).toContain(`--sha256=${c.status?.restore?.sha256}`);
    expect(init.command).toContain(`--key=${key}`);
    expect(init.command.slice(init.command.indexOf('--') + 1)).toEqual(pod.containers[0]!.args);
    expect(init.env.map((e) => e.name)).toEqual(expect.arrayContaining(['ETCD_INITIAL_CLUSTER', 'ETCD_INITIAL_CLUSTER_TOKEN', 'TSETCD_BACKUP_ACCESS_KEY_ID', 'TSETCD_BACKUP_SECRET_ACCESS_KEY']));
    // Verified once: a later pass does not fetch again, even if the object goes away.
    await store.delete([key]);
    await t.pass();
    expect(cond(t.kube.cluster('ns', 'e'), 'Degraded')).toMatchObject({ status: 'False' });
  });
  it('restores from an EtcdBackup by name once it Succeeded; a missing or unfinished one is refused and starts no member', async () => {
    const snap = await snapshotBytes([['a', '1'], ['b', '2']]);
    const objectKey = 'daily/ns/old/on-demand/nightly-20261201T000000000Z.db';
    const src = join(root, 'src');
    writeFileSync(src, snap.bytes);
    await store.put(objectKey, src, snap.bytes.length, {});
    const t = withBackups({ replicas: 3, bootstrap: { fromBackup: { backupName: 'nightly' } } });
    await t.pass();
    expect(cond(t.kube.cluster('ns', 'e'), 'Degraded')?.message).toMatch(/BackupNotFound: EtcdBackup "nightly" does not exist in ns/);
    const backup: EtcdBackup = { apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdBackup', metadata: { name: 'nightly', namespace: 'ns', uid: 'b' }, spec: { clusterName: 'old', s3 }, status: { phase: 'Running' } };
    t.kube.backups.set('ns/nightly', backup);
    await t.pass();
    expect(cond(t.kube.cluster('ns', 'e'), 'Degraded')?.message).toMatch(/BackupNotReady: EtcdBackup "nightly" is Running, not Succeeded/);
    expect(t.kube.object('StatefulSet', 'ns', 'e')).toBeUndefined();
    backup.status = { phase: 'Succeeded', key: objectKey };
    await t.settle();
    const c = t.kube.cluster('ns', 'e');
    expect(c.status?.restore).toMatchObject({ key: objectKey, s3, revision: snap.revision });
    expect(cond(c, 'Available')).toMatchObject({ status: 'True' });
    const init = (t.kube.object('StatefulSet', 'ns', 'e')?.spec as { template: { spec: { initContainers: Array<{ command: string[] }> } } }).template.spec.initContainers[0]!;
    expect(init.command).toContain(`--key=${objectKey}`);
    expect(init.command).toContain(`--endpoint=${s3.endpoint}`);
  });
});
