// The operator on real containers (CP_NODE=kubelet, `make e2e-kubelet`): members from the image
// of `make images`, run by a real kubelet through containerd and runc, on a CNI bridge, resolving
// each other through the cluster DNS. Bring-up and scale, plus what the node agent cannot show:
// the Guaranteed CPU limit reaches the kernel (the member's CFS quota). Skipped without the
// kubelet node. The heartbeat figures under that limit are in test/timing/kubelet-cpu-limit.timing.ts.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { isSettled, voters, type Cluster } from './cluster-status.js';
import { clientTls, etcdctl, kubeletPlacement, Kubectl, memberSpec, type OperatorProcess, type ClientTlsFiles, startLocalOperator, waitFor } from './harness.js';

const skip = inject('e2eSkip');
const kubeletNode = inject('e2eKubeletNode');
const ns = 'e2e-kubelet';
const name = 'real';
const CPU = '250m';
const MEMORY = '256Mi';

interface Pod {
  metadata: { name: string; uid: string };
  spec: { nodeName?: string; containers: Array<{ image: string }> };
  status: { podIP?: string; qosClass?: string; containerStatuses?: Array<{ name: string; containerID?: string; ready: boolean; imageID?: string }> };
}

describe.skipIf(skip !== '' || kubeletNode === '')('operator on a real kubelet (containerd, runc, CNI)', () => {
  const k = new Kubectl(inject('e2eKubeconfig'));
  let operator: OperatorProcess | undefined;
  let tls: ClientTlsFiles | undefined;
  const clientEndpoint = `https://${name}-client.${ns}.svc:2379`;
  const ctl = (args: string[]): ReturnType<typeof etcdctl> => etcdctl(clientEndpoint, [...(tls?.flags ?? []), ...args]);
  const get = (): Promise<Cluster> => k.json<Cluster>(['get', 'etcdcluster', name, '-n', ns]);
  const pods = async (): Promise<Pod[]> => (await k.json<{ items: Pod[] }>(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${name}`])).items;
  const settled = (n: number): Promise<Cluster> =>
    waitFor(`${n} healthy voters on the kubelet node`, 600_000, async () => {
      const c = await get();
      return isSettled(c, n) ? c : undefined;
    }, 2000).catch(async (err: unknown) => {
      const c = await get().catch(() => undefined);
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nstatus: ${JSON.stringify(c?.status)}\noperator log:\n${operator?.logTail() ?? ''}`);
    });

  beforeAll(async () => {
    operator = await startLocalOperator(k, ns);
  });
  afterAll(async () => {
    await k.run(['delete', 'etcdcluster', name, '-n', ns, '--timeout=120s']);
    await operator?.stop();
  });

  it('brings up 3 members in containers from the member image, Guaranteed, on the kubelet node', async () => {
    const applied = await k.apply({
      apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdCluster', metadata: { name, namespace: ns },
      spec: memberSpec({ cpu: CPU, memory: MEMORY, retentionPolicy: 'Delete', extra: { placement: kubeletPlacement } }),
    });
    expect(applied.stderr).toBe('');
    const c = await settled(3);
    expect(c.status?.members?.filter((m) => m.isLeader)).toHaveLength(1);
    const p = await pods();
    expect(p).toHaveLength(3);
    for (const pod of p) {
      expect(pod.spec.nodeName).toBe(kubeletNode);
      expect(pod.status.qosClass).toBe('Guaranteed');
      expect(pod.spec.containers[0]?.image).toMatch(/^ghcr\.io\/tsetcd\/tsetcd:/);
      const member = pod.status.containerStatuses?.find((s) => s.name === 'tsetcd') ?? pod.status.containerStatuses?.[0];
      expect(member?.containerID ?? '').toMatch(/^containerd:\/\//);
      expect(pod.status.podIP ?? '').toMatch(/^198\.19\./); // the kubelet node's CNI bridge, not the agent's
    }
    tls = await clientTls(k, ns, name);
  });

  it('applies the 250m CPU limit in the kernel: a CFS quota of 25 ms per 100 ms on each member', async () => {
    for (const pod of await pods()) {
      const id = (pod.status.containerStatuses?.[0]?.containerID ?? '').replace('containerd://', '');
      // cgroupfs driver, cgroup v1: Guaranteed Pods sit right under kubepods.
      const dir = `/sys/fs/cgroup/cpu/kubepods/pod${pod.metadata.uid}/${id}`;
      expect(existsSync(dir), dir).toBe(true);
      expect(Number(readFileSync(`${dir}/cpu.cfs_period_us`, 'utf8'))).toBe(100_000);
      expect(Number(readFileSync(`${dir}/cpu.cfs_quota_us`, 'utf8'))).toBe(25_000);
      const mem = `/sys/fs/cgroup/memory/kubepods/pod${pod.metadata.uid}/${id}/memory.limit_in_bytes`;
      expect(Number(readFileSync(mem, 'utf8'))).toBe(256 * 1024 * 1024);
    }
  });

  it('serves etcdctl through the client Service, with TLS', async () => {
    const put = await ctl(['put', '/kubelet/hello', 'containers']);
    expect(put.stderr).toBe('');
    expect(put.stdout.trim()).toBe('OK');
    expect((await ctl(['get', '/kubelet/hello', '--print-value-only'])).stdout.trim()).toBe('containers');
    for (let i = 0; i < 200; i++) {
      const r = await ctl(['put', `/kubelet/keys/${String(i).padStart(3, '0')}`, `v${i}`]);
      expect(r.code, r.stderr).toBe(0);
    }
  });

  const keyCount = async (): Promise<number> => {
    const r = await ctl(['get', '/kubelet/keys/', '--prefix', '--keys-only', '--limit=1', '-w', 'json']);
    if (r.code !== 0) throw new Error(`etcdctl get: ${r.stderr}`);
    return Number((JSON.parse(r.stdout) as { count?: number }).count ?? 0);
  };

  it('scales up to 5 and back to 3 on real containers, data intact', async () => {
    await k.ok(['scale', `etcdcluster/${name}`, '-n', ns, '--replicas=5']);
    const up = await settled(5);
    expect(voters(up)).toHaveLength(5);
    expect((await pods()).every((p) => p.spec.nodeName === kubeletNode && p.status.qosClass === 'Guaranteed')).toBe(true);
    expect(await waitFor('200 keys after scale-up', 30_000, async () => ((await keyCount()) === 200 ? 200 : undefined))).toBe(200);
    await k.ok(['scale', `etcdcluster/${name}`, '-n', ns, '--replicas=3']);
    const down = await settled(3);
    expect((down.status?.members ?? []).map((m) => m.name).sort()).toEqual([`${name}-0`, `${name}-1`, `${name}-2`]);
    expect((await pods()).map((p) => p.metadata.name).sort()).toEqual([`${name}-0`, `${name}-1`, `${name}-2`]);
    expect(await keyCount()).toBe(200);
  });
});
