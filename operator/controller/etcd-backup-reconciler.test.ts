// The EtcdBackup controller against the in-memory KubeApi, the member-API twin streaming a real snapshot
// and a folder as the object store (S3 itself: test/integration/backup-s3.test.ts). Asserts what a user
// sees: phase, condition, location, size, revision, Events; that the attempt is recorded before the
// snapshot (crash point) and that bad input fails with a reason and writes nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../node/log.js';
import type { EtcdBackup } from '../api/etcd-backup.js';
import { DirObjectStore } from '../backup/dir-object-store.js';
import { snapshotBytes } from '../backup/testing/snapshot-bytes.js';
import { EtcdBackupReconciler } from './etcd-backup-reconciler.js';
import { setup } from './testing/reconciler-harness.js';

let root: string;
let store: DirObjectStore;
const s3 = { endpoint: 'http://objects.invalid:9000', bucket: 'backups', prefix: 'p', credentialsSecret: { name: 'creds' } };

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'etcd-backup-'));
  store = new DirObjectStore(join(root, 'store'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function withBackupController(spec: Partial<EtcdBackup['spec']> = {}) {
  const t = setup({ replicas: 3 });
  t.kube.secrets.set('ns/creds', { accessKeyID: Buffer.from('id'), secretAccessKey: Buffer.from('secret') });
  const r = new EtcdBackupReconciler({
    kube: t.kube, members: t.twin, memberApiFor: () => t.twin, clock: t.clock, log: silentLogger, endpointMode: 'pod-ip',
    backups: { tmpDir: root, storeFor: () => store },
  });
  const b: EtcdBackup = { apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdBackup', metadata: { name: 'b1', namespace: 'ns', uid: 'bu', generation: 1 }, spec: { clusterName: 'e', s3, ...spec } };
  t.kube.backups.set('ns/b1', b);
  const backup = (): EtcdBackup => t.kube.backups.get('ns/b1')!;
  const backupEvents = () => t.kube.events.filter((e) => e.about === 'EtcdBackup/b1');
  return { ...t, r, backup, backupEvents };
}

describe('EtcdBackup', () => {
  it('records the attempt, then backs up once: phase, location, size, revision and Events; then stays final', async () => {
    const t = withBackupController();
    const snap = await snapshotBytes([['a', '1'], ['b', '2']]);
    t.twin.snapshotBytes.set('*', snap.bytes);
    await t.settle();
    expect(await t.r.reconcile('ns', 'b1')).toEqual({ requeueAfterMs: 0, action: 'start' });
    // The intent is recorded before any snapshot is taken.
    expect(t.backup().status).toMatchObject({ phase: 'Running' });
    expect(t.twin.calls.some((c) => c.startsWith('snapshot:'))).toBe(false);
    expect(await t.r.reconcile('ns', 'b1')).toEqual({ requeueAfterMs: null, action: 'take' });
    const st = t.backup().status!;
    expect(st).toMatchObject({ phase: 'Succeeded', revision: snap.revision, sizeBytes: snap.bytes.length });
    expect(st.conditions?.[0]).toMatchObject({ type: 'Succeeded', status: 'True', reason: 'BackupSucceeded' });
    expect(st.key).toMatch(/^p\/ns\/e\/on-demand\/b1-\d{8}T\d{9}Z\.db$/);
    expect(st.location).toBe(`file://${join(root, 'store')}/${st.key}`);
    expect(st.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await store.list('p/')).map((o) => o.key)).toEqual([st.key]);
    expect(t.backupEvents().map((e) => e.reason)).toEqual(['BackupStarted', 'BackupSucceeded']);
    // Final: another pass takes nothing and writes nothing.
    const writes = t.kube.backupStatusWrites.length;
    expect(await t.r.reconcile('ns', 'b1')).toEqual({ requeueAfterMs: null, action: 'done' });
    expect(t.kube.backupStatusWrites).toHaveLength(writes);
    expect(t.twin.calls.filter((c) => c.startsWith('snapshot:'))).toHaveLength(1);
  });

  it('a crash after recording the attempt repeats it into the same key', async () => {
    const t = withBackupController();
    t.twin.snapshotBytes.set('*', (await snapshotBytes([['a', '1']])).bytes);
    await t.settle();
    await t.r.reconcile('ns', 'b1');
    const started = t.backup().status!.startTime;
    t.clock.advance(90_000); // the operator restarts later
    await t.r.reconcile('ns', 'b1');
    expect(t.backup().status?.phase).toBe('Succeeded');
    expect(t.backup().status?.key).toContain(started!.replace(/[-:]/g, '').replace('.', ''));
  });

  it('waits for a cluster that does not exist yet, with one Event, and backs it up once it does', async () => {
    const t = withBackupController({ clusterName: 'later' });
    expect(await t.r.reconcile('ns', 'b1')).toEqual({ requeueAfterMs: 10_000, action: 'wait' });
    await t.r.reconcile('ns', 'b1');
    expect(t.backup().status).toMatchObject({ phase: 'Pending', conditions: [{ status: 'Unknown', reason: 'ClusterNotFound' }] });
    expect(t.backupEvents().map((e) => e.reason)).toEqual(['ClusterNotFound']);
  });

  it('refuses bad input with a condition and a Warning Event, and writes nothing', async () => {
    const t = withBackupController({ s3: { ...s3, bucket: 'Bad_Bucket' } });
    t.twin.snapshotBytes.set('*', (await snapshotBytes([['a', '1']])).bytes);
    await t.settle();
    expect(await t.r.reconcile('ns', 'b1')).toEqual({ requeueAfterMs: null, action: 'refuse' });
    expect(t.backup().status).toMatchObject({ phase: 'Failed', conditions: [{ status: 'False', reason: 'InvalidSpec' }] });
    expect(t.backupEvents()).toEqual([{ type: 'Warning', reason: 'InvalidSpec', message: expect.stringContaining('spec.s3.bucket "Bad_Bucket"'), about: 'EtcdBackup/b1' }]);
    expect(await store.list('')).toEqual([]);
  });

  it('fails with the store reason on missing credentials or a corrupt snapshot, and uploads nothing', async () => {
    for (const [what, prepare, reason] of [
      ['no Secret', (t: ReturnType<typeof withBackupController>) => t.kube.secrets.delete('ns/creds'), 'CredentialsSecretNotFound'],
      ['corrupt', (t: ReturnType<typeof withBackupController>) => {
        const bytes = Buffer.from(t.twin.snapshotBytes.get('*')!);
        bytes[100] = bytes[100]! ^ 1;
        t.twin.snapshotBytes.set('*', bytes);
      }, 'SnapshotCorrupt'],
    ] as const) {
      const t = withBackupController();
      t.twin.snapshotBytes.set('*', (await snapshotBytes([['a', '1']])).bytes);
      await t.settle();
      prepare(t);
      await t.r.reconcile('ns', 'b1');
      await t.r.reconcile('ns', 'b1');
      expect(t.backup().status, what).toMatchObject({ phase: 'Failed', conditions: [{ status: 'False', reason }] });
      expect(t.backupEvents().at(-1), what).toMatchObject({ type: 'Warning', reason: 'BackupFailed' });
      expect(await store.list(''), what).toEqual([]);
    }
  });
});
