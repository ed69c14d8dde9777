// Scheduled backups (spec.backup) to a PersistentVolumeClaim through the reconciler: the in-memory
// KubeApi, the member-API twin streaming a real snapshot, and the backup pod's own command run by the
// test as the kubelet would (testing/run-backup-pod.ts) into a folder standing for the claim. Asserts
// what a user sees: the pod and status.backup.pod while it works, then status, condition, Event and
// metrics as for S3, retention by count in the claim, the pod deleted after status; a missing claim
// consumes its minute with ClaimNotFound and creates no pod.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EtcdClusterSpec } from '../api/types.js';
import { snapshotBytes } from '../backup/testing/snapshot-bytes.js';
import { OperatorMetrics } from '../metrics.js';
import { cond, setup } from './testing/reconciler-harness.js';
import { runBackupPod } from './testing/run-backup-pod.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'reconciler-backup-pvc-'));
  mkdirSync(join(root, 'claim'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function withPvcBackups(spec: EtcdClusterSpec) {
  const metrics = new OperatorMetrics({ defaultMetrics: false });
  const t = setup(spec, metrics, { backups: { tmpDir: root } });
  t.kube.claims.set('ns/backups', { name: 'backups', uid: 'c1', terminating: false, phase: 'Bound', requestedStorage: '1Gi' });
  const backupPods = (): string[] => [...t.kube.oneOffPods.keys()];
  return { ...t, metrics, backupPods };
}

describe('scheduled backups to a PVC through the reconciler', () => {
  it('creates a backup pod when due, waits for it, records its verified outcome, deletes it, and applies retention in the claim', async () => {
    const t = withPvcBackups({ replicas: 3, backup: { schedule: '* * * * *', pvc: { claimName: 'backups', prefix: 'daily' }, retention: { maxCount: 2 } } });
    const snap = await snapshotBytes([['a', '1'], ['b', '2']]);
    t.twin.snapshotBytes.set('*', snap.bytes);
    await t.settle();
    for (let round = 0; round < 3; round++) {
      t.clock.advance(60_000);
      const started = await t.pass();
      expect(started).toMatchObject({ requeueAfterMs: 2000 });
      const running = t.kube.cluster('ns', 'e').status?.backup?.pod;
      expect(running?.name).toMatch(/^e-backup-\d{8}t\d{6}000z$/);
      expect(running?.key).toMatch(/^daily\/ns\/e\/e-\d{8}T\d{6}000Z\.db$/);
      expect(t.backupPods()).toEqual([`ns/${running!.name}`]);
      // While the pod works, passes change nothing of the backup.
      await t.pass();
      expect(t.kube.cluster('ns', 'e').status?.backup?.pod).toEqual(running);
      const res = await runBackupPod(t.kube, 'ns', running!.name, join(root, 'claim'), t.twin, t.clock.nowMs());
      expect(res.ok).toBe(true);
      await t.pass();
      const c = t.kube.cluster('ns', 'e');
      expect(c.status?.backup?.pod).toBeUndefined();
      expect(c.status?.backup).toMatchObject({ lastRevision: snap.revision, lastSizeBytes: snap.bytes.length, lastLocation: `pvc://backups/${running!.key}`, lastScheduleTime: running!.scheduleTime, consecutiveFailures: 0 });
      expect(cond(c, 'BackupSucceeded')).toMatchObject({ status: 'True', reason: 'BackupSucceeded' });
      expect(t.backupPods()).toEqual([]);
    }
    // Retention by count ran in the claim: the two newest stay.
    expect(readdirSync(join(root, 'claim', 'daily', 'ns', 'e')).filter((f) => f.endsWith('.db'))).toHaveLength(2);
    expect(t.kube.events.filter((e) => e.reason === 'BackupSucceeded')).toHaveLength(3);
    expect(t.kube.events.find((e) => e.reason === 'BackupSucceeded' && e.message.includes('retention removed 1'))).toBeDefined();
    const text = await t.metrics.registry.metrics();
    expect(text).toMatch(new RegExp(`tsetcd_cluster_backup_last_size_bytes\\{namespace="ns",cluster="e"\\} ${snap.bytes.length}`));
    expect(text).toMatch(/tsetcd_cluster_backup_successes_total\{namespace="ns",cluster="e"\} 3/);
  });

  it('a missing claim fails the minute with ClaimNotFound, a Warning Event and a metric, and creates no pod', async () => {
    const t = withPvcBackups({ replicas: 3, backup: { schedule: '* * * * *', pvc: { claimName: 'backups' } } });
    t.kube.claims.clear();
    t.twin.snapshotBytes.set('*', (await snapshotBytes([['a', '1']])).bytes);
    await t.settle();
    const failures = (): number => t.kube.cluster('ns', 'e').status?.backup?.consecutiveFailures ?? 0;
    const failedBefore = failures();
    t.clock.advance(60_000);
    await t.pass();
    const c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'BackupSucceeded')).toMatchObject({ status: 'False', reason: 'ClaimNotFound', message: 'PersistentVolumeClaim "backups" does not exist in ns; nothing was written' });
    expect(failures()).toBe(failedBefore + 1);
    const events = t.kube.events.filter((e) => e.reason === 'BackupFailed').length;
    expect(events).toBe(failedBefore + 1);
    expect(t.backupPods()).toEqual([]);
    expect(await t.metrics.registry.metrics()).toMatch(new RegExp(`tsetcd_cluster_backup_failures_total\\{namespace="ns",cluster="e",reason="ClaimNotFound"\\} ${failedBefore + 1}`));
    // The minute is consumed: the next pass in the same minute does not try again.
    await t.pass();
    expect(t.kube.events.filter((e) => e.reason === 'BackupFailed')).toHaveLength(events);
  });

  it('an attempt under way is seen through when the destination changes meanwhile', async () => {
    const t = withPvcBackups({ replicas: 3, backup: { schedule: '* * * * *', pvc: { claimName: 'backups' } } });
    t.twin.snapshotBytes.set('*', (await snapshotBytes([['a', '1']])).bytes);
    await t.settle();
    t.clock.advance(60_000);
    await t.pass();
    const running = t.kube.cluster('ns', 'e').status?.backup?.pod;
    expect(running).toBeDefined();
    t.kube.editSpec('ns', 'e', (c) => { c.spec.backup = { schedule: '0 0 1 1 *', s3: { endpoint: 'http://objects.invalid:9000', bucket: 'backups', credentialsSecret: { name: 'creds' } } }; });
    await runBackupPod(t.kube, 'ns', running!.name, join(root, 'claim'), t.twin, t.clock.nowMs());
    await t.pass();
    const c = t.kube.cluster('ns', 'e');
    expect(c.status?.backup?.pod).toBeUndefined();
    expect(c.status?.backup?.lastLocation).toBe(`pvc://backups/${running!.key}`);
    expect(t.backupPods()).toEqual([]);
  });
});
