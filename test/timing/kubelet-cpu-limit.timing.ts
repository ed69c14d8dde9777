// Heartbeats under a real CPU limit (issue 16): a 3-member cluster on the local control plane's
// kubelet node, each member a Guaranteed container limited to KUBELET_CPU (default 250m) by the
// kernel's CFS quota, saturated by put clients on the host at rising concurrency. For each step it
// prints throughput, client errors, leader changes and heartbeat send failures (summed over the
// members' /metrics) and the CFS throttling of the members' cgroups. Figures only: nothing here
// asserts a time or a count of elections (docs/e2e.md records them as sizing advice).
// Needs the control plane up with the kubelet node: `make bench-kubelet` brings it up, runs this
// file and tears it down. Without the node it is skipped with the reason printed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { isSettled, type Cluster } from '../e2e/cluster-status.js';
import { clientTls, cpDir, kubeletPlacement, Kubectl, memberSpec, type OperatorProcess, startLocalOperator, waitFor } from '../e2e/harness.js';

const CPU = process.env.KUBELET_CPU ?? '250m';
const MEMORY = process.env.KUBELET_MEMORY ?? '256Mi';
const STEP_S = Number(process.env.KUBELET_STEP_S ?? 20);
/**
 * The steps, `kind:clients`: `put` loops write 256-byte values; `range` loops read 1,000 keys
 * (~300 KB) linearizably, which costs the serving member far more CPU per request. Each loop waits
 * for its request before the next (bounded load).
 */
const STEPS = (process.env.KUBELET_STEPS ?? 'put:1,put:8,put:32,put:128,put:512,range:8,range:32').split(',').map((x) => {
  const [kind, n] = x.split(':');
  if ((kind !== 'put' && kind !== 'range') || !(Number(n) > 0)) throw new Error(`bad step ${x} (put:N or range:N)`);
  return { kind, clients: Number(n) };
});
const RANGE_KEYS = 1000;
const MAX_REQUESTS_PER_STEP = 200_000;
const VALUE = 'v'.repeat(256);
const ns = 'timing-kubelet';
const name = 'hb';

const k = new Kubectl(join(cpDir, 'kubeconfig'));
async function kubeletNodeReady(): Promise<string> {
  const node = process.env.CP_KUBELET_NODE ?? 'kubelet-1';
  const r = await k.run(['get', 'node', node, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
  return r.code === 0 && r.stdout === 'True' ? '' : `no Ready kubelet node ${node} on the local control plane (make bench-kubelet brings one up)`;
}
const skipReason = await kubeletNodeReady().catch((e: unknown) => String(e));
if (skipReason !== '') console.log(`[kubelet-cpu-limit] SKIPPED: ${skipReason}`);

interface Pod { metadata: { name: string; uid: string }; status: { podIP?: string; containerStatuses?: Array<{ containerID?: string }> } }

async function metric(ip: string, metricName: string): Promise<number> {
  const text = await (await fetch(`http://${ip}:2381/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${metricName} `) || line.startsWith(`${metricName}{`)) sum += Number(line.split(' ').pop());
  return sum;
}

/** CFS throttling of one member's container cgroup (cgroup v1, cgroupfs driver). */
function throttling(pod: Pod): { periods: number; throttled: number; throttledMs: number } {
  const id = (pod.status.containerStatuses?.[0]?.containerID ?? '').replace('containerd://', '');
  const stat = readFileSync(`/sys/fs/cgroup/cpu/kubepods/pod${pod.metadata.uid}/${id}/cpu.stat`, 'utf8');
  const field = (f: string): number => Number(stat.match(new RegExp(`^${f} (\\d+)$`, 'm'))?.[1] ?? 0);
  return { periods: field('nr_periods'), throttled: field('nr_throttled'), throttledMs: field('throttled_time') / 1e6 };
}

describe.skipIf(skipReason !== '')(`heartbeats of members limited to ${CPU} CPU (real kubelet)`, () => {
  let operator: OperatorProcess | undefined;
  let client: Etcd3 | undefined;
  let pods: Pod[] = [];

  beforeAll(async () => {
    operator = await startLocalOperator(k, ns);
    await k.ok(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdCluster', metadata: { name, namespace: ns },
      spec: memberSpec({ cpu: CPU, memory: MEMORY, retentionPolicy: 'Delete', extra: { placement: kubeletPlacement } }),
    }));
    await waitFor('3 healthy members', 600_000, async () => (isSettled(await k.json<Cluster>(['get', 'etcdcluster', name, '-n', ns]), 3) ? true : undefined), 2000);
    pods = (await k.json<{ items: Pod[] }>(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${name}`])).items;
    const tls = await clientTls(k, ns, name);
    client = new Etcd3({
      hosts: pods.map((p) => `https://${p.status.podIP ?? ''}:2379`),
      credentials: { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key },
      grpcOptions: { 'grpc.ssl_target_name_override': `${name}-client.${ns}.svc` },
      dialTimeout: 5000,
    });
  }, 900_000);

  afterAll(async () => {
    client?.close();
    await k.run(['delete', 'etcdcluster', name, '-n', ns, '--timeout=120s']);
    await operator?.stop();
  });

  it('prints leader changes, heartbeat send failures and throttling per load step', async () => {
    const ips = pods.map((p) => p.status.podIP ?? '');
    const sum = async (m: string): Promise<number> => (await Promise.all(ips.map((ip) => metric(ip, m)))).reduce((a, b) => a + b, 0);
    const thr = (): { periods: number; throttled: number; throttledMs: number } =>
      pods.map(throttling).reduce((a, b) => ({ periods: a.periods + b.periods, throttled: a.throttled + b.throttled, throttledMs: a.throttledMs + b.throttledMs }));
    console.log(`[kubelet-cpu-limit] 3 members, limit ${CPU} CPU / ${MEMORY} each (Guaranteed), TLS, ${STEP_S} s per step, 256-byte values, ranges of ${RANGE_KEYS} keys`);
    for (let i = 0; i < RANGE_KEYS; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => client!.put(`range/${String(i + j).padStart(4, '0')}`).value(VALUE)));
    console.log('[kubelet-cpu-limit] step       req/s  errors  leader-changes  hb-send-failures  throttled-periods  throttled-s  max-loop-lag-p99-ms');
    let total = 0;
    for (const { kind, clients: c } of STEPS) {
      const before = { lc: await sum('etcd_server_leader_changes_seen_total'), hb: await sum('etcd_server_heartbeat_send_failures_total'), t: thr() };
      let done = 0;
      let errors = 0;
      const started = Date.now();
      const deadline = started + STEP_S * 1000;
      await Promise.all(Array.from({ length: c }, async (_, w) => {
        for (let i = 0; Date.now() < deadline && done + errors < MAX_REQUESTS_PER_STEP; i++) {
          try {
            if (kind === 'put') await client!.put(`load/${w}/${i % 1000}`).value(VALUE);
            else await client!.getAll().prefix('range/').limit(RANGE_KEYS).strings();
            done++;
          } catch {
            errors++;
          }
        }
      }));
      const secs = (Date.now() - started) / 1000;
      const after = { lc: await sum('etcd_server_leader_changes_seen_total'), hb: await sum('etcd_server_heartbeat_send_failures_total'), t: thr() };
      const dPeriods = after.t.periods - before.t.periods;
      const lagMs = Math.max(...(await Promise.all(ips.map((ip) => metric(ip, 'nodejs_eventloop_lag_p99_seconds'))))) * 1000;
      console.log(`[kubelet-cpu-limit] ${`${kind}:${c}`.padEnd(9)}  ${(done / secs).toFixed(0).padStart(6)}  ${String(errors).padStart(6)}  ${String(after.lc - before.lc).padStart(14)}  ${String(after.hb - before.hb).padStart(16)}  ${`${after.t.throttled - before.t.throttled}/${dPeriods}`.padStart(17)}  ${((after.t.throttledMs - before.t.throttledMs) / 1000).toFixed(1).padStart(11)}  ${lagMs.toFixed(1).padStart(19)}`);
      total += done;
    }
    expect(total).toBeGreaterThan(0); // the load ran; its outcome is the printed figures
  }, 900_000);
});
