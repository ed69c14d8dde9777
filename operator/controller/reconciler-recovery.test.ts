// The quorum-loss recovery wired into the reconciler, over the in-memory KubeApi and the member-API twin:
// two of three members lose their data for good (new empty PVCs, they never answer again), the cluster
// has no leader, and the annotation tsetcd.dev/recover-quorum starts the recovery. The twin plays the
// member's side of ETCD_FORCE_NEW_CLUSTER_FOR: a pod of the named member, started while the bootstrap
// ConfigMap names it, comes back alone. Then the backup path, with a folder as the object store and a
// real snapshot. The real members, kube-apiserver and S3 server: test/e2e/recovery.e2e.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirObjectStore } from '../backup/dir-object-store.js';
import { snapshotBytes } from '../backup/testing/snapshot-bytes.js';
import { RESTORE_CONTAINER } from '../plan/restore.js';
import { BACKUP_REQUEST_ANNOTATION } from './backup-runner.js';
import type { EtcdClusterSpec } from '../api/types.js';
import { MemberApiError, type MemberList } from '../members/member-api.js';
import { FORCE_NEW_CLUSTER_KEY } from '../plan/bootstrap-configmap.js';
import { RECOVER_QUORUM_ANNOTATION } from '../plan/quorum-recovery.js';
import { hexID, peerURL } from '../plan/names.js';
import { cond, ref, setup } from './testing/reconciler-harness.js';

/** The members lose their data for good and quorum with them; the result ends the quorum loss (a new cluster). */
function lose(t: ReturnType<typeof setup>, ordinals: number[]): () => void {
  for (const o of ordinals) {
    const m = t.twin.members.find((x) => x.name === `e-${o}`)!;
    m.healthy = false;
    const pvc = t.kube.pvcs.get(`data-e-${o}`)!;
    t.kube.pvcs.set(pvc.name, { ...pvc, uid: `${pvc.uid}-wiped` });
  }
  // No quorum: no linearizable member list.
  let lost = true;
  const list = t.twin.list.bind(t.twin);
  t.twin.list = async (eps, opts): Promise<MemberList> => {
    if (lost && opts?.linearizable) throw new MemberApiError('Unavailable', 'etcdserver: no leader');
    return list(eps, opts);
  };
  t.twin.leaderID = '0';
  // The member's side: a pod started while the ConfigMap names it forces a new cluster of itself.
  const seen = new Map([...t.kube.pods].map(([n, p]) => [n, p]));
  const onPass = (): void => {
    for (const [n, p] of t.kube.pods) {
      if (p.createdTime == null) p.createdTime = new Date(t.clock.nowMs()).toISOString();
      if (seen.get(n) === p) continue;
      seen.set(n, p);
      const named = (t.kube.object('ConfigMap', 'ns', 'e-bootstrap')?.data as Record<string, string> | undefined)?.[FORCE_NEW_CLUSTER_KEY];
      if (named === n) {
        const self = t.twin.members.find((x) => x.name === n)!;
        t.twin.members = [self];
        t.twin.leaderID = self.id;
        lost = false;
      }
    }
  };
  hooks.set(t, onPass);
  return () => {
    lost = false;
  };
}
const hooks = new Map<ReturnType<typeof setup>, () => void>();

async function passes(t: ReturnType<typeof setup>, n: number, until: () => boolean): Promise<void> {
  for (let i = 0; i < n && !until(); i++) {
    await t.pass();
    hooks.get(t)?.();
  }
}

function annotate(t: ReturnType<typeof setup>, value: string): void {
  const c = t.kube.cluster('ns', 'e');
  c.metadata.annotations = { ...c.metadata.annotations, [RECOVER_QUORUM_ANNOTATION]: value };
}

describe('quorum-loss recovery from the survivor', () => {
  it('forces a new cluster from the member with its data, says what is lost first, then re-adds the others one at a time', async () => {
    const t = setup();
    await t.settle();
    const survivorID = t.twin.members.find((m) => m.name === 'e-0')!.id;
    lose(t, [1, 2]);
    // Without the annotation: nothing but waiting, however long.
    await passes(t, 5, () => false);
    expect(t.kube.cluster('ns', 'e').status?.recovery).toBeUndefined();
    expect(t.kube.events.filter((e) => e.reason.startsWith('Recovery') || e.reason.startsWith('Quorum'))).toEqual([]);

    annotate(t, 'now');
    await passes(t, 1, () => false);
    let c = t.kube.cluster('ns', 'e');
    expect(c.status?.recovery).toMatchObject({ request: 'now', phase: 'ForcingNewCluster', source: 'Survivor', survivor: { name: 'e-0', id: hexID(survivorID) }, dropped: [1, 2] });
    expect(c.status?.recovery?.loses).toContain('members #1, #2 are dropped');
    expect(cond(c, 'RecoverySucceeded')).toMatchObject({ status: 'False', reason: 'ForcingNewCluster' });
    // No stale healthy quorum in status while recovering: only the survivor answered.
    expect(c.status?.members?.map((m) => `${m.name}:${String(m.healthy)}:${String(m.isLeader)}`)).toEqual(['e-0:true:false', 'e-1:false:false', 'e-2:false:false']);
    expect(t.kube.events.find((e) => e.reason === 'QuorumRecoveryStarted')?.message).toContain('what is lost: members #1, #2');
    expect((t.kube.object('ConfigMap', 'ns', 'e-bootstrap')?.data as Record<string, string>)[FORCE_NEW_CLUSTER_KEY]).toBe('e-0');

    await passes(t, 60, () => t.kube.cluster('ns', 'e').status?.recovery?.phase === 'Done');
    c = t.kube.cluster('ns', 'e');
    expect(c.status?.recovery?.phase).toBe('Done');
    expect((t.kube.object('ConfigMap', 'ns', 'e-bootstrap')?.data as Record<string, string>)[FORCE_NEW_CLUSTER_KEY]).toBeUndefined();
    expect(t.kube.events.map((e) => e.reason)).toEqual(expect.arrayContaining(['RecoveryRestartSurvivor', 'RecoveryClearFlag', 'RecoveryRemoveStaleData', 'QuorumRecovered']));

    // The ordinary planner re-adds the two, one at a time.
    t.twin.calls.length = 0;
    await passes(t, 80, () => !t.actions.at(-1)!.startsWith('recovery') && t.kube.cluster('ns', 'e').status?.members?.filter((m) => m.healthy && !m.isLearner).length === 3 && !t.kube.cluster('ns', 'e').status?.currentOperation);
    c = t.kube.cluster('ns', 'e');
    expect(c.status?.members?.filter((m) => m.healthy && !m.isLearner)).toHaveLength(3);
    const adds = t.twin.calls.filter((x) => x.startsWith('add:') || x.startsWith('promote:'));
    expect(adds.map((x) => x.split(':')[0])).toEqual(['add', 'promote', 'add', 'promote']);
    expect(cond(c, 'Available')?.status).toBe('True');
    expect(cond(c, 'RecoverySucceeded')).toMatchObject({ status: 'True', reason: 'Recovered' });
    expect(t.twin.members.find((m) => m.name === 'e-0')!.id).toBe(survivorID);
  });

  it('refuses the annotation on a healthy cluster with a condition and an Event, and changes nothing', async () => {
    const t = setup();
    await t.settle();
    const pods = [...t.kube.pods.values()];
    const pvcs = [...t.kube.pvcs.values()].map((p) => p.uid);
    annotate(t, 'please');
    t.twin.calls.length = 0;
    await passes(t, 3, () => false);
    const c = t.kube.cluster('ns', 'e');
    expect(c.status?.recovery).toMatchObject({ request: 'please', phase: 'Refused' });
    expect(cond(c, 'RecoverySucceeded')).toMatchObject({ status: 'False', reason: 'QuorumNotLost' });
    expect(t.kube.events.filter((e) => e.reason === 'RecoveryRefusedQuorumNotLost')).toHaveLength(1);
    expect([...t.kube.pods.values()]).toEqual(pods);
    expect([...t.kube.pvcs.values()].map((p) => p.uid)).toEqual(pvcs);
    expect(t.twin.calls.filter((x) => !x.startsWith('list'))).toEqual([]);
    expect(cond(c, 'Available')?.status).toBe('True');
  });

  it('refuses without a survivor and without a backup: a condition and an Event, nothing deleted', async () => {
    const spec: EtcdClusterSpec = { replicas: 3 };
    const t = setup(spec);
    await t.settle();
    lose(t, [0, 1, 2]);
    const pvcs = [...t.kube.pvcs.values()].map((p) => p.uid);
    annotate(t, 'go');
    await passes(t, 3, () => false);
    const c = t.kube.cluster('ns', 'e');
    expect(c.status?.recovery).toMatchObject({ request: 'go', phase: 'Refused' });
    expect(cond(c, 'RecoverySucceeded')).toMatchObject({ status: 'False', reason: 'NoSurvivor' });
    expect(t.kube.events.filter((e) => e.reason === 'RecoveryRefusedNoSurvivor')).toHaveLength(1);
    expect([...t.kube.pvcs.values()].map((p) => p.uid)).toEqual(pvcs);
    expect(t.kube.object('StatefulSet', 'ns', 'e')).toBeDefined();
  });
});

describe('the Automatic policy', () => {
  it('starts a recovery once quorum has been lost for the grace period, and only once per outage', async () => {
    const t = setup({ replicas: 3, quorumRecovery: { policy: 'Automatic', gracePeriodSeconds: 60 } });
    await t.settle();
    lose(t, [1, 2]);
    // Each pass advances the clock 2 s: nothing for the first minute of the outage.
    await passes(t, 25, () => false);
    expect(t.kube.cluster('ns', 'e').status?.recovery).toBeUndefined();
    const since = cond(t.kube.cluster('ns', 'e'), 'Available');
    expect(since?.status).toBe('False');
    await passes(t, 10, () => t.kube.cluster('ns', 'e').status?.recovery !== undefined);
    const r = t.kube.cluster('ns', 'e').status?.recovery;
    expect(r).toMatchObject({ trigger: 'Policy', request: `auto:${since?.lastTransitionTime ?? ''}`, phase: 'ForcingNewCluster', survivor: { name: 'e-0' } });
    expect(t.clock.nowMs() - Date.parse(since?.lastTransitionTime ?? '')).toBeGreaterThanOrEqual(60_000);
    expect(t.kube.events.find((e) => e.reason === 'QuorumRecoveryStarted')?.message).toContain('spec.quorumRecovery.policy Automatic');
    await passes(t, 80, () => !t.actions.at(-1)!.startsWith('recovery') && t.kube.cluster('ns', 'e').status?.members?.filter((m) => m.healthy && !m.isLearner).length === 3 && !t.kube.cluster('ns', 'e').status?.currentOperation);
    expect(cond(t.kube.cluster('ns', 'e'), 'Available')?.status).toBe('True');
    expect(t.kube.events.filter((e) => e.reason === 'QuorumRecoveryStarted')).toHaveLength(1);
  });

  it('a spec with a grace period under a minute is refused as invalid (condition and Event), nothing acts', async () => {
    const t = setup({ replicas: 3, quorumRecovery: { policy: 'Automatic', gracePeriodSeconds: 5 } });
    await passes(t, 2, () => false);
    const c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'InvalidRecoveryPolicy' });
    expect(t.kube.events.some((e) => e.reason === 'InvalidRecoveryPolicy' && e.message.includes('gracePeriodSeconds'))).toBe(true);
  });
});

describe('quorum-loss recovery from the newest backup', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'reconciler-recovery-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('no member survives: checks the backup, says what is lost, stops the members, deletes every volume, then bootstraps every member from it', async () => {
    const store = new DirObjectStore(join(root, 'store'));
    const s3 = { endpoint: 'http://objects.invalid:9000', bucket: 'backups', prefix: 'p', credentialsSecret: { name: 'creds' } };
    const t = setup({ replicas: 3, backup: { s3 } }, undefined, { backups: { tmpDir: root, storeFor: () => store } });
    t.kube.secrets.set('ns/creds', { accessKeyID: Buffer.from('id'), secretAccessKey: Buffer.from('secret') });
    const snap = await snapshotBytes([['a', '1'], ['b', '2']]);
    t.twin.snapshotBytes.set('*', snap.bytes);
    await t.settle();
    const c0 = t.kube.cluster('ns', 'e');
    c0.metadata.annotations = { [BACKUP_REQUEST_ANNOTATION]: 'b1' };
    await passes(t, 3, () => t.kube.cluster('ns', 'e').status?.backup?.lastSuccessTime !== undefined);
    const location = t.kube.cluster('ns', 'e').status?.backup?.lastLocation;
    expect(location).toBeDefined();
    const oldPvcs = [...t.kube.pvcs.values()].map((p) => p.uid);
    const newCluster = lose(t, [0, 1, 2]);
    annotate(t, 'from-backup');
    await passes(t, 1, () => false);
    let c = t.kube.cluster('ns', 'e');
    expect(c.status?.recovery).toMatchObject({ phase: 'StoppingMembers', source: 'Backup', backup: { location, revision: snap.revision, sizeBytes: snap.bytes.length } });
    expect(c.status?.recovery?.loses).toContain(`every write after revision ${snap.revision} is lost`);
    expect(t.kube.object('StatefulSet', 'ns', 'e')).toBeUndefined();
    // The twin's old members go with their pods; the next bootstrap makes new ones.
    t.twin.members = [];
    newCluster();
    await passes(t, 20, () => t.kube.cluster('ns', 'e').status?.recovery?.phase === 'Done');
    c = t.kube.cluster('ns', 'e');
    expect(c.status?.recovery?.phase).toBe('Done');
    expect(c.status?.restore).toMatchObject({ location, revision: snap.revision });
    expect(c.status?.clusterID).toBeUndefined();
    expect(t.kube.events.map((e) => e.reason)).toEqual(expect.arrayContaining(['QuorumRecoveryStarted', 'RecoveryStopMembers', 'QuorumRecovered']));
    // The members start from the backup as a new cluster (the harness bootstraps the twin once per test).
    await passes(t, 3, () => t.kube.pods.size === 3);
    t.twin.bootstrap([...t.kube.pods.values()].map((p, i) => ({ name: p.name, peerURL: peerURL(ref, i, true), endpoint: `https://${p.podIP ?? ''}:2379` })));
    await t.settle();
    c = t.kube.cluster('ns', 'e');
    expect(c.status?.members?.filter((m) => m.healthy && !m.isLearner)).toHaveLength(3);
    // New volumes, and every member runs the restore init container of that backup.
    expect([...t.kube.pvcs.values()].some((p) => oldPvcs.includes(p.uid))).toBe(false);
    const sts = t.kube.object('StatefulSet', 'ns', 'e')?.spec as { template: { spec: { initContainers?: Array<{ name: string; command: string[] }> } } };
    const init = sts.template.spec.initContainers?.find((x) => x.name === RESTORE_CONTAINER);
    expect(init?.command).toContain(`--sha256=${c.status?.restore?.sha256 ?? ''}`);
    expect(cond(c, 'RecoverySucceeded')).toMatchObject({ status: 'True', reason: 'Recovered' });
  });
});
