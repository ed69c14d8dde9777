// Backup and restore end to end on the local control plane (issue 13): a cluster backed up on demand to
// a real S3 server (SeaweedFS's weed, listening on the pod bridge so that pods reach it), by the
// tsetcd.dev/backup-request annotation and by an EtcdBackup object, deleted with its PVCs, and a new 3-member cluster started from that backup through spec.bootstrap.fromBackup (the EtcdBackup by name): the
// operator verifies the object, each member pod's `restore` init container (run by the node agent
// before the member) seeds its data dir, and the new cluster serves every key at its revisions under a
// new cluster ID. Local control plane only (the operator runs as a process; pods must reach weed).
// The keys are random from a printed seed.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { haveWeed, startS3Server, type S3Server } from '../integration/s3-server.js';
import { isSettled, type Cluster } from './cluster-status.js';
import { Kubectl, memberSpec, OperatorProcess, startLocalOperator, waitFor } from './harness.js';
import { readAll, writeRandomKeys } from './keyspace.js';

const skip = inject('e2eSkip');
const local = inject('e2eLocal');
const ns = 'e2e-restore';
const BUCKET = 'tsetcd-e2e-backups';
const SEED = Number(process.env['RESTORE_SEED'] ?? Date.now() % 100_000);
/** The host's address on the pod bridge (hack/control-plane/env.sh): pods reach weed there. */
const BRIDGE_IP = (process.env['CP_BRIDGE_CIDR'] ?? '198.18.0.1/16').split('/')[0] as string;

interface RestoredCluster extends Cluster {
  status?: Cluster['status'] & {
    clusterID?: string;
    backup?: { lastRequest?: string; lastSuccessTime?: string; lastLocation?: string; lastRevision?: number; lastFailureMessage?: string };
    restore?: { location: string; key?: string; revision: number; sha256: string };
  };
}
interface PodList {
  items: Array<{
    metadata: { name: string };
    status: { podIP?: string; initContainerStatuses?: Array<{ name: string; state: { terminated?: { exitCode: number; reason?: string } } }> };
  }>;
}

describe.skipIf(skip !== '' || !local || !haveWeed())(`restore from a backup end to end (seed ${SEED})`, () => {
  const k = new Kubectl(inject('e2eKubeconfig'));
  let operator: OperatorProcess | undefined;
  let s3: S3Server | undefined;
  const get = (name: string): Promise<RestoredCluster> => k.json<RestoredCluster>(['get', 'etcdcluster', name, '-n', ns]);
  const pods = (name: string): Promise<PodList> => k.json<PodList>(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${name}`]);
  const failWith = async (name: string, err: unknown): Promise<never> => {
    const c = await get(name).catch(() => undefined);
    throw new Error(`${err instanceof Error ? err.message : String(err)}\nstatus: ${JSON.stringify(c?.status)}\noperator log:\n${operator?.logTail() ?? ''}`);
  };
  const settled = (name: string, n: number): Promise<RestoredCluster> =>
    waitFor(`${name}: ${n} healthy voters and Available=True`, 420_000, async () => {
      const c = await get(name);
      return isSettled(c, n) ? c : undefined;
    }, 2000).catch((err: unknown) => failWith(name, err));

  beforeAll(async () => {
    console.log(`restore e2e seed ${SEED}`);
    operator = await startLocalOperator(k, ns);
    s3 = await startS3Server({ ip: BRIDGE_IP });
    await s3.createBucket(BUCKET);
    await k.apply({
      apiVersion: 'v1', kind: 'Secret', metadata: { name: 'backup-creds', namespace: ns },
      stringData: { accessKeyID: s3.accessKeyID, secretAccessKey: s3.secretAccessKey },
    });
  });

  afterAll(async () => {
    await k.run(['delete', 'etcdbackups', '--all', '-n', ns, '--ignore-not-found']);
    for (const name of ['src', 'dst']) await k.run(['delete', 'etcdcluster', name, '-n', ns, '--ignore-not-found', '--timeout=120s']);
    await operator?.stop();
    await s3?.stop();
  });

  it('backs up a cluster to S3 (annotation and EtcdBackup), deletes it with its volumes, and a new 3-member cluster restored from the backup serves every key at its revisions', async () => {
    const store = { endpoint: s3!.endpoint, bucket: BUCKET, prefix: 'e2e/', credentialsSecret: { name: 'backup-creds' } };
    // 1. A one-member source cluster with a backup destination (no schedule: on demand only).
    const applied = await k.apply({
      apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdCluster', metadata: { name: 'src', namespace: ns },
      spec: memberSpec({ cpu: '250m', memory: '256Mi', retentionPolicy: 'Delete', replicas: 1, extra: { backup: { s3: store } } }),
    });
    expect(applied.stderr).toBe('');
    await settled('src', 1);
    const srcID = (await get('src')).status?.clusterID;

    // 2. Keys written, overwritten and deleted (random, from the seed), so revisions differ from key to key.
    await writeRandomKeys(k, ns, 'src', (await pods('src')).items.map((x) => x.status.podIP ?? ''), SEED, '/e2e/restore/');
    const before = await readAll(k, ns, 'src');
    expect(before.kvs.length).toBeGreaterThan(50);

    // 3. An on-demand backup, verified and recorded by the operator.
    await k.ok(['annotate', 'etcdcluster', 'src', '-n', ns, 'tsetcd.dev/backup-request=e2e-1', '--overwrite']);
    const backedUp = await waitFor('the on-demand backup', 180_000, async () => {
      const b = (await get('src')).status?.backup;
      return b?.lastRequest === 'e2e-1' && b.lastSuccessTime !== undefined ? b : undefined;
    }, 2000).catch((err: unknown) => failWith('src', err));
    expect(backedUp.lastRevision).toBe(before.revision);
    const location = backedUp.lastLocation ?? '';
    expect(location.startsWith(`s3://${BUCKET}/e2e/${ns}/src/`)).toBe(true);

    // 3b. The same as an EtcdBackup object: phase, location, size and revision in its status, Events on
    // it; the schema refuses a malformed one, and a missing bucket fails it with the store's reason.
    const etcdBackup = (name: string, bucket: string): Record<string, unknown> => ({
      apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdBackup', metadata: { name, namespace: ns }, spec: { clusterName: 'src', s3: { ...store, bucket } },
    });
    const malformed = await k.apply(etcdBackup('malformed', 'Not_A_Bucket'));
    expect(malformed.code).not.toBe(0);
    expect(malformed.stderr).toContain('spec.s3.bucket');
    expect((await k.apply(etcdBackup('one', BUCKET))).stderr).toBe('');
    expect((await k.apply(etcdBackup('nobucket', 'no-such-bucket'))).stderr).toBe('');
    interface Backup { status?: { phase?: string; key?: string; location?: string; sizeBytes?: number; revision?: number; conditions?: Array<{ type: string; status: string; reason: string }> } }
    const finalPhase = (name: string): Promise<NonNullable<Backup['status']>> => waitFor(`EtcdBackup ${name} to finish`, 180_000, async () => {
      const st = (await k.json<Backup>(['get', 'etcdbackup', name, '-n', ns])).status;
      return st?.phase === 'Succeeded' || st?.phase === 'Failed' ? st : undefined;
    }, 2000).catch((err: unknown) => failWith('src', err));
    const one = await finalPhase('one');
    expect(one).toMatchObject({ phase: 'Succeeded', revision: before.revision, conditions: [{ type: 'Succeeded', status: 'True', reason: 'BackupSucceeded' }] });
    expect(one.sizeBytes).toBeGreaterThan(0);
    expect(one.location).toBe(`s3://${BUCKET}/${one.key ?? ''}`);
    expect(one.key?.startsWith(`e2e/${ns}/src/on-demand/one-`)).toBe(true);
    expect(await finalPhase('nobucket')).toMatchObject({ phase: 'Failed', conditions: [{ type: 'Succeeded', status: 'False', reason: 'NoSuchBucket' }] });
    const events = await k.json<{ items: Array<{ reason: string; type: string; involvedObject: { kind: string; name: string } }> }>(['get', 'events', '-n', ns]);
    const about = (name: string): string[] => events.items.filter((e) => e.involvedObject.kind === 'EtcdBackup' && e.involvedObject.name === name).map((e) => `${e.type}/${e.reason}`);
    expect(about('one')).toEqual(expect.arrayContaining(['Normal/BackupStarted', 'Normal/BackupSucceeded']));
    expect(about('nobucket')).toContain('Warning/BackupFailed');
    // The restore below starts from that EtcdBackup, by name.

    // 4. The source cluster and its PVCs are gone.
    await k.ok(['delete', 'etcdcluster', 'src', '-n', ns, '--timeout=180s']);
    await waitFor('the source PVCs to be deleted', 120_000, async () =>
      (await k.json<{ items: unknown[] }>(['get', 'pvc', '-n', ns, '-l', 'app.kubernetes.io/instance=src'])).items.length === 0);

    // 5. A new 3-member cluster from that backup.
    const restored = await k.apply({
      apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdCluster', metadata: { name: 'dst', namespace: ns },
      spec: memberSpec({ cpu: '250m', memory: '256Mi', retentionPolicy: 'Delete', replicas: 3, extra: { bootstrap: { fromBackup: { backupName: 'one' } } } }),
    });
    expect(restored.stderr).toBe('');
    const c = await settled('dst', 3);
    expect(c.status?.restore?.location).toBe(one.location);
    expect(c.status?.restore?.key).toBe(one.key);
    expect(c.status?.restore?.revision).toBe(before.revision);
    expect(c.status?.clusterID).toBeDefined();
    expect(c.status?.clusterID).not.toBe(srcID);
    // Each member ran the restore init container to completion before it started.
    for (const pod of (await pods('dst')).items) {
      const init = pod.status.initContainerStatuses?.find((s) => s.name === 'restore');
      expect(init?.state.terminated, `${pod.metadata.name}: restore init container`).toMatchObject({ exitCode: 0, reason: 'Completed' });
    }
    const after = await readAll(k, ns, 'dst');
    expect(after.kvs).toEqual(before.kvs);
    expect(after.revision).toBe(before.revision);
  });
});
