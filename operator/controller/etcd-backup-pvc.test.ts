// An EtcdBackup to a PersistentVolumeClaim against the in-memory KubeApi: the operator creates the backup
// pod (it never mounts the claim), and the pod's work is done here by the very command the pod runs
// (backup/backup-to-dir.ts, against the member-API twin streaming a real snapshot, into a temp folder
// standing for the claim); its result becomes the pod's termination message. Asserts what a user sees:
// the pod and its spec, phase, location, size, revision, sha256, Events, and that the pod goes once
// the outcome is recorded; a missing claim fails with a reason and no pod. The real thing, on the
// local control plane: test/e2e/backup-pvc.e2e.ts.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../node/log.js';
import type { EtcdBackup } from '../api/etcd-backup.js';
import { snapshotBytes } from '../backup/testing/snapshot-bytes.js';
import { EtcdBackupReconciler } from './etcd-backup-reconciler.js';
import { setup } from './testing/reconciler-harness.js';
import { runBackupPod } from './testing/run-backup-pod.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'etcd-backup-pvc-'));
  mkdirSync(join(root, 'claim'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function withPvcBackup() {
  const t = setup({ replicas: 3 });
  const r = new EtcdBackupReconciler({
    kube: t.kube, members: t.twin, memberApiFor: () => t.twin, clock: t.clock, log: silentLogger, endpointMode: 'pod-ip',
    backups: { tmpDir: root }, operatorImage: { image: 'op:1', command: ['tsetcd-operator'] },
  });
  const b: EtcdBackup = { apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdBackup', metadata: { name: 'b1', namespace: 'ns', uid: 'bu', generation: 1 }, spec: { clusterName: 'e', pvc: { claimName: 'backups', prefix: 'p' } } };
  t.kube.backups.set('ns/b1', b);
  t.kube.claims.set('ns/backups', { name: 'backups', uid: 'c1', terminating: false, phase: 'Bound', requestedStorage: '1Gi' });
  const backup = (): EtcdBackup => t.kube.backups.get('ns/b1')!;
  const backupEvents = () => t.kube.events.filter((e) => e.about === 'EtcdBackup/b1');
  const runPod = async (): Promise<void> => {
    await runBackupPod(t.kube, 'ns', 'b1-backup', join(root, 'claim'), t.twin, t.clock.nowMs());
  };
  return { ...t, r, backup, backupEvents, runPod };
}

describe('EtcdBackup to a PVC', () => {
  it('creates the backup pod, reads its verified outcome into status, then deletes the pod', async () => {
    const t = withPvcBackup();
    const snap = await snapshotBytes([['a', '1'], ['b', '2']]);
    t.twin.snapshotBytes.set('*', snap.bytes);
    await t.settle();
    expect(await t.r.reconcile('ns', 'b1')).toEqual({ requeueAfterMs: 0, action: 'start' });
    // The pod is created on the next pass, and the pass comes back while it works.
    expect(await t.r.reconcile('ns', 'b1')).toEqual({ requeueAfterMs: 2000, action: 'take' });
    expect(t.backup().status).toMatchObject({ phase: 'Running', pod: 'b1-backup' });
    const pod = t.kube.object('Pod', 'ns', 'b1-backup') as unknown as { metadata: { ownerReferences: unknown[] }; spec: Record<string, unknown> & { containers: Array<Record<string, unknown>>; volumes: unknown[] } };
    expect(pod.metadata.ownerReferences).toEqual([{ apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdBackup', name: 'b1', uid: 'bu', controller: true, blockOwnerDeletion: true }]);
    expect(pod.spec.restartPolicy).toBe('Never');
    expect(pod.spec.volumes).toContainEqual({ name: 'backup', persistentVolumeClaim: { claimName: 'backups' } });
    const c = pod.spec.containers[0]!;
    expect(c.image).toBe('op:1');
    expect(c.terminationMessagePath).toBe('/dev/termination-log');
    expect(c.command).toEqual(expect.arrayContaining(['tsetcd-operator', 'backup-to-dir', '--dir=/backup', '--location=pvc://backups/', '--endpoint-mode=pod-ip']));
    // Still at work: nothing changes.
    expect(await t.r.reconcile('ns', 'b1')).toEqual({ requeueAfterMs: 2000, action: 'take' });
    await t.runPod();
    expect(await t.r.reconcile('ns', 'b1')).toEqual({ requeueAfterMs: null, action: 'take' });
    const st = t.backup().status!;
    expect(st).toMatchObject({ phase: 'Succeeded', revision: snap.revision, sizeBytes: snap.bytes.length, pod: 'b1-backup' });
    expect(st.key).toMatch(/^p\/ns\/e\/on-demand\/b1-\d{8}T\d{9}Z\.db$/);
    expect(st.location).toBe(`pvc://backups/${st.key}`);
    const file = readFileSync(join(root, 'claim', st.key!));
    expect(createHash('sha256').update(file).digest('hex')).toBe(st.sha256);
    expect(file.equals(snap.bytes)).toBe(true);
    // Only the backup and its metadata are in the claim: the snapshot was streamed in and renamed.
    expect(readdirSync(join(root, 'claim'))).toEqual(['p']);
    expect(t.backupEvents().map((e) => e.reason)).toEqual(['BackupStarted', 'BackupSucceeded']);
    expect(t.kube.oneOffPods.has('ns/b1-backup')).toBe(false);
  });

  it('fails with ClaimNotFound, a Warning Event and no pod when the claim does not exist', async () => {
    const t = withPvcBackup();
    t.kube.claims.clear();
    t.twin.snapshotBytes.set('*', (await snapshotBytes([['a', '1']])).bytes);
    await t.settle();
    await t.r.reconcile('ns', 'b1');
    expect(await t.r.reconcile('ns', 'b1')).toEqual({ requeueAfterMs: null, action: 'take' });
    expect(t.backup().status).toMatchObject({ phase: 'Failed', conditions: [{ status: 'False', reason: 'ClaimNotFound', message: 'PersistentVolumeClaim "backups" does not exist in ns; nothing was written' }] });
    expect(t.backupEvents().at(-1)).toMatchObject({ type: 'Warning', reason: 'BackupFailed', message: expect.stringContaining('ClaimNotFound') });
    expect(t.kube.object('Pod', 'ns', 'b1-backup')).toBeUndefined();
  });

  it("a pod that failed reports the pod's reason; one that died without a result says so", async () => {
    const t = withPvcBackup();
    t.twin.snapshotBytes.set('*', (await snapshotBytes([['a', '1']])).bytes);
    await t.settle();
    await t.r.reconcile('ns', 'b1');
    await t.r.reconcile('ns', 'b1');
    t.kube.oneOffPods.set('ns/b1-backup', { phase: 'Failed', podIP: null, ready: false, deleting: false, terminationMessage: 'Killed', notRunning: null });
    await t.r.reconcile('ns', 'b1');
    expect(t.backup().status?.conditions?.[0]).toMatchObject({ status: 'False', reason: 'BackupPodFailed', message: 'the backup pod ended Failed without a result: Killed' });
  });
});
