// The operator end to end: least-privilege install, bring-up, placement, scale up and down,
// member failure, operator crashes. One EtcdCluster walks through the cases in order; each
// case waits on conditions with bounded deadlines and leaves the cluster healthy for the next.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { isSettled, voters, type Cluster } from './cluster-status.js';
import { applyCrds, clientTls, cpDir, etcdctl as etcdctlLocal, freePort, type ClientTlsFiles, installOperatorRbac, Kubectl, OperatorProcess, portForward, repoRoot, run, waitFor, type RunResult } from './harness.js';

const skip = inject('e2eSkip');
const local = inject('e2eLocal');
const ns = 'e2e-operator';
const name = 'main';
/** Local: the client Service's name, resolved through the node agent's hosts file. Elsewhere: a port-forward. */
let clientEndpoint = `https://${name}-client.${ns}.svc:2379`;
/** The cluster is TLS by default: clients use the operator-issued client certificate. */
let tls: ClientTlsFiles | undefined;

interface PodList { items: Array<{ metadata: { name: string }; spec: { nodeName?: string }; status: { podIP?: string; phase?: string } }> }


describe.skipIf(skip !== '')('operator end to end', () => {
  const k = new Kubectl(inject('e2eKubeconfig'));
  /** The operator as a local process (local control plane); elsewhere the chart's Deployment runs it. */
  let operator: OperatorProcess | undefined;
  let stopForward: (() => void) | undefined;
  const etcdctl = (endpoint: string, args0: string[]): Promise<RunResult> => {
    const args = [...(tls?.flags ?? []), ...args0];
    return local ? etcdctlLocal(endpoint, args) : run('etcdctl', [`--endpoints=${endpoint}`, '--command-timeout=10s', ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
  };
  /** Largest number of learners and smallest number of healthy voters seen while sampling. */
  const seen = { maxLearners: 0, minHealthyVoters: Number.POSITIVE_INFINITY, sampling: false };
  let sampler: NodeJS.Timeout | undefined;

  const get = (): Promise<Cluster> => k.json<Cluster>(['get', 'etcdcluster', name, '-n', ns]);
  const pods = (): Promise<PodList> => k.json<PodList>(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${name}`]);

  /** Waits until the cluster has n healthy voters, no learner, a leader and Available=True, with no operation running. */
  /** Settled with n voters, and `also` (e.g. a member has a new ID: a stale status must not pass). */
  async function settled(n: number, timeoutMs = 300_000, also: (c: Cluster) => boolean = () => true): Promise<Cluster> {
    return waitFor(`${n} healthy voters, a leader and Available=True`, timeoutMs, async () => {
      const c = await get();
      return isSettled(c, n) && also(c) ? c : undefined;
    }, 2000).catch(async (err: unknown) => {
      const c = await get().catch(() => undefined);
      throw new Error(`${err instanceof Error ? err.message : String(err)}\nstatus: ${JSON.stringify(c?.status)}\noperator log:\n${operator?.logTail() ?? '(in-cluster: kubectl logs deploy/tsetcd-operator)'}`);
    });
  }

  function startSampling(): void {
    seen.maxLearners = 0;
    seen.minHealthyVoters = Number.POSITIVE_INFINITY;
    sampler = setInterval(() => {
      void get().then((c) => {
        const members = c.status?.members ?? [];
        seen.maxLearners = Math.max(seen.maxLearners, members.filter((m) => m.isLearner).length);
        if (members.length > 0) seen.minHealthyVoters = Math.min(seen.minHealthyVoters, voters(c).filter((m) => m.healthy).length);
      }, () => {});
    }, 1000);
  }
  function stopSampling(): void {
    if (sampler) clearInterval(sampler);
    sampler = undefined;
  }

  async function keyCount(prefix: string): Promise<number> {
    // etcdctl 3.4 has no --count-only; a limit-1 range still reports the total count. A failed
    // call (the Service name briefly pointing at a Pod that just went) is retried; a wrong count is not.
    return waitFor(`a count of ${prefix}`, 30_000, async () => {
      const r = await etcdctl(clientEndpoint, ['get', prefix, '--prefix', '--keys-only', '--limit=1', '-w', 'json']);
      if (r.code !== 0) throw new Error(`etcdctl get: ${r.stderr}`);
      return Number((JSON.parse(r.stdout) as { count?: number }).count ?? 0);
    }, 500);
  }

  beforeAll(async () => {
    await applyCrds(k);
    if (local) {
      const install = await installOperatorRbac(k);
      const op = new OperatorProcess(install, await freePort());
      operator = op;
      op.start();
      await waitFor('the operator to serve /readyz', 60_000, async () => (await fetch(op.metricsUrl.replace('/metrics', '/readyz'))).ok);
    } else {
      await k.ok(['rollout', 'status', 'deployment', '-n', 'tsetcd-system', '--timeout=180s', '-l', 'app.kubernetes.io/name=tsetcd-operator']);
    }
    await k.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  });

  afterAll(async () => {
    stopSampling();
    // Wait for the deletion while the operator still runs: retentionPolicy Delete puts a finalizer on it.
    await k.run(['delete', 'etcdcluster', name, '-n', ns, '--timeout=120s']);
    stopForward?.();
    await operator?.stop();
  });

  it('brings up a 3-member cluster: pods, 3 voters, a leader, Available=True', async () => {
    const applied = await k.apply({
      apiVersion: 'tsetcd.dev/v1alpha1', kind: 'EtcdCluster', metadata: { name, namespace: ns },
      spec: {
        replicas: 3,
        storage: { size: '1Gi', retentionPolicy: 'Delete' },
        resources: { requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '500m', memory: '512Mi' } },
        placement: {
          dedicated: { nodeSelector: { dedicated: 'etcd' }, tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'etcd', effect: 'NoSchedule' }] },
          antiAffinity: 'required',
        },
      },
    });
    expect(applied.stderr).toBe('');
    const c = await settled(3);
    expect(voters(c)).toHaveLength(3);
    expect(c.status?.members?.filter((m) => m.isLeader)).toHaveLength(1);
    const p = await pods();
    expect(p.items).toHaveLength(3);
    tls = await clientTls(k, ns, name);
    if (!local) {
      const pf = await portForward(k.kubeconfig, ns, `svc/${name}-client`, 2379);
      stopForward = pf.stop;
      clientEndpoint = `https://127.0.0.1:${pf.port}`;
    }
  });

  /** Members sit only on nodes labelled dedicated=etcd whose taints they tolerate, one per node. */
  async function expectPlacement(): Promise<void> {
    const p = await pods();
    const nodes = p.items.map((x) => x.spec.nodeName ?? '');
    expect(new Set(nodes).size).toBe(nodes.length);
    const nodeList = await k.json<{ items: Array<{ metadata: { name: string; labels?: Record<string, string> }; spec: { taints?: Array<{ key: string; value?: string; effect: string }> } }> }>(['get', 'nodes']);
    const eligible = new Set(nodeList.items
      .filter((n) => n.metadata.labels?.dedicated === 'etcd')
      .filter((n) => (n.spec.taints ?? []).every((t) => t.effect !== 'NoSchedule' || (t.key === 'dedicated' && t.value === 'etcd')))
      .map((n) => n.metadata.name));
    expect(nodeList.items.length).toBeGreaterThan(eligible.size); // some nodes are not eligible
    for (const n of nodes) expect(eligible.has(n), `member on ineligible node ${n}`).toBe(true);
  }

  it('places members only on dedicated nodes, never two on one node', async () => {
    await expectPlacement();
  });

  it('serves etcdctl through the client Service', async () => {
    const put = await etcdctl(clientEndpoint, ['put', '/e2e/hello', 'world']);
    expect(put.stderr).toBe('');
    expect(put.stdout.trim()).toBe('OK');
    const got = await etcdctl(clientEndpoint, ['get', '/e2e/hello', '--print-value-only']);
    expect(got.stdout.trim()).toBe('world');
    const health = await etcdctl(clientEndpoint, ['endpoint', 'health']);
    expect(health.code).toBe(0);
  });

  it('scales up to 5 with 1,000 keys: one learner at a time, promoted, data intact, PDB recomputed', async () => {
    const p = await pods();
    // By pod IP (the test process cannot resolve cluster names); the certificate names the client Service.
    const client = new Etcd3({
      hosts: local ? p.items.map((x) => `https://${x.status.podIP ?? ''}:2379`) : [clientEndpoint],
      credentials: { rootCertificate: tls!.ca, certChain: tls!.cert, privateKey: tls!.key },
      grpcOptions: { 'grpc.ssl_target_name_override': `${name}-client.${ns}.svc` },
    });
    try {
      const batch = 50;
      for (let i = 0; i < 1000; i += batch) {
        await Promise.all(Array.from({ length: batch }, (_, j) => client.put(`/e2e/keys/${String(i + j).padStart(4, '0')}`).value(`v${i + j}`)));
      }
    } finally {
      client.close();
    }
    expect(await keyCount('/e2e/keys/')).toBe(1000);
    startSampling();
    await k.ok(['scale', `etcdcluster/${name}`, '-n', ns, '--replicas=5']);
    await settled(5, 600_000);
    stopSampling();
    expect(seen.maxLearners).toBeLessThanOrEqual(1);
    expect(seen.minHealthyVoters).toBeGreaterThanOrEqual(2);
    expect(await keyCount('/e2e/keys/')).toBe(1000);
    await expectPlacement();
    const pdbs = await k.json<{ items: Array<{ spec: { maxUnavailable?: number }; status?: { expectedPods?: number; disruptionsAllowed?: number } }> }>(
      ['get', 'pdb', '-n', ns, '-l', `app.kubernetes.io/instance=${name}`]);
    expect(pdbs.items).toHaveLength(1);
    expect(pdbs.items[0]?.spec.maxUnavailable).toBe(1);
    // The disruption controller sees all 5 members under the budget.
    await waitFor('the PDB to cover 5 pods', 60_000, async () => {
      const l = await k.json<typeof pdbs>(['get', 'pdb', '-n', ns, '-l', `app.kubernetes.io/instance=${name}`]);
      return l.items[0]?.status?.expectedPods === 5 ? true : undefined;
    });
  });

  it('scales down to 3 one member at a time, data intact', async () => {
    startSampling();
    await k.ok(['scale', `etcdcluster/${name}`, '-n', ns, '--replicas=3']);
    const c = await settled(3, 600_000);
    stopSampling();
    expect(seen.minHealthyVoters).toBeGreaterThanOrEqual(3);
    expect((c.status?.members ?? []).map((m) => m.name).sort()).toEqual([`${name}-0`, `${name}-1`, `${name}-2`]);
    expect(await keyCount('/e2e/keys/')).toBe(1000);
    const p = await pods();
    expect(p.items.map((x) => x.metadata.name).sort()).toEqual([`${name}-0`, `${name}-1`, `${name}-2`]);
  });

  it('brings a deleted member Pod back and it catches up', async () => {
    const before = await get();
    const victim = `${name}-1`;
    const oldId = before.status?.members?.find((m) => m.name === victim)?.id;
    const podUid = async (): Promise<string> => (await k.run(['get', 'pod', victim, '-n', ns, '-o', 'jsonpath={.metadata.uid}'])).stdout;
    const oldUid = await podUid();
    await k.ok(['delete', 'pod', victim, '-n', ns]);
    // A write while the member is down. The Service name may still point at the deleted Pod for
    // a moment (no kube-proxy: the hosts file follows the EndpointSlice), so retry like a client.
    await waitFor('a write while a member is down', 60_000, async () => {
      const r = await etcdctl(clientEndpoint, ['put', '/e2e/while-down', 'yes']);
      return r.code === 0 && r.stdout.trim() === 'OK' ? true : undefined;
    }, 500);
    // The StatefulSet makes a new Pod (new UID) that becomes Ready, and the cluster settles again.
    await waitFor('a new, Ready member Pod', 120_000, async () => {
      const r = await k.run(['get', 'pod', victim, '-n', ns, '-o', 'jsonpath={.metadata.uid} {.status.conditions[?(@.type=="Ready")].status}']);
      const [uid, ready] = r.stdout.split(' ');
      return r.code === 0 && uid !== '' && uid !== oldUid && ready === 'True' ? true : undefined;
    });
    const c = await settled(3);
    expect(c.status?.members?.find((m) => m.name === victim)?.id).toBe(oldId);
    const value = await waitFor('the value written while the member was down', 30_000, async () => {
      const r = await etcdctl(clientEndpoint, ['get', '/e2e/while-down', '--print-value-only']);
      return r.code === 0 ? r.stdout.trim() : undefined;
    }, 500);
    expect(value).toBe('yes');
    expect(await keyCount('/e2e/keys/')).toBe(1000);
  });

  it('replaces a member whose PVC (and its folder) is gone as a new member', async () => {
    const victim = `${name}-2`;
    const before = await get();
    const oldId = before.status?.members?.find((m) => m.name === victim)?.id;
    expect(oldId).toBeDefined();
    const pvc = await k.json<{ metadata: { uid: string }; spec: { volumeName: string } }>(['get', 'pvc', `data-${victim}`, '-n', ns]);
    // The PVC goes (the node agent deletes the released folder), then the Pod; the StatefulSet
    // recreates both, and the member comes back with empty data.
    await k.ok(['delete', 'pvc', `data-${victim}`, '-n', ns, '--wait=false']);
    await k.ok(['delete', 'pod', victim, '-n', ns]);
    await waitFor('a new PVC for the member', 120_000, async () => {
      const r = await k.run(['get', 'pvc', `data-${victim}`, '-n', ns, '-o', 'jsonpath={.metadata.uid}']);
      return r.code === 0 && r.stdout !== '' && r.stdout !== pvc.metadata.uid ? true : undefined;
    });
    const c = await settled(3, 600_000, (x) => x.status?.members?.some((m) => m.name === victim && m.id !== oldId) === true);
    const newId = c.status?.members?.find((m) => m.name === victim)?.id;
    expect(newId).toBeDefined();
    expect(newId).not.toBe(oldId);
    expect(await keyCount('/e2e/keys/')).toBe(1000);
    const old = await k.run(['get', 'pv', pvc.spec.volumeName]);
    expect(old.code).not.toBe(0); // the released volume was deleted
  });

  it.skipIf(!local)('survives an operator crash in the middle of a scale-up, without losing quorum', async () => {
    if (!operator) throw new Error('no local operator');
    const op = operator;
    startSampling();
    await k.ok(['scale', `etcdcluster/${name}`, '-n', ns, '--replicas=5']);
    // Kill the operator right after its MemberAdd: as soon as the cluster lists a learner.
    await waitFor('a learner in the member list (MemberAdd done)', 120_000, async () => {
      const r = await etcdctl(clientEndpoint, ['member', 'list', '-w', 'json']);
      const members = (JSON.parse(r.stdout) as { members?: Array<{ isLearner?: boolean }> }).members ?? [];
      return members.some((m) => m.isLearner === true) ? true : undefined;
    }, 100);
    await op.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 3000));
    op.start();
    await settled(5, 600_000);
    // And in the middle of a scale-down, once its first step is recorded.
    await k.ok(['scale', `etcdcluster/${name}`, '-n', ns, '--replicas=3']);
    await waitFor('a scale-down operation to start', 120_000, async () => ((await get()).status?.currentOperation ? true : undefined), 250);
    await op.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 3000));
    op.start();
    await settled(3, 600_000);
    stopSampling();
    expect(seen.maxLearners).toBeLessThanOrEqual(1);
    expect(seen.minHealthyVoters).toBeGreaterThanOrEqual(2);
    expect(await keyCount('/e2e/keys/')).toBe(1000);
  });
  it.skipIf(!local)('is scraped by Prometheus: tsetcd_cluster_has_leader == 1 and etcd_server_has_leader', async () => {
    if (!operator) throw new Error('no local operator');
    const op = operator;
    const p = await pods();
    const promPort = await freePort();
    const dir = join(cpDir, 'prometheus');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const members = p.items.map((x) => `'${x.status.podIP ?? ''}:2381'`).join(', ');
    writeFileSync(join(dir, 'prometheus.yml'), [
      'global: {scrape_interval: 1s, evaluation_interval: 1s}',
      'scrape_configs:',
      `  - job_name: tsetcd-operator\n    static_configs: [{targets: ['127.0.0.1:${op.metricsPort}']}]`,
      `  - job_name: tsetcd-members\n    static_configs: [{targets: [${members}]}]`,
      '',
    ].join('\n'));
    const prom = spawn('prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ], { stdio: ['ignore', openSync(join(cpDir, 'logs', 'prometheus.log'), 'a'), openSync(join(cpDir, 'logs', 'prometheus.log'), 'a')] });
    try {
      const query = async (q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
        const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
        const body = (await r.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
        if (body.status !== 'success') throw new Error(`query ${q}: ${JSON.stringify(body)}`);
        return body.data.result;
      };
      const hasLeader = await waitFor('tsetcd_cluster_has_leader == 1 in Prometheus', 60_000, async () => {
        const r = await query('tsetcd_cluster_has_leader == 1');
        return r.length > 0 ? r : undefined;
      });
      expect(hasLeader.map((x) => x.metric.cluster)).toContain(name);
      const etcdHasLeader = await waitFor('etcd_server_has_leader from every member', 60_000, async () => {
        const r = await query('etcd_server_has_leader{job="tsetcd-members"} == 1');
        return r.length === p.items.length ? r : undefined;
      });
      expect(etcdHasLeader).toHaveLength(3);
      const leaders = await query('sum(etcd_server_is_leader{job="tsetcd-members"})');
      expect(leaders[0]?.value[1]).toBe('1');
    } finally {
      prom.kill('SIGTERM');
    }
  });
  // Day two (issue 13). Written by reading; not run when it was written (see docs/operator.md).
  it('compacts by spec.compaction, defragments on spec.defragmentation.schedule, and refuses a skipped minor version', async () => {
    interface DayTwo {
      metadata: { generation: number };
      status?: {
        observedGeneration?: number;
        conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
        members?: Array<{ name: string; lastDefragTime?: string; lastDefragReclaimedBytes?: number }>;
        defragmentation?: { lastRun?: { result: string; finishTime: string } };
      };
    }
    const get2 = (): Promise<DayTwo> => k.json<DayTwo>(['get', 'etcdcluster', name, '-n', ns]);
    const patch = (spec: unknown): Promise<string> => k.ok(['patch', 'etcdcluster', name, '-n', ns, '--type=merge', '-p', JSON.stringify({ spec })]);
    const stsImage = async (): Promise<string> => (await k.ok(['get', 'statefulset', name, '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers[0].image}'])).trim();

    // 1. Revision compaction keeping 10 revisions: the members roll onto the new flags, then compact.
    await patch({ compaction: { mode: 'revision', retention: '10' } });
    await waitFor('the StatefulSet carries --auto-compaction-retention=10', 60_000, async () => {
      const args = await k.ok(['get', 'statefulset', name, '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers[0].args}']);
      return args.includes('--auto-compaction-retention=10') ? true : undefined;
    });
    await waitFor('every member pod rolled onto the new revision', 600_000, async () => {
      // The controller's status must describe the new template (observedGeneration), not the old one.
      const r = await k.run(['get', 'statefulset', name, '-n', ns, '-o', 'jsonpath={.metadata.generation} {.status.observedGeneration} {.status.updatedReplicas}']);
      const [gen, seenGen, updated] = r.stdout.trim().split(' ');
      return r.code === 0 && gen === seenGen && updated === '3' ? true : undefined;
    }, 2000);
    await settled(3, 600_000);
    let first = 0;
    for (let i = 0; i < 30; i++) {
      const r = await waitFor('a put', 30_000, async () => {
        const x = await etcdctl(clientEndpoint, ['put', '/e2e/compact', `v${i}`, '-w', 'json']);
        return x.code === 0 ? x : undefined;
      }, 500);
      const rev = Number((JSON.parse(r.stdout) as { header: { revision: number } }).header.revision);
      if (i === 0) first = rev;
    }
    await waitFor('the first put compacted away (revision mode, every 5 s)', 120_000, async () => {
      const r = await etcdctl(clientEndpoint, ['get', '/e2e/compact', `--rev=${first}`]);
      return r.code !== 0 && /required revision has been compacted/.test(r.stderr) ? true : undefined;
    }, 2000);

    // 2. Defragmentation every minute, every member (no threshold): one at a time, then the run succeeds.
    const since = Date.now();
    await patch({ defragmentation: { schedule: '* * * * *', minFreePercent: 0, minDbSize: '0' } });
    const done = await waitFor('a defragmentation run that defragmented every member', 300_000, async () => {
      const c = await get2();
      const ms = c.status?.members ?? [];
      const fresh = ms.filter((m) => m.lastDefragTime !== undefined && Date.parse(m.lastDefragTime) >= since - 60_000);
      return c.status?.defragmentation?.lastRun?.result === 'Succeeded' && fresh.length === 3 ? c : undefined;
    }, 2000);
    // The compacted puts' values are dead bytes in each member's value log until Defragment rewrites it.
    // Status holds only a member's latest Defragment: on a busy machine the next minute's run can
    // start before this poll sees the first one, and a second Defragment of a member gives back
    // nothing. So each member must have given bytes back in one of its Defragment Events.
    expect(done.status?.members?.length).toBe(3);
    const events = await k.json<{ items: Array<{ reason: string; message: string }> }>(['get', 'events', '-n', ns, '--field-selector', `involvedObject.name=${name}`]);
    const defragged = events.items.filter((e) => e.reason === 'MemberDefragmented');
    expect(defragged.length).toBeGreaterThanOrEqual(3);
    for (const m of done.status?.members ?? []) {
      const given = defragged.map((e) => e.message.match(new RegExp(`^${m.name}: Defragment gave back (\\d+) bytes`))).map((x) => (x ? Number(x[1]) : 0));
      expect(Math.max(0, ...given), `${m.name}: bytes a Defragment gave back`).toBeGreaterThan(0);
    }
    await patch({ defragmentation: null });

    // 3. A skipped minor version is refused, and the StatefulSet keeps the image the members run.
    const image = await stsImage();
    await patch({ version: '3.7.0', image: 'ghcr.io/tsetcd/tsetcd:does-not-exist' });
    const refused = await waitFor('Degraded=UnsupportedVersionChange', 120_000, async () => {
      const c = await get2();
      const d = c.status?.conditions?.find((x) => x.type === 'Degraded');
      return c.status?.observedGeneration === c.metadata.generation && d?.reason === 'UnsupportedVersionChange' ? d : undefined;
    }, 2000);
    expect(refused.message).toMatch(/one minor version at a time/);
    expect(await stsImage()).toBe(image);
    await patch({ version: '3.5.17', image: null });
    await settled(3, 600_000);
    expect(await keyCount('/e2e/keys/')).toBe(1000);
  });
});
