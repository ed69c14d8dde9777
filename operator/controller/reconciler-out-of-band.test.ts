// The reconciler against changes made behind its back (issue 12), end to end over the in-memory
// KubeApi and the member-API twin: whatever happens outside, it never makes the cluster worse.
import { describe, expect, it } from 'vitest';
import { peerURL, STORAGE_FINALIZER } from '../plan/names.js';
import { cond, ref, setup } from './testing/reconciler-harness.js';

const stsReplicas = (t: ReturnType<typeof setup>): number => (t.kube.object('StatefulSet', 'ns', 'e')?.spec as { replicas: number } | undefined)?.replicas ?? -1;

describe('a member removed out of band (etcdctl member remove)', () => {
  it.each([0, 1, 2])('at ordinal %i: re-added on fresh storage; the StatefulSet never shrinks, no other pod is touched', async (k) => {
    const t = setup();
    await t.settle();
    const removed = t.twin.members.find((m) => m.name === `e-${k}`);
    if (removed === undefined) throw new Error('no member');
    t.twin.members = t.twin.members.filter((m) => m !== removed);
    if (t.twin.leaderID === removed.id) t.twin.leaderID = t.twin.members[0]?.id ?? '0';
    const others = [0, 1, 2].filter((i) => i !== k).map((i) => t.kube.pods.get(`e-${i}`));
    t.twin.calls.length = 0;
    for (let i = 0; i < 40; i++) {
      await t.pass();
      expect(stsReplicas(t)).toBe(3);
      for (const [j, p] of others.entries()) expect(t.kube.pods.get(p?.name ?? ''), `pod ${j}`).toBe(p);
    }
    expect(t.twin.calls.filter((c) => !c.startsWith('list'))).toEqual([`add:${peerURL(ref, k, true)}`, `promote:1004`]);
    const c = t.kube.cluster('ns', 'e');
    expect(c.status?.members?.filter((m) => !m.isLearner && m.healthy)).toHaveLength(3);
    expect(cond(c, 'Available')?.status).toBe('True');
    expect(t.kube.events.some((e) => e.reason === 'OperationSucceeded' && e.message.startsWith('Replace'))).toBe(true);
  });
});

describe('Kubernetes objects deleted behind the operator', () => {
  it('the StatefulSet deleted: recreated at the members\' size, members come back on their volumes (no replace)', async () => {
    const t = setup({ replicas: 3, storage: { retentionPolicy: 'Delete' } });
    await t.settle();
    const uids = [...t.kube.pvcs.values()].map((p) => p.uid).sort();
    t.twin.calls.length = 0;
    await t.kube.deleteStatefulSet('ns', 'e');
    for (const m of t.twin.members) m.healthy = false; // their pods went with it
    await t.pass();
    expect(stsReplicas(t)).toBe(3);
    await t.settle();
    expect([...t.kube.pvcs.values()].map((p) => p.uid).sort()).toEqual(uids);
    expect(t.twin.calls.filter((c) => !c.startsWith('list'))).toEqual([]);
    expect(cond(t.kube.cluster('ns', 'e'), 'Available')?.status).toBe('True');
  });

  it('the StatefulSet deleted while a pod still terminates: no StatefulSet until that pod is gone, then recreated at full size', async () => {
    const t = setup({ replicas: 3 });
    await t.settle();
    const lingering = t.kube.pods.get('e-2')!;
    await t.kube.deleteStatefulSet('ns', 'e');
    t.kube.pods.set('e-2', { ...lingering, ready: false, deleting: true }); // graceful shutdown under way
    for (const m of t.twin.members) m.healthy = false;
    await t.pass();
    expect(t.kube.object('StatefulSet', 'ns', 'e')).toBeUndefined();
    expect(cond(t.kube.cluster('ns', 'e'), 'Progressing')?.message ?? '').toContain('e-2');
    t.kube.pods.delete('e-2');
    await t.pass();
    expect(stsReplicas(t)).toBe(3);
  });

  it('the EtcdCluster deleted under retentionPolicy Delete: the finalizer stops the members, deletes the PVCs, then lets go', async () => {
    const t = setup({ replicas: 3, storage: { retentionPolicy: 'Delete' } });
    await t.settle();
    expect(t.kube.cluster('ns', 'e').metadata.finalizers).toEqual([STORAGE_FINALIZER]);
    t.kube.deleteCluster('ns', 'e', new Date(t.clock.nowMs()).toISOString());
    expect(t.kube.clusters.size).toBe(1); // held by the finalizer
    const res = await t.reconciler.reconcile('ns', 'e');
    expect(res.action).toBe('gone');
    expect(t.kube.object('StatefulSet', 'ns', 'e')).toBeUndefined();
    expect(t.kube.pvcs.size).toBe(0);
    expect(t.kube.clusters.size).toBe(0);
    expect(t.kube.events.some((e) => e.reason === 'VolumesDeleted' && e.message.includes('data-e-2'))).toBe(true);
  });

  it('the finalizer resumes after a crash at any step (StatefulSet already gone, some PVCs already gone)', async () => {
    const t = setup({ replicas: 3, storage: { retentionPolicy: 'Delete' } });
    await t.settle();
    t.kube.deleteCluster('ns', 'e', new Date(t.clock.nowMs()).toISOString());
    // A crash after deleting the StatefulSet and one PVC, before the rest.
    await t.kube.deleteStatefulSet('ns', 'e');
    await t.kube.deletePvc('ns', 'data-e-0');
    expect((await t.reconciler.reconcile('ns', 'e')).action).toBe('gone');
    expect(t.kube.pvcs.size).toBe(0);
    expect(t.kube.clusters.size).toBe(0);
  });

  it('the EtcdCluster deleted under retentionPolicy Retain: no finalizer, the PVCs stay', async () => {
    const t = setup({ replicas: 3, storage: { retentionPolicy: 'Retain' } });
    await t.settle();
    expect(t.kube.cluster('ns', 'e').metadata.finalizers ?? []).toEqual([]);
    t.kube.deleteCluster('ns', 'e', new Date(t.clock.nowMs()).toISOString());
    expect(t.kube.clusters.size).toBe(0);
    expect((await t.reconciler.reconcile('ns', 'e')).action).toBe('gone');
    expect(t.kube.pvcs.size).toBe(3);
  });

  it('switching retentionPolicy adds or removes the finalizer', async () => {
    const t = setup({ replicas: 3, storage: { retentionPolicy: 'Retain' } });
    await t.settle();
    t.kube.editSpec('ns', 'e', (c) => (c.spec.storage = { retentionPolicy: 'Delete' }));
    expect((await t.pass()) as { action: string }).toMatchObject({ action: 'finalizer' });
    expect(t.kube.cluster('ns', 'e').metadata.finalizers).toEqual([STORAGE_FINALIZER]);
    t.kube.editSpec('ns', 'e', (c) => (c.spec.storage = { retentionPolicy: 'Retain' }));
    await t.pass();
    expect(t.kube.cluster('ns', 'e').metadata.finalizers).toEqual([]);
  });
});

describe('what the operator reads and reports', () => {
  it('reads the member list linearizably, every time', async () => {
    const t = setup();
    await t.settle();
    expect(t.twin.listCalls.length).toBeGreaterThan(0);
    expect(t.twin.listCalls.every((l) => l)).toBe(true);
  });

  it('a member far behind the leader is not healthy (a restarted member replaying its log)', async () => {
    const t = setup();
    await t.settle();
    for (const m of t.twin.members) m.raftIndex = 5000;
    const behind = t.twin.members[2];
    if (behind) behind.raftIndex = 10;
    await t.pass();
    const c = t.kube.cluster('ns', 'e');
    expect(c.status?.members?.find((m) => m.name === 'e-2')?.healthy).toBe(false);
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'MemberUnhealthy' });
  });

  it('no member list (a majority down): Degraded says so once, with a Warning event, and nothing is changed', async () => {
    const t = setup();
    await t.settle();
    for (const m of t.twin.members) m.healthy = false;
    t.twin.calls.length = 0;
    await t.pass();
    await t.pass();
    const c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'ClusterUnreachable' });
    expect(cond(c, 'Available')).toMatchObject({ status: 'False', reason: 'ClusterUnreachable' });
    expect(t.kube.events.filter((e) => e.type === 'Warning' && e.reason === 'ClusterUnreachable')).toHaveLength(1);
    expect(t.twin.calls.filter((x) => !x.startsWith('list'))).toEqual([]);
    expect(stsReplicas(t)).toBe(3);
  });

  it('Available stays False while no member pod is ready (the client Service would route nowhere)', async () => {
    const t = setup();
    await t.settle();
    for (const [n, p] of t.kube.pods) t.kube.pods.set(n, { ...p, ready: false });
    await t.reconciler.reconcile('ns', 'e');
    expect(cond(t.kube.cluster('ns', 'e'), 'Available')).toMatchObject({ status: 'False', reason: 'NoReadyEndpoint' });
  });

  it('a member that refused to start on an empty data dir ("already been bootstrapped") is replaced', async () => {
    const t = setup();
    await t.settle();
    const m2 = t.twin.members.find((m) => m.name === 'e-2');
    if (m2 === undefined) throw new Error('no e-2');
    m2.healthy = false;
    const pod = t.kube.pods.get('e-2');
    if (pod) t.kube.pods.set('e-2', { ...pod, ready: false, lastTerminationMessage: `{"level":"error","msg":"member ${BigInt(m2.id).toString(16)} has already been bootstrapped"}` });
    t.twin.calls.length = 0;
    await t.pass();
    expect(t.kube.cluster('ns', 'e').status?.currentOperation).toMatchObject({ type: 'Replace', ordinal: 2, oldMemberID: m2.id });
    await t.settle();
    expect(t.twin.calls.filter((c) => !c.startsWith('list'))).toEqual([`remove:${m2.id}`, `add:${peerURL(ref, 2, true)}`, 'promote:1004']);
  });
});
