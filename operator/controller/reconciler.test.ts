// The reconciler end to end against the in-memory KubeApi and the member-API twin.
import { describe, expect, it } from 'vitest';
import { MemberApiError, ERR_UNHEALTHY_CLUSTER } from '../members/member-api.js';
import { OperatorMetrics } from '../metrics.js';
import { peerURL } from '../plan/names.js';
import { cond, ref, setup } from './testing/reconciler-harness.js';

describe('Reconciler', () => {
  it('bootstraps a 3-member cluster with all children owned and applied, and reports Available', async () => {
    const t = setup();
    await t.settle();
    expect(t.actions[0]).toBe('bootstrap');
    const cm = t.kube.object('ConfigMap', 'ns', 'e-bootstrap') as unknown as { data: Record<string, string> };
    expect(cm.data['initial-cluster-state']).toBe('existing');
    expect(cm.data['initial-cluster']?.split(',')).toHaveLength(3);
    for (const [kind, name] of [['StatefulSet', 'e'], ['Service', 'e-peer'], ['Service', 'e-client'], ['PodDisruptionBudget', 'e']] as const) {
      const o = t.kube.object(kind, 'ns', name);
      expect(o, `${kind}/${name}`).toBeDefined();
      expect(o?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'EtcdCluster', name: 'e', uid: 'uid-1', controller: true });
    }
    const c = t.kube.cluster('ns', 'e');
    expect(c.status?.members).toHaveLength(3);
    expect(c.status?.leader).toBe('e-0');
    expect(c.status?.clusterID).toBe('7000');
    expect(c.status?.selector).toBe('app.kubernetes.io/name=tsetcd,app.kubernetes.io/instance=e,tsetcd.dev/cluster=e');
    expect(c.status?.observedGeneration).toBe(1);
    expect(cond(c, 'Available')).toMatchObject({ status: 'True', reason: 'QuorumHealthy' });
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'False' });
    expect(c.status?.members?.every((m) => m.pvcUID !== undefined)).toBe(true);
    expect(t.kube.events.some((e) => e.reason === 'Bootstrapping')).toBe(true);
  });

  it('scales 3 -> 5 one learner at a time, then 5 -> 3 moving the leader away first', async () => {
    const t = setup();
    await t.settle();
    t.kube.editSpec('ns', 'e', (c) => (c.spec.replicas = 5));
    await t.settle();
    expect(t.twin.calls.filter((c) => !c.startsWith('list'))).toEqual([
      `add:${peerURL(ref, 3, true)}`,
      `promote:1004`,
      `add:${peerURL(ref, 4, true)}`,
      `promote:1005`,
    ]);
    let c = t.kube.cluster('ns', 'e');
    expect(c.status?.members?.filter((m) => !m.isLearner)).toHaveLength(5);
    expect((t.kube.object('StatefulSet', 'ns', 'e')?.spec as { replicas: number }).replicas).toBe(5);
    expect((t.kube.object('PodDisruptionBudget', 'ns', 'e')?.spec as { maxUnavailable: number }).maxUnavailable).toBe(1);
    expect(t.kube.events.filter((e) => e.reason === 'MemberAdded')).toHaveLength(2);
    expect(t.kube.events.filter((e) => e.reason === 'OperationSucceeded')).toHaveLength(2);

    // Make the highest ordinal the leader, then scale down.
    t.twin.leaderID = '1005';
    t.twin.calls.length = 0;
    t.kube.editSpec('ns', 'e', (c) => (c.spec.replicas = 3));
    await t.settle();
    const calls = t.twin.calls;
    expect(calls[0]).toMatch(/^move-leader:/);
    expect(calls.slice(1)).toEqual(['remove:1005', 'remove:1004']);
    c = t.kube.cluster('ns', 'e');
    expect(c.status?.members?.map((m) => m.name).sort()).toEqual(['e-0', 'e-1', 'e-2']);
    expect((t.kube.object('StatefulSet', 'ns', 'e')?.spec as { replicas: number }).replicas).toBe(3);
    // Retain: PVCs of removed members stay.
    expect(t.kube.pvcs.has('data-e-4')).toBe(true);
  });

  it('rolls a learner back when it does not catch up, reports why, and does not retry', async () => {
    const t = setup();
    await t.settle();
    t.freeze();
    t.kube.editSpec('ns', 'e', (c) => (c.spec.replicas = 5));
    for (let i = 0; i < 200 && !t.actions.includes('finish-operation'); i++) await t.pass();
    expect(t.twin.calls.filter((c) => c.startsWith('remove'))).toEqual(['remove:1004']);
    const c = t.kube.cluster('ns', 'e');
    expect(c.status?.currentOperation).toBeNull();
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'LearnerTimeout' });
    expect(cond(c, 'Degraded')?.message).toMatch(/did not catch up within 300s/);
    expect(t.kube.events.some((e) => e.type === 'Warning' && e.reason === 'OperationFailed')).toBe(true);
    expect(t.kube.pvcs.has('data-e-3')).toBe(false);
    await t.pass();
    await t.pass();
    expect(t.twin.calls.filter((c) => c.startsWith('add'))).toHaveLength(1);
    expect(cond(t.kube.cluster('ns', 'e'), 'Degraded')?.reason).toBe('ScaleUpFailed');
  });

  it('a failed member-API call is reported, the operation stays recorded, and the next pass retries', async () => {
    const t = setup();
    await t.settle();
    t.kube.editSpec('ns', 'e', (c) => (c.spec.replicas = 5));
    await t.pass(); // record intent
    t.twin.failNext.set('add', new MemberApiError('FailedPrecondition', ERR_UNHEALTHY_CLUSTER));
    const res = await t.pass();
    expect(res).toBeInstanceOf(Error);
    const c = t.kube.cluster('ns', 'e');
    expect(c.status?.currentOperation).toMatchObject({ type: 'ScaleUp', ordinal: 3 });
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'MembershipStepFailed' });
    expect(t.kube.events.some((e) => e.reason === 'MemberAddedFailed' && e.message.includes(ERR_UNHEALTHY_CLUSTER))).toBe(true);
    await t.settle();
    expect(t.twin.members.filter((m) => !m.isLearner)).toHaveLength(5);
  });

  it('replaces a member whose PVC was recreated (data gone)', async () => {
    const t = setup();
    await t.settle();
    // The volume of e-2 is replaced behind the operator's back.
    t.kube.pvcs.set('data-e-2', { name: 'data-e-2', uid: 'brand-new', terminating: false, phase: 'Bound', requestedStorage: '8Gi' });
    await t.settle();
    expect(t.twin.calls.filter((c) => !c.startsWith('list'))).toEqual(['remove:1003', `add:${peerURL(ref, 2, true)}`, 'promote:1004']);
    const c = t.kube.cluster('ns', 'e');
    expect(c.status?.members?.find((m) => m.name === 'e-2')?.id).toBe('3ec'); // 1004 in hex, as etcdctl prints it
    expect(cond(c, 'Available')?.status).toBe('True');
  });

  it('bad input never touches the cluster: even size, storage shrink, missing storage class', async () => {
    const t = setup();
    await t.settle();
    const applies = t.kube.applies;
    t.kube.editSpec('ns', 'e', (c) => (c.spec.replicas = 4));
    await t.pass();
    let c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'EvenReplicas' });
    expect(cond(c, 'Degraded')?.message).toMatch(/replicas must be odd/);
    expect(t.kube.events.some((e) => e.type === 'Warning' && e.reason === 'EvenReplicas')).toBe(true);
    expect(t.kube.applies).toBe(applies);
    expect(t.twin.calls.filter((x) => !x.startsWith('list'))).toEqual([]);

    t.kube.editSpec('ns', 'e', (c) => {
      c.spec.replicas = 3;
      c.spec.storage = { size: '1Gi' };
    });
    await t.pass();
    c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'StorageShrink' });
    expect(t.kube.applies).toBe(applies);

    const fresh = setup({ replicas: 3, storage: { storageClassName: 'nope' } });
    await fresh.pass();
    c = fresh.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'StorageClassNotFound' });
    expect(cond(c, 'Degraded')?.message).toMatch(/StorageClass "nope" does not exist/);
    expect(fresh.kube.object('StatefulSet', 'ns', 'e')).toBeUndefined();
  });

  it('grows volumes when storage.size grows, and reports a StorageClass that cannot expand', async () => {
    const t = setup();
    await t.settle();
    t.kube.editSpec('ns', 'e', (c) => (c.spec.storage = { size: '16Gi' }));
    await t.pass();
    expect([...t.kube.pvcs.values()].map((p) => p.requestedStorage)).toEqual(['16Gi', '16Gi', '16Gi']);
    expect(t.kube.events.some((e) => e.reason === 'VolumeExpansionRequested')).toBe(true);
    // The StatefulSet's template keeps the size it was created with (immutable).
    const vct = (t.kube.object('StatefulSet', 'ns', 'e')?.spec as { volumeClaimTemplates: Array<{ spec: { resources: { requests: { storage: string } } } }> }).volumeClaimTemplates;
    expect(vct[0]?.spec.resources.requests.storage).toBe('8Gi');

    const u = setup();
    await u.settle();
    u.kube.expandable.clear();
    u.kube.editSpec('ns', 'e', (c) => (c.spec.storage = { size: '16Gi' }));
    await u.pass();
    const c = u.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'VolumeExpansionFailed' });
    expect(cond(c, 'Degraded')?.message).toMatch(/allowVolumeExpansion/);
    // Membership keeps working meanwhile.
    u.kube.editSpec('ns', 'e', (c) => (c.spec.replicas = 5));
    for (let i = 0; i < 30; i++) await u.pass();
    expect(u.twin.members.filter((m) => !m.isLearner)).toHaveLength(5);
  });

  it('a failed apply is reported as ApplyFailed (not as a membership step) and retried', async () => {
    const t = setup();
    await t.settle();
    t.kube.failApply = 'exceeded quota: compute-resources';
    const res = await t.pass();
    expect(res).toBeInstanceOf(Error);
    const c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'ApplyFailed' });
    expect(cond(c, 'Degraded')?.message).toMatch(/exceeded quota/);
    expect(t.kube.events.some((e) => e.type === 'Warning' && e.reason === 'ApplyFailed')).toBe(true);
    t.kube.failApply = null;
    await t.settle();
    expect(cond(t.kube.cluster('ns', 'e'), 'Degraded')?.status).toBe('False');
  });

  it('reports a pod that cannot pull its image', async () => {
    const t = setup();
    await t.settle();
    const p = t.kube.pods.get('e-2');
    if (p) t.kube.pods.set('e-2', { ...p, ready: false, waitingReason: 'ImagePullBackOff', waitingMessage: 'Back-off pulling image "nope:1"' });
    await t.pass();
    const c = t.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'ImagePullFailed' });
    expect(cond(c, 'Degraded')?.message).toMatch(/set spec.image/);
  });

  it('uses the client TLS Secret for the member API, and reports a missing one without touching anything', async () => {
    const missing = setup({ replicas: 3, tls: { clientSecretName: 'etcd-client' } });
    await missing.pass();
    let c = missing.kube.cluster('ns', 'e');
    expect(cond(c, 'Degraded')).toMatchObject({ status: 'True', reason: 'TLSSecretNotFound' });
    expect(missing.kube.object('StatefulSet', 'ns', 'e')).toBeUndefined();

    const ok = setup({ replicas: 3, tls: { clientSecretName: 'etcd-client' } });
    ok.kube.secrets.set('ns/etcd-client', { 'ca.crt': Buffer.from('CA'), 'tls.crt': Buffer.from('C'), 'tls.key': Buffer.from('K') });
    await ok.settle();
    c = ok.kube.cluster('ns', 'e');
    expect(cond(c, 'Available')?.status).toBe('True');
    expect(ok.tlsSecretsSeen[0]?.['ca.crt']?.toString()).toBe('CA');
  });

  it('feeds the per-cluster metrics: members by state, leader, quorum margin, lag, operations', async () => {
    const m = new OperatorMetrics({ defaultMetrics: false });
    const t = setup({ replicas: 3 }, m);
    await t.settle();
    let text = await m.registry.metrics();
    expect(text).toContain('tsetcd_cluster_members{namespace="ns",cluster="e",state="voter"} 3');
    expect(text).toContain('tsetcd_cluster_has_leader{namespace="ns",cluster="e"} 1');
    expect(text).toContain('tsetcd_cluster_quorum_margin{namespace="ns",cluster="e"} 1');
    expect(text).toContain('tsetcd_cluster_member_raft_index_lag{namespace="ns",cluster="e",member="e-1"} 0');
    t.kube.editSpec('ns', 'e', (c) => (c.spec.replicas = 5));
    await t.settle();
    t.twin.leaderID = '1002';
    await t.pass();
    text = await m.registry.metrics();
    expect(text).toContain('tsetcd_cluster_members{namespace="ns",cluster="e",state="voter"} 5');
    expect(text).toContain('tsetcd_cluster_quorum_margin{namespace="ns",cluster="e"} 2');
    expect(text).toContain('tsetcd_cluster_membership_operations_total{namespace="ns",cluster="e",op="ScaleUp",result="Succeeded"} 2');
    expect(text).toContain('tsetcd_cluster_leader_changes_total{namespace="ns",cluster="e"} 1');
    t.kube.clusters.clear();
    await t.pass();
    expect(await m.registry.metrics()).not.toContain('tsetcd_cluster_has_leader{');
  });

  it('a deleted cluster is forgotten', async () => {
    const t = setup();
    t.kube.clusters.clear();
    expect(await t.reconciler.reconcile('ns', 'e')).toEqual({ requeueAfterMs: null, action: 'gone' });
  });
});
