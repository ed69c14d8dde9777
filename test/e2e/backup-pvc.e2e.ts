// Backup to a PersistentVolumeClaim and restore from it, end to end on the local control plane (issue
// 13): an EtcdBackup with spec.pvc makes the operator create a one-off backup pod (run by the node
// agent, as a kubelet would) that mounts the claim, streams the snapshot from the member with the
// highest applied index into it and verifies it; the pod's termination message carries the outcome
// into the EtcdBackup's status. The cluster is deleted with its PVCs, and a new 3-member cluster starts
// from that EtcdBackup: a restore source pod mounts the claim and serves the file, the operator checks
// it, each member's restore init container seeds its data dir, and the new cluster serves every key at
// its revisions. A backup to a claim that does not exist fails with ClaimNotFound and an Event; a
// backup to a claim too small for it (a size-limited volume of the node agent: ENOSPC as on a real
// disk) fails with NoSpace and an Event, and the earlier backup in that claim is whole: the new
// cluster is restored from it.
// Local control plane only (the operator runs as a process on the host). Keys from a printed seed.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isSettled, type Cluster } from './cluster-status.js';
import { Kubectl, memberSpec, OperatorProcess, startLocalOperator, waitFor } from './harness.js';
import { readAll, writeRandomKeys } from './keyspace.js';

const skip = inject('e2eSkip');
const local = inject('e2eLocal');
const ns = 'e2e-backup-pvc';
const SEED = Number(process.env['BACKUP_PVC_SEED'] ?? Date.now() % 100_000);

interface RestoredCluster extends Cluster {
  status?: Cluster['status'] & { clusterID?: string; restore?: { location: string; key?: string; revision: number; sha256: string; pvc?: { claimName: string } } };
}
interface PodList {
  items: Array<{
    metadata: { name: string };
    status: { podIP?: string; initContainerStatuses?: Array<{ name: string; state: { terminated?: { exitCode: number; reason?: string } } }> };
  }>;
}
interface Backup {
  status?: { phase?: string; key?: string; location?: string; sizeBytes?: number; revision?: number; sha256?: string; pod?: string; conditions?: Array<{ type: string; status: string; reason: string; message: string }> };
}

describe.skipIf(skip !== '' || !local)(`backup to a PVC and restore from it, end to end (seed ${SEED})`, () => {
  const k = new Kubectl(inject('e2eKubeconfig'));
  let operator: OperatorProcess | undefined;
  const get = (name: string): Promise<RestoredCluster> => k.json<RestoredCluster>(['get', 'etcdcluster', name, '-n', ns]);
  const pods = (name: string): Promise<PodList> => k.json<PodList>(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${name}`]);
  const failWith = async (name: string, err: unknown): Promise<never> => {
    const c = await get(name).catch(() => undefined);
    const all = await k.run(['get', 'pods,pvc,etcdbackups', '-n', ns, '-o', 'wide']);
    throw new Error(`${err instanceof Error ? err.message : String(err)}\nstatus: ${JSON.stringify(c?.status)}\n${all.stdout}\noperator log:\n${operator?.logTail() ?? ''}`);
  };
  const settled = (name: string, n: number): Promise<RestoredCluster> =>
    waitFor(`${name}: ${n} healthy voters and Available=True`, 420_000, async () => {
      const c = await get(name);
      return isSettled(c, n) ? c : undefined;
    }, 2000).catch((err: unknown) => failWith(name, err));
  const finalPhase = (name: string): Promise<NonNullable<Backup['status']>> => waitFor(`EtcdBackup ${name} to finish`, 180_000, async () => {
    const st = (await k.json<Backup>(['get', 'etcdbackup', name, '-n', ns])).status;
    return st?.phase === 'Succeeded' || st?.phase === 'Failed' ? st : undefined;
  }, 2000).catch((err: unknown) => failWith('src', err));
  const etcdBackup = (name: string, claimName: string): Record<string, unknown> => ({
    apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdBackup', metadata: { name, namespace: ns }, spec: { clusterName: 'src', pvc: { claimName, prefix: 'e2e/' } },
  });

  beforeAll(async () => {
    console.log(`backup-pvc e2e seed ${SEED}`);
    operator = await startLocalOperator(k, ns);
    // The claim the backups go to: the default StorageClass (the node agent's folders), bound when the first backup pod mounts it.
    await k.apply({
      apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'backups', namespace: ns },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    });
  });

  afterAll(async () => {
    await k.run(['delete', 'etcdbackups', '--all', '-n', ns, '--ignore-not-found']);
    for (const name of ['src', 'dst']) await k.run(['delete', 'etcdcluster', name, '-n', ns, '--ignore-not-found', '--timeout=120s']);
    await k.run(['delete', 'pvc', 'backups', 'small', '-n', ns, '--ignore-not-found', '--timeout=60s']);
    await k.run(['delete', 'storageclass', 'e2e-size-limited', '--ignore-not-found']);
    await operator?.stop();
  });

  it('backs up a cluster into a PVC (EtcdBackup; a missing claim and a full one fail with a reason), deletes it with its volumes, and a new 3-member cluster restored from the claim serves every key at its revisions', async () => {
    // 1. A one-member source cluster, and keys written, overwritten and deleted from the seed.
    const applied = await k.apply({
      apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdCluster', metadata: { name: 'src', namespace: ns },
      spec: memberSpec({ cpu: '250m', memory: '256Mi', retentionPolicy: 'Delete', replicas: 1, extra: { backup: { pvc: { claimName: 'backups', prefix: 'e2e/' }, retention: { maxCount: 3 } } } }),
    });
    expect(applied.stderr).toBe('');
    await settled('src', 1);
    const srcID = (await get('src')).status?.clusterID;
    await writeRandomKeys(k, ns, 'src', (await pods('src')).items.map((x) => x.status.podIP ?? ''), SEED, '/e2e/backup-pvc/');
    const before = await readAll(k, ns, 'src');
    expect(before.kvs.length).toBeGreaterThan(50);

    // 2. EtcdBackups to the claim, and to a claim that does not exist.
    expect((await k.apply(etcdBackup('to-pvc', 'backups'))).stderr).toBe('');
    expect((await k.apply(etcdBackup('no-claim', 'no-such-claim'))).stderr).toBe('');
    const one = await finalPhase('to-pvc');
    expect(one).toMatchObject({ phase: 'Succeeded', revision: before.revision, pod: 'to-pvc-backup', conditions: [{ type: 'Succeeded', status: 'True', reason: 'BackupSucceeded' }] });
    expect(one.sizeBytes).toBeGreaterThan(0);
    expect(one.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(one.key?.startsWith(`e2e/${ns}/src/on-demand/to-pvc-`)).toBe(true);
    expect(one.location).toBe(`pvc://backups/${one.key ?? ''}`);
    const missing = await finalPhase('no-claim');
    expect(missing).toMatchObject({ phase: 'Failed', conditions: [{ type: 'Succeeded', status: 'False', reason: 'ClaimNotFound' }] });
    const events = await k.json<{ items: Array<{ reason: string; type: string; involvedObject: { kind: string; name: string } }> }>(['get', 'events', '-n', ns]);
    const about = (name: string): string[] => events.items.filter((e) => e.involvedObject.kind === 'EtcdBackup' && e.involvedObject.name === name).map((e) => `${e.type}/${e.reason}`);
    expect(about('to-pvc')).toEqual(expect.arrayContaining(['Normal/BackupStarted', 'Normal/BackupSucceeded']));
    expect(about('no-claim')).toContain('Warning/BackupFailed');
    // The backup pod is gone once its outcome is recorded (the claim is free for the restore).
    await waitFor('the backup pod to be deleted', 60_000, async () => (await k.run(['get', 'pod', 'to-pvc-backup', '-n', ns])).code !== 0);

    // 2a. The cluster's own spec.backup to the claim, on demand (the backup-request annotation): a
    // backup pod named after the request's minute, its outcome in status.backup.
    await k.ok(['annotate', 'etcdcluster', 'src', '-n', ns, 'tsetcd.dev/backup-request=e2e-pvc-1', '--overwrite']);
    interface BackupStatus { lastRequest?: string; lastSuccessTime?: string; lastLocation?: string; lastRevision?: number; lastSizeBytes?: number; pod?: unknown }
    const scheduled = await waitFor('the cluster\'s own backup to the claim', 180_000, async () => {
      const b = (await get('src')).status as { backup?: BackupStatus } | undefined;
      return b?.backup?.lastRequest === 'e2e-pvc-1' && b.backup.lastSuccessTime !== undefined ? b.backup : undefined;
    }, 2000).catch((err: unknown) => failWith('src', err));
    expect(scheduled.lastRevision).toBe(before.revision);
    expect(scheduled.lastSizeBytes).toBe(one.sizeBytes);
    expect(scheduled.lastLocation?.startsWith(`pvc://backups/e2e/${ns}/src/src-`)).toBe(true);
    expect(scheduled.pod).toBeUndefined();
    expect((await get('src')).status?.conditions?.find((x) => x.type === 'BackupSucceeded')).toMatchObject({ status: 'True', reason: 'BackupSucceeded' });

    // 2b. A claim with room for one backup, not two (1.6 times one): the second fails with NoSpace.
    await k.apply({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'e2e-size-limited' }, provisioner: 'tsetcd.dev/node-agent-folder', parameters: { sizeLimit: 'enforced' }, reclaimPolicy: 'Delete', volumeBindingMode: 'WaitForFirstConsumer' });
    const smallKi = Math.ceil((one.sizeBytes ?? 0) * 1.6 / 1024);
    await k.apply({
      apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'small', namespace: ns },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'e2e-size-limited', resources: { requests: { storage: `${smallKi}Ki` } } },
    });
    expect((await k.apply(etcdBackup('small-1', 'small'))).stderr).toBe('');
    const small1 = await finalPhase('small-1');
    expect(small1).toMatchObject({ phase: 'Succeeded', revision: before.revision, sizeBytes: one.sizeBytes, sha256: one.sha256 });
    await waitFor('the first small backup pod to be deleted', 60_000, async () => (await k.run(['get', 'pod', 'small-1-backup', '-n', ns])).code !== 0);
    expect((await k.apply(etcdBackup('small-2', 'small'))).stderr).toBe('');
    const small2 = await finalPhase('small-2');
    expect(small2).toMatchObject({ phase: 'Failed', conditions: [{ type: 'Succeeded', status: 'False', reason: 'NoSpace' }] });
    expect(small2.conditions?.[0]?.message).toContain('no space left');
    const events2 = await k.json<{ items: Array<{ reason: string; type: string; involvedObject: { kind: string; name: string } }> }>(['get', 'events', '-n', ns]);
    expect(events2.items.filter((e) => e.involvedObject.name === 'small-2').map((e) => `${e.type}/${e.reason}`)).toContain('Warning/BackupFailed');

    // 3. The source cluster and its PVCs are gone; the backup claim stays.
    await k.ok(['delete', 'etcdcluster', 'src', '-n', ns, '--timeout=180s']);
    await waitFor('the source PVCs to be deleted', 120_000, async () =>
      (await k.json<{ items: unknown[] }>(['get', 'pvc', '-n', ns, '-l', 'app.kubernetes.io/instance=src'])).items.length === 0);

    // 4. A new 3-member cluster from the backup in the full claim: nothing of it was lost.
    const restored = await k.apply({
      apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdCluster', metadata: { name: 'dst', namespace: ns },
      spec: memberSpec({ cpu: '250m', memory: '256Mi', retentionPolicy: 'Delete', replicas: 3, extra: { bootstrap: { fromBackup: { backupName: 'small-1' } } } }),
    });
    expect(restored.stderr).toBe('');
    const c = await settled('dst', 3);
    expect(c.status?.restore).toMatchObject({ location: small1.location, key: small1.key, revision: before.revision, sha256: one.sha256, pvc: { claimName: 'small' } });
    expect(c.status?.clusterID).toBeDefined();
    expect(c.status?.clusterID).not.toBe(srcID);
    for (const pod of (await pods('dst')).items) {
      const init = pod.status.initContainerStatuses?.find((s) => s.name === 'restore');
      expect(init?.state.terminated, `${pod.metadata.name}: restore init container`).toMatchObject({ exitCode: 0, reason: 'Completed' });
    }
    const after = await readAll(k, ns, 'dst');
    expect(after.kvs).toEqual(before.kvs);
    expect(after.revision).toBe(before.revision);
    // The restore source pod goes once every member runs.
    await waitFor('the restore source pod to be deleted', 120_000, async () => (await k.run(['get', 'pod', 'dst-restore-source', '-n', ns])).code !== 0)
      .catch((err: unknown) => failWith('dst', err));
  });
});
