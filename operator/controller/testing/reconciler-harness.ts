// The reconciler's test harness: the in-memory KubeApi with its little StatefulSet controller, the
// member-API twin, a fake clock, and passes that advance them together.
import { silentLogger } from '../../../node/log.js';
import { API_VERSION, KIND, type EtcdCluster, type EtcdClusterSpec } from '../../api/types.js';
import { MemoryMemberApi } from '../../members/memory-member-api.js';
import { noopMetrics, type ClusterMetricsSink } from '../../metrics.js';
import { DEFAULT_MEMBER_CONFIG } from '../../plan/member-config.js';
import { peerURL } from '../../plan/names.js';
import { effectiveTls } from '../../plan/tls.js';
import { resolveSpec } from '../../api/defaults.js';
import { FakeClock } from '../clock.js';
import { FakeKubeApi } from '../fake-kube-api.js';
import { Reconciler, type ReconcileResult, type ReconcilerDeps } from '../reconciler.js';

export const T0 = Date.parse('2026-01-01T00:00:00Z');
export const ref = { name: 'e', namespace: 'ns', uid: 'uid-1' };

export function setup(spec: EtcdClusterSpec = { replicas: 3 }, metrics: ClusterMetricsSink = noopMetrics, extra: Partial<ReconcilerDeps> = {}) {
  const kube = new FakeKubeApi();
  const twin = new MemoryMemberApi();
  const clock = new FakeClock(T0);
  const tlsSecretsSeen: Array<Record<string, Buffer>> = [];
  const credentialsSeen: Array<{ username: string; password: string }> = [];
  const reconciler = new Reconciler({
    memberApiFor: (secret, credentials) => {
      if (secret !== null) tlsSecretsSeen.push(secret);
      if (credentials !== null) credentialsSeen.push(credentials);
      return twin;
    },
    kube,
    members: twin,
    clock,
    log: silentLogger,
    metrics,
    memberConfig: DEFAULT_MEMBER_CONFIG,
    learnerTimeoutMs: 300_000,
    endpointMode: 'pod-ip',
    ...extra,
  });
  const cluster: EtcdCluster = { apiVersion: API_VERSION, kind: KIND, metadata: { ...ref, generation: 1 }, spec };
  kube.addCluster(cluster);
  const pending: Array<{ name: string; ordinal: number; endpoint: string }> = [];
  // The TLS a new cluster gets (secure by default unless the spec opts out).
  const tls = effectiveTls(ref, resolveSpec(spec), false).tls;
  /** Learners replicate on their own (unless frozen). */
  let replicate = true;
  const onPodCreated = (name: string, ordinal: number, podIP: string): void => {
    const endpoint = `${tls.clientSecretName !== null ? 'https' : 'http'}://${podIP}:2379`;
    if (twin.members.length === 0) {
      pending.push({ name, ordinal, endpoint });
      if (pending.length === (spec.replicas ?? 3)) twin.bootstrap(pending.map((p) => ({ name: p.name, peerURL: peerURL(ref, p.ordinal, tls.peerSecretName !== null), endpoint: p.endpoint })));
      return;
    }
    twin.startMember(peerURL(ref, ordinal, tls.peerSecretName !== null), name, endpoint);
  };
  const actions: string[] = [];
  async function pass(): Promise<ReconcileResult | Error> {
    let res: ReconcileResult | Error;
    try {
      res = await reconciler.reconcile('ns', 'e');
      actions.push(res.action);
    } catch (err: unknown) {
      res = err instanceof Error ? err : new Error(String(err));
      actions.push(`error`);
    }
    kube.simulateStatefulSets(onPodCreated);
    if (replicate) for (const m of twin.members) if (m.isLearner && m.endpoint !== null) twin.catchUp(m.id);
    clock.advance(2000);
    return res;
  }
  async function settle(maxPasses = 60): Promise<void> {
    for (let i = 0; i < maxPasses; i++) {
      const res = await pass();
      const c = kube.cluster('ns', 'e');
      if (!(res instanceof Error) && res.action === 'none' && !c.status?.currentOperation) return;
    }
    throw new Error(`did not settle; actions: ${actions.join(',')}`);
  }
  return { kube, twin, clock, reconciler, pass, settle, actions, tlsSecretsSeen, credentialsSeen, freeze: () => (replicate = false) };
}

export const cond = (c: EtcdCluster, type: string) => c.status?.conditions?.find((x) => x.type === type);
