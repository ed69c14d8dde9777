// Three members of etcd or tsetcd on loopback for the bench scripts (hack/bench-cluster.ts,
// hack/bench-etcd-benchmark.ts): free ports, the etcd flags both binaries take, a health wait,
// and a stop that lets a --cpu-prof member write its profile. Members log at warn;
// BENCH_LOG_LEVEL=info keeps their elections and leader changes too (e.g. with KEEP_DATA=1 in
// bench-data-scale.ts, whose data dirs hold the members' logs).

import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';

export interface LoopbackMember {
  name: string;
  /** http://127.0.0.1:port */
  client: string;
  /** The member's /metrics URL. */
  metrics: string;
  /** etcd's flags for this member (the same for etcd and tsetcd). */
  args: string[];
}

export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  for (let i = 0; i < n; i++) {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    servers.push(s);
  }
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

export interface PlanOptions {
  /** https client and peer URLs (the metrics URL stays plain), with each member's TLS flags. */
  readonly tlsFlags?: (name: string) => readonly string[];
  /** Members (default 3). */
  readonly count?: number;
}

/** Ports and flags for members m1..mN (N = 3 unless told) with their data under root. */
export async function planMembers(root: string, token: string, opts: PlanOptions = {}): Promise<LoopbackMember[]> {
  const count = opts.count ?? 3;
  const ports = await freePorts(3 * count);
  const names = Array.from({ length: count }, (_, i) => `m${i + 1}`);
  const scheme = opts.tlsFlags ? 'https' : 'http';
  const peer = (i: number): string => `${scheme}://127.0.0.1:${ports[i * 3 + 1]}`;
  const initial = names.map((n, i) => `${n}=${peer(i)}`).join(',');
  return names.map((name, i) => {
    const client = `${scheme}://127.0.0.1:${ports[i * 3]}`;
    const metricsUrl = `http://127.0.0.1:${ports[i * 3 + 2]}`;
    return {
      name,
      client,
      metrics: `${metricsUrl}/metrics`,
      args: [
        ...(opts.tlsFlags?.(name) ?? []),
        `--name=${name}`,
        `--data-dir=${join(root, name)}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer(i)}`,
        `--initial-advertise-peer-urls=${peer(i)}`,
        `--listen-metrics-urls=${metricsUrl}`,
        `--initial-cluster=${initial}`,
        '--initial-cluster-state=new',
        `--initial-cluster-token=${token}`,
        `--log-level=${process.env['BENCH_LOG_LEVEL'] ?? 'warn'}`,
      ],
    };
  });
}

/** Waits until every member's /health answers 200; false after timeoutMs. */
export async function waitHealthy(clients: string[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await Promise.all(
      clients.map((c) =>
        fetch(`${c}/health`, { signal: AbortSignal.timeout(2000) })
          .then((r) => r.status === 200)
          .catch(() => false),
      ),
    );
    if (ok.every(Boolean)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** SIGTERM (a --cpu-prof member writes its profile on a clean exit), SIGKILL after 15 s. */
export async function stopProcs(procs: ChildProcess[]): Promise<void> {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((r) => {
          if (p.exitCode !== null || p.signalCode !== null) return r();
          p.once('exit', () => r());
          p.kill('SIGTERM');
          setTimeout(() => p.kill('SIGKILL'), 15_000).unref();
        }),
    ),
  );
}
