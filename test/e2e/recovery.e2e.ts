// Quorum-loss recovery end to end on the local control plane (issue 13): a 3-member cluster with N keys
// loses two members for good (their PVCs deleted, their pods back on empty volumes, where they refuse to
// start as themselves), the annotation tsetcd.dev/recover-quorum asks the operator to recover, and it
// restarts the third with --force-new-cluster (ETCD_FORCE_NEW_CLUSTER_FOR from the bootstrap ConfigMap),
// then re-adds the other two one at a time: every key is there at its revisions, 3 healthy members. Then
// the backup path: a backup to a real S3 server (SeaweedFS's weed), more keys written after it, every
// member wiped, and the recovery restores every member from the backup (the keys after it are gone, as
// status.recovery.loses said). Then spec.quorumRecovery.policy Automatic (grace 60 s): two members wiped
// again, and the operator recovers on its own once the grace period is over. The annotation on a healthy
// cluster, and on a cluster with no survivor and no backup, is refused with a condition and an Event and
// changes nothing. The recovery times are printed. Keys are random from a printed seed.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { TestRng } from '../../node/mvcc/testing/rng.js';
import { haveWeed, type S3Server } from '../integration/s3-server.js';
import { startBackupStore } from './backup-store.js';
import { isSettled, type Cluster } from './cluster-status.js';
import { readAll as readAllKvs, type Kv } from './keyspace.js';
import { clientTls, Kubectl, memberSpec, OperatorProcess, startLocalOperator, waitFor } from './harness.js';

const skip = inject('e2eSkip');
const local = inject('e2eLocal');
const ns = 'e2e-recovery';
const NAME = 'rq';
const BUCKET = 'tsetcd-e2e-recovery';
const SEED = Number(process.env['RECOVERY_SEED'] ?? Date.now() % 100_000);
const KEYS = Number(process.env['RECOVERY_KEYS'] ?? 1000);

interface RecoveringCluster extends Cluster {
  metadata: Cluster['metadata'] & { annotations?: Record<string, string> };
  status?: Cluster['status'] & {
    clusterID?: string;
    backup?: { lastRequest?: string; lastSuccessTime?: string; lastLocation?: string; lastRevision?: number };
    restore?: { location: string; revision: number };
    recovery?: { request: string; phase: string; message?: string; trigger?: string; source?: string; survivor?: { name: string; appliedIndex: number }; dropped?: number[]; loses?: string; startTime?: string; completionTime?: string };
  };
}
interface PodList { items: Array<{ metadata: { name: string; uid: string }; status: { podIP?: string } }> }
interface EventList { items: Array<{ reason: string; type: string; message: string; involvedObject: { kind: string; name: string } }> }

describe.skipIf(skip !== '' || !local || !haveWeed())(`quorum-loss recovery end to end (seed ${SEED}, ${KEYS} keys)`, () => {
  const k = new Kubectl(inject('e2eKubeconfig'));
  let operator: OperatorProcess | undefined;
  let s3: S3Server | undefined;
  const get = (): Promise<RecoveringCluster> => k.json<RecoveringCluster>(['get', 'etcdcluster', NAME, '-n', ns]);
  const pods = (): Promise<PodList> => k.json<PodList>(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${NAME}`]);
  const events = async (reason: string): Promise<EventList['items']> =>
    (await k.json<EventList>(['get', 'events', '-n', ns])).items.filter((e) => e.involvedObject.kind === 'EtcdCluster' && e.reason === reason);
  const failWith = async (err: unknown): Promise<never> => {
    const c = await get().catch(() => undefined);
    throw new Error(`${err instanceof Error ? err.message : String(err)}\nstatus: ${JSON.stringify(c?.status)}\noperator log:\n${operator?.logTail() ?? ''}`);
  };
  const settled = (timeoutMs = 600_000): Promise<RecoveringCluster> =>
    waitFor(`${NAME}: 3 healthy voters and Available=True`, timeoutMs, async () => {
      const c = await get();
      return isSettled(c, 3) ? c : undefined;
    }, 1000).catch(failWith);

  const readAll = (): Promise<{ kvs: Kv[]; revision: number }> => readAllKvs(k, ns, NAME, '/e2e/');

  /** n puts (random keys from the seed, some overwritten) straight to the members. */
  async function write(prefix: string, n: number, rng: TestRng): Promise<void> {
    const tls = await clientTls(k, ns, NAME);
    const client = new Etcd3({
      hosts: (await pods()).items.map((x) => `https://${x.status.podIP ?? ''}:2379`),
      credentials: { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key },
      grpcOptions: { 'grpc.ssl_target_name_override': `${NAME}-client.${ns}.svc` },
    });
    try {
      for (let i = 0; i < n; i++) await client.put(`/e2e/${prefix}/${String(rng.int(n)).padStart(5, '0')}`).value(`v${i}-${rng.int(1_000_000)}`);
    } finally {
      client.close();
    }
  }

  /** Members lost for good: PVCs deleted, pods deleted; the StatefulSet brings them back on empty volumes. */
  async function wipe(ordinals: number[]): Promise<void> {
    await k.ok(['delete', 'pvc', '-n', ns, '--wait=false', ...ordinals.map((o) => `data-${NAME}-${o}`)]);
    await k.ok(['delete', 'pod', '-n', ns, '--wait=false', ...ordinals.map((o) => `${NAME}-${o}`)]);
    await waitFor('the operator to see quorum lost', 120_000, async () => {
      const c = await get();
      return c.status?.conditions?.find((x) => x.type === 'Available')?.status === 'False' ? true : undefined;
    }, 1000).catch(failWith);
  }

  /** Annotates, then waits for the recovery to finish and the cluster to settle; returns the figures. */
  async function recover(request: string): Promise<{ c: RecoveringCluster; loses: string; survivorAloneMs: number | null; totalMs: number }> {
    const t0 = Date.now();
    await k.ok(['annotate', 'etcdcluster', NAME, '-n', ns, `tsetcd.dev/recover-quorum=${request}`, '--overwrite']);
    // What is lost is in status before the first step is acted on.
    const started = await waitFor('status.recovery for the request', 60_000, async () => {
      const r = (await get()).status?.recovery;
      return r?.request === request && r.loses !== undefined ? r : undefined;
    }, 500).catch(failWith);
    let survivorAloneMs: number | null = null;
    await waitFor('the recovery to be Done', 600_000, async () => {
      const r = (await get()).status?.recovery;
      if (survivorAloneMs === null && r?.request === request && r.phase !== 'ForcingNewCluster' && r.source === 'Survivor') survivorAloneMs = Date.now() - t0;
      if (r?.phase === 'Refused') throw new Error(`refused: ${r.message ?? ''}`);
      return r?.request === request && r.phase === 'Done' ? r : undefined;
    }, 500).catch(failWith);
    const c = await settled();
    return { c, loses: started.loses ?? '', survivorAloneMs, totalMs: Date.now() - t0 };
  }

  beforeAll(async () => {
    console.log(`recovery e2e seed ${SEED}, ${KEYS} keys`);
    operator = await startLocalOperator(k, ns);
    s3 = await startBackupStore(k, ns, BUCKET);
  });

  afterAll(async () => {
    await k.run(['delete', 'etcdcluster', NAME, '-n', ns, '--ignore-not-found', '--timeout=120s']);
    await operator?.stop();
    await s3?.stop();
  });

  it('refuses the annotation on a healthy cluster (condition and Event), changing nothing', async () => {
    const store = { endpoint: s3!.endpoint, bucket: BUCKET, prefix: 'e2e/', credentialsSecret: { name: 'backup-creds' } };
    const applied = await k.apply({
      apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdCluster', metadata: { name: NAME, namespace: ns },
      spec: memberSpec({ cpu: '250m', memory: '256Mi', retentionPolicy: 'Delete', extra: { backup: { s3: store } } }),
    });
    expect(applied.stderr).toBe('');
    await settled();
    const before = (await pods()).items.map((p) => p.metadata.uid).sort();
    await k.ok(['annotate', 'etcdcluster', NAME, '-n', ns, 'tsetcd.dev/recover-quorum=healthy', '--overwrite']);
    const c = await waitFor('the refusal', 60_000, async () => {
      const x = await get();
      return x.status?.recovery?.request === 'healthy' ? x : undefined;
    }, 500).catch(failWith);
    expect(c.status?.recovery?.phase).toBe('Refused');
    expect(c.status?.conditions?.find((x) => x.type === 'RecoverySucceeded')).toMatchObject({ status: 'False', reason: 'QuorumNotLost' });
    expect(await waitFor('the Event', 30_000, async () => ((await events('RecoveryRefusedQuorumNotLost')).length > 0 ? true : undefined), 500)).toBe(true);
    expect((await pods()).items.map((p) => p.metadata.uid).sort()).toEqual(before);
    expect(isSettled(await get(), 3)).toBe(true);
  });

  it('recovers from the surviving member: two members wiped for good, every key back, 3 healthy members', async () => {
    const rng = new TestRng(SEED);
    await write('survivor', KEYS, rng);
    const before = await readAll();
    expect(before.kvs.length).toBeGreaterThan(KEYS / 2);
    // The leader and one more go: the survivor is a follower that must take over alone.
    const leader = (await get()).status?.leader ?? `${NAME}-0`;
    const lost = [0, 1, 2].filter((o) => `${NAME}-${o}` !== leader).slice(0, 1).concat([Number(leader.slice(NAME.length + 1))]).sort();
    await wipe(lost);
    const r = await recover('survivor-1');
    console.log(`recovery from the survivor (${KEYS} keys, members ${lost.join(',')} wiped): survivor alone after ${r.survivorAloneMs ?? -1} ms, 3 healthy members after ${r.totalMs} ms`);
    expect(r.loses).toContain(`members ${lost.map((o) => `#${o}`).join(', ')} are dropped`);
    expect(r.c.status?.recovery).toMatchObject({ phase: 'Done', source: 'Survivor', dropped: lost });
    expect(r.c.status?.conditions?.find((x) => x.type === 'RecoverySucceeded')).toMatchObject({ status: 'True', reason: 'Recovered' });
    const after = await readAll();
    expect(after.kvs).toEqual(before.kvs);
    for (const reason of ['QuorumRecoveryStarted', 'RecoveryRestartSurvivor', 'RecoveryClearFlag', 'QuorumRecovered']) expect((await events(reason)).length, reason).toBeGreaterThan(0);
    // The flag is gone from the bootstrap ConfigMap: a later restart of the survivor drops nobody.
    const cm = await k.json<{ data: Record<string, string> }>(['get', 'configmap', `${NAME}-bootstrap`, '-n', ns]);
    expect(cm.data['force-new-cluster-for']).toBeUndefined();
  }, 900_000);

  it('recovers from the newest backup when no member survives: every key as of the backup, the later ones lost as said', async () => {
    await k.ok(['annotate', 'etcdcluster', NAME, '-n', ns, 'tsetcd.dev/backup-request=before-loss', '--overwrite']);
    const backedUp = await waitFor('the on-demand backup', 180_000, async () => {
      const b = (await get()).status?.backup;
      return b?.lastRequest === 'before-loss' && b.lastSuccessTime !== undefined ? b : undefined;
    }, 1000).catch(failWith);
    const atBackup = await readAll();
    expect(backedUp.lastRevision).toBe(atBackup.revision);
    await write('after-backup', 50, new TestRng(SEED + 1));
    expect((await readAll()).kvs.length).toBeGreaterThan(atBackup.kvs.length);
    await wipe([0, 1, 2]);
    const r = await recover('backup-1');
    console.log(`recovery from the backup (${atBackup.kvs.length} keys, revision ${atBackup.revision}): 3 healthy members after ${r.totalMs} ms`);
    expect(r.loses).toContain(`every write after revision ${atBackup.revision} is lost`);
    expect(r.c.status?.recovery).toMatchObject({ phase: 'Done', source: 'Backup' });
    expect(r.c.status?.restore).toMatchObject({ location: backedUp.lastLocation, revision: atBackup.revision });
    const after = await readAll();
    expect(after.kvs).toEqual(atBackup.kvs);
  }, 900_000);
  it('Automatic policy: two members wiped again, the operator recovers on its own after the grace period', async () => {
    await k.ok(['patch', 'etcdcluster', NAME, '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { quorumRecovery: { policy: 'Automatic', gracePeriodSeconds: 60 } } })]);
    await settled();
    const before = await readAll();
    const leader = (await get()).status?.leader ?? `${NAME}-0`;
    const lost = [0, 1, 2].filter((o) => `${NAME}-${o}` !== leader).slice(0, 2);
    const t0 = Date.now();
    await wipe(lost);
    const done = await waitFor('the automatic recovery to be Done', 600_000, async () => {
      const r = (await get()).status?.recovery;
      return r?.trigger === 'Policy' && r.phase === 'Done' ? r : undefined;
    }, 1000).catch(failWith);
    const c = await settled();
    const unavailableMs = Date.parse(done.startTime ?? '') - t0;
    console.log(`automatic recovery (grace 60 s, members ${lost.join(',')} wiped): started ${unavailableMs} ms after the wipe, 3 healthy members after ${Date.now() - t0} ms`);
    expect(unavailableMs).toBeGreaterThanOrEqual(60_000);
    expect(done.request.startsWith('auto:')).toBe(true);
    expect(c.status?.recovery?.survivor?.name).toBe(leader);
    expect((await readAll()).kvs).toEqual(before.kvs);
    expect((await events('QuorumRecoveryStarted')).some((e) => e.message.includes('policy Automatic'))).toBe(true);
  }, 900_000);

  it('no survivor and no backup: refused with a condition and an Event, nothing deleted', async () => {
    const nb = 'nb';
    await k.apply({ apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdCluster', metadata: { name: nb, namespace: ns }, spec: memberSpec({ cpu: '250m', memory: '256Mi', retentionPolicy: 'Delete', replicas: 1 }) });
    const getNb = (): Promise<RecoveringCluster> => k.json<RecoveringCluster>(['get', 'etcdcluster', nb, '-n', ns]);
    await waitFor(`${nb}: 1 healthy voter`, 300_000, async () => (isSettled(await getNb(), 1) ? true : undefined), 1000).catch(failWith);
    await k.ok(['delete', 'pvc', '-n', ns, '--wait=false', `data-${nb}-0`]);
    await k.ok(['delete', 'pod', '-n', ns, '--wait=false', `${nb}-0`]);
    await waitFor(`${nb}: quorum lost`, 120_000, async () => ((await getNb()).status?.conditions?.find((x) => x.type === 'Available')?.status === 'False' ? true : undefined), 1000);
    const pvcUIDs = async (): Promise<string> => (await k.run(['get', 'pvc', '-n', ns, '-l', `app.kubernetes.io/instance=${nb}`, '-o', 'jsonpath={.items[*].metadata.uid}'])).stdout;
    const pvcsBefore = await waitFor('the new PVC', 60_000, async () => ((await pvcUIDs()) !== '' ? pvcUIDs() : undefined), 1000);
    await k.ok(['annotate', 'etcdcluster', nb, '-n', ns, 'tsetcd.dev/recover-quorum=nothing-left', '--overwrite']);
    const c = await waitFor('the refusal', 60_000, async () => {
      const x = await getNb();
      return x.status?.recovery?.request === 'nothing-left' ? x : undefined;
    }, 500);
    expect(c.status?.recovery?.phase).toBe('Refused');
    expect(c.status?.conditions?.find((x) => x.type === 'RecoverySucceeded')).toMatchObject({ status: 'False', reason: 'NoSurvivor' });
    expect((await k.json<EventList>(['get', 'events', '-n', ns])).items.some((e) => e.involvedObject.name === nb && e.reason === 'RecoveryRefusedNoSurvivor')).toBe(true);
    expect(await pvcUIDs()).toBe(pvcsBefore);
    expect((await k.run(['get', 'statefulset', nb, '-n', ns])).code).toBe(0);
    await k.run(['delete', 'etcdcluster', nb, '-n', ns, '--timeout=120s']);
  }, 600_000);
});
