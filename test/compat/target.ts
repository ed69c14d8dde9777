// One system under the differential test: a 3-member cluster on loopback (etcd 3.6 or tsetcd,
// started with the same etcd flags), and the three ways the session talks to it: etcdctl 3.6,
// raw gRPC, and HTTP (the /v3 JSON gateway, /health, /livez, /readyz, /version, /metrics).

import { execFile } from 'node:child_process';
import { Cluster } from '../integration/harness.js';
import { CompatGrpc } from './grpc-client.js';
import type { IdNames, Observation } from './normalize.js';

export type SystemName = 'etcd' | 'tsetcd';

export class Target implements IdNames {
  readonly ids: Array<readonly [string, bigint]> = [];
  readonly ports: Array<readonly [string, number]> = [];
  /** Lease IDs in the order this session granted them. */
  readonly leases: bigint[] = [];
  readonly grpc: CompatGrpc;

  private constructor(
    readonly system: SystemName,
    readonly cluster: Cluster,
    private readonly etcdctlBin: string,
  ) {
    this.grpc = new CompatGrpc(this.endpoint());
  }

  static async start(system: SystemName, memberBin: string | undefined, etcdctlBin: string): Promise<Target> {
    const cluster = await Cluster.start({ size: 3, label: `compat-${system}`, ...(memberBin ? { bin: memberBin } : {}) });
    const t = new Target(system, cluster, etcdctlBin);
    for (const m of cluster.members) {
      t.ports.push([`${m.name}-client`, m.clientPort], [`${m.name}-peer`, m.peerPort], [`${m.name}-metrics`, m.metricsPort]);
    }
    await t.learnMemberIds();
    await t.makeM1Leader();
    return t;
  }

  /** Every step talks to m1 (its answers' member_id is m1 on both sides). */
  endpoint(): string {
    return `127.0.0.1:${this.cluster.members[0]!.clientPort}`;
  }

  private async learnMemberIds(): Promise<void> {
    const o = await this.ctl(['member', 'list', '-w', 'json']);
    const cluster = /"cluster_id":(\d+)/.exec(o.body)?.[1];
    if (!cluster) throw new Error(`${this.system}: no cluster_id in ${o.body}`);
    this.ids.push(['cluster', BigInt(cluster)]);
    for (const m of o.body.matchAll(/"ID":(\d+),"name":"(m\d)"/g)) this.ids.push([m[2]!, BigInt(m[1]!)]);
    if (this.ids.length !== 4) throw new Error(`${this.system}: expected 3 members in ${o.body}`);
  }

  /** Both systems answer from a leader m1, so leader-only answers line up. */
  private async makeM1Leader(): Promise<void> {
    const leader = await this.cluster.waitLeader(30_000);
    const m1 = this.cluster.members[0]!;
    if (leader === m1) return;
    const id = this.ids.find(([n]) => n === 'm1')![1];
    const o = await this.ctl(['move-leader', id.toString(16)], undefined, this.cluster.endpoints());
    if (o.status !== 'exit=0') throw new Error(`${this.system}: move-leader to m1: ${o.body} ${o.stderr ?? ''}`);
    if ((await this.cluster.waitLeader(30_000)) !== m1) throw new Error(`${this.system}: m1 did not become leader`);
  }

  /** Names a lease this session granted (found in a LeaseGrant answer), as lease1, lease2, ... */
  noteLease(answer: string): void {
    const dec = /"ID":"?(\d+)"?/.exec(answer)?.[1];
    const hex = /^lease ([0-9a-f]+) granted/.exec(answer)?.[1];
    if (dec === undefined && hex === undefined) return;
    const v = dec !== undefined ? BigInt(dec) : BigInt(`0x${hex}`);
    if (this.leases.includes(v)) return;
    this.leases.push(v);
    this.ids.push([`lease${this.leases.length}`, v]);
  }

  lease(i: number): bigint {
    const v = this.leases[i];
    if (v === undefined) throw new Error(`${this.system}: lease ${i + 1} was not granted`);
    return v;
  }

  ctl(args: readonly string[], stdin?: string, endpoints = this.endpoint()): Promise<Observation> {
    return new Promise((resolve) => {
      const child = execFile(
        this.etcdctlBin,
        [`--endpoints=${endpoints}`, '--command-timeout=10s', ...args],
        { timeout: 20_000, env: { ...process.env, ETCDCTL_API: undefined } }, // 3.6 warns about ETCDCTL_API
        (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
          resolve({ status: `exit=${code}`, body: stdout.trimEnd(), stderr: stderr.trimEnd() });
        },
      );
      if (stdin !== undefined) child.stdin?.end(stdin);
    });
  }

  async http(method: string, path: string, body?: string, where: 'client' | 'metrics' = 'client'): Promise<Observation> {
    const m = this.cluster.members[0]!;
    const base = where === 'client' ? m.clientUrl : m.metricsUrl;
    const r = await fetch(`${base}${path}`, { method, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(10_000) });
    const cors = [...r.headers.keys()].filter((h) => h.startsWith('access-control-')).sort().map((h) => `${h}: ${r.headers.get(h)}`);
    return { status: [`HTTP ${r.status} ${r.headers.get('content-type') ?? '-'}`, ...cors].join('\n'), body: (await r.text()).trimEnd() };
  }

  async stop(): Promise<void> {
    this.grpc.close();
    await this.cluster.stop();
  }
}
