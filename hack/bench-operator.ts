// Operator benchmark: the pure planner's cost per call, one reconcile pass against in-memory twins
// (KubeApi + MemberApi), and a 3 -> 9 scale-up counted in passes. Run: npx tsx hack/bench-operator.ts
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../node/log.js';
import { API_VERSION, KIND } from '../operator/api/types.js';
import { FakeClock } from '../operator/controller/clock.js';
import { FakeKubeApi } from '../operator/controller/fake-kube-api.js';
import { Reconciler } from '../operator/controller/reconciler.js';
import { MemoryMemberApi } from '../operator/members/memory-member-api.js';
import { noopMetrics } from '../operator/metrics.js';
import { DEFAULT_MEMBER_CONFIG } from '../operator/plan/member-config.js';
import { memberName, peerURL } from '../operator/plan/names.js';
import type { ObservedCluster } from '../operator/plan/observed.js';
import { planNextStep } from '../operator/plan/planner.js';

const ref = { name: 'b', namespace: 'ns', uid: 'u' };
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function plannerBench(): number {
  const members = [0, 1, 2, 3, 4].map((i) => ({
    id: String(100 + i), name: memberName(ref, i), peerURLs: [peerURL(ref, i, false)], isLearner: false, healthy: true, isLeader: i === 0, raftIndex: 1000, dataLost: false, dbSizeBytes: 20480, dbSizeInUseBytes: 20480, version: '3.5.17',
  }));
  const o: ObservedCluster = {
    ref, generation: 1, desiredReplicas: 7, peerTLS: false, retentionPolicy: 'Retain', paused: false, specInvalid: false, statefulSetReplicas: 5,
    bootstrapped: true, members, pods: members.map((_, i) => ({ ordinal: i, ready: true, upToDate: true, deleting: false })), pvcs: members.map((_, i) => ({ ordinal: i, terminating: false })),
    operation: null, scaleUpBlockedGeneration: null, scaleUpRetry: null, nowMs: 0, nowIso: '2026-01-01T00:00:00Z', learnerTimeoutMs: 300_000, recordedOrdinals: [0, 1, 2, 3, 4],
    desiredVersion: '3.5.17', defragmentation: null, defragStatus: {},
  };
  const runs: number[] = [];
  for (let r = 0; r < 7; r++) {
    const n = 20_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) planNextStep(o);
    runs.push(((performance.now() - t0) * 1000) / n);
  }
  return median(runs);
}

async function reconcileBench(): Promise<{ passMs: number; passesFor3to9: number }> {
  const kube = new FakeKubeApi();
  const twin = new MemoryMemberApi();
  const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
  const r = new Reconciler({ kube, members: twin, clock, log: silentLogger, metrics: noopMetrics, memberConfig: DEFAULT_MEMBER_CONFIG, learnerTimeoutMs: 300_000, endpointMode: 'pod-ip' });
  kube.addCluster({ apiVersion: API_VERSION, kind: KIND, metadata: { ...ref, generation: 1 }, spec: { replicas: 3 } });
  const boot: Array<{ name: string; peerURL: string; endpoint: string }> = [];
  const onPod = (name: string, ord: number, ip: string): void => {
    const endpoint = `http://${ip}:2379`;
    if (twin.members.length === 0) {
      boot.push({ name, peerURL: peerURL(ref, ord, false), endpoint });
      if (boot.length === 3) twin.bootstrap(boot);
    } else twin.startMember(peerURL(ref, ord, false), name, endpoint, true);
  };
  const pass = async (): Promise<string> => {
    const res = await r.reconcile('ns', 'b');
    kube.simulateStatefulSets(onPod);
    clock.advance(2000);
    return res.action;
  };
  for (let i = 0; i < 10; i++) await pass();
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    await pass();
    times.push(performance.now() - t0);
  }
  kube.editSpec('ns', 'b', (c) => (c.spec.replicas = 9));
  let passes = 0;
  for (; passes < 500; passes++) {
    const a = await pass();
    if (a === 'none' && !kube.cluster('ns', 'b').status?.currentOperation) break;
  }
  return { passMs: median(times), passesFor3to9: passes };
}

const plannerUs = plannerBench();
const { passMs, passesFor3to9 } = await reconcileBench();
console.log(`planNextStep (5 voters, scale to 7): median ${plannerUs.toFixed(2)} us/call`);
console.log(`reconcile pass (3 members, twins, steady): median ${passMs.toFixed(3)} ms/pass`);
console.log(`scale 3 -> 9 on the twins: ${passesFor3to9} passes (6 members x [intent, add, raise, promote, finish] = 30 expected)`);
console.log(`ratio: one pass = ${(passMs * 1000 / plannerUs).toFixed(1)} plans (the rest is observe, apply, status on the twins)`);
