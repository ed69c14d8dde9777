// Real processes on loopback: a tsetcd cluster of bin/tsetcd members (built by `make build`),
// driven by Debian's etcdctl (ETCDCTL_API=3). Used by the acceptance tests in this folder.
// - Ports: free ephemeral ports from the OS (bind :0, read, close), so parallel test files
//   never clash.
// - Data: a fresh folder under .data/it-* in the repo, removed on stop() unless KEEP_DATA=1.
// - Every member's stderr goes to <data>/<name>.log; on failure the tail is printed.
// - stop() kills every process it started (SIGTERM, then SIGKILL after a bounded wait).
// Waits are on conditions with a deadline, never bare sleeps.

import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { logChildOutput } from '../../hack/lib/child-log.js';

export const REPO = resolve(import.meta.dirname, '..', '..');
export const TSETCD_BIN = join(REPO, 'bin', 'tsetcd');
export const ETCDCTL = process.env['ETCDCTL'] ?? '/usr/bin/etcdctl';

/**
 * etcdctl must exist in CI (a missing one fails there); locally a missing etcdctl skips with a
 * printed reason. The member binary is built by `make build` (make test builds first); without
 * dist/node/main.js the suite skips, saying so.
 */
/** etcd 3.6's binaries (hack/ensure-etcd36.sh, a prerequisite of make test), by name. */
export const ETCD36_VERSION = readFileSync(join(REPO, 'hack', 'etcd36', 'VERSION'), 'utf8').trim();
const ETCD36_DIR = process.env['ETCD36_BIN_DIR'] ?? join(REPO, '.cache', 'etcd36', ETCD36_VERSION);
export function etcd36Bin(name: 'etcd' | 'etcdctl' | 'etcdutl'): string {
  return join(ETCD36_DIR, name);
}

/** True when the etcd 3.6 binaries are built; under CI their absence is an error, not a skip. */
export function haveEtcd36(names: ReadonlyArray<'etcd' | 'etcdctl' | 'etcdutl'>, suite: string): boolean {
  const missing = names.map(etcd36Bin).filter((b) => !existsSync(b));
  if (missing.length === 0) return true;
  const why = `missing ${missing.join(' and ')} (bash hack/ensure-etcd36.sh builds them)`;
  if (process.env['CI']) throw new Error(`${suite} needs etcd 3.6: ${why}`);
  console.log(`skipping ${suite}: ${why}`);
  return false;
}

export function requireTools(): { ok: boolean; why: string } {
  if (!existsSync(ETCDCTL)) {
    const why = `missing ${ETCDCTL} (apt-get install etcd-client)`;
    if (process.env['CI']) throw new Error(`acceptance tests need etcdctl: ${why}`);
    console.log(`skipping acceptance tests: ${why}`);
    return { ok: false, why };
  }
  if (!existsSync(TSETCD_BIN) || !existsSync(join(REPO, 'dist', 'node', 'main.js'))) {
    const why = `missing ${TSETCD_BIN} or dist/node/main.js (run make build)`;
    if (process.env['CI']) throw new Error(`acceptance tests need the built member: ${why}`);
    console.log(`skipping acceptance tests: ${why}`);
    return { ok: false, why };
  }
  return { ok: true, why: '' };
}

export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = net.createServer();
    await new Promise<void>((res, rej) => {
      s.once('error', rej);
      s.listen(0, '127.0.0.1', () => res());
    });
    servers.push(s);
    ports.push((s.address() as net.AddressInfo).port);
  }
  await Promise.all(servers.map((s) => new Promise<void>((res) => s.close(() => res()))));
  return ports;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface CtlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs etcdctl; never throws on a non-zero exit (look at code). Bounded by timeoutMs. */
export function etcdctl(endpoints: string, args: readonly string[], opts: { stdin?: string; timeoutMs?: number; bin?: string } = {}): Promise<CtlResult> {
  return new Promise((resolvePromise) => {
    const p = execFile(
      opts.bin ?? ETCDCTL,
      [`--endpoints=${endpoints}`, '--dial-timeout=5s', '--command-timeout=20s', ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code as number) : 1) : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
    p.stdin?.on('error', () => {}); // etcdctl may exit before reading stdin (EPIPE)
    p.stdin?.end(opts.stdin ?? '');
  });
}

/**
 * etcdctl's -w json, with its uint64 ids (ID, member_id, cluster_id, leader) as decimal strings:
 * member ids use all 64 bits, and JSON.parse would round them to the nearest double.
 */
export function parseCtlJson<T>(text: string): T {
  return JSON.parse(text.replace(/"(ID|member_id|cluster_id|leader)":(\d+)/g, '"$1":"$2"')) as T;
}

/** A member's ID by name, from `etcdctl member list -w json` through `endpoints`. */
export async function memberIdOf(endpoints: string, name: string): Promise<bigint> {
  const list = parseCtlJson<{ members: Array<{ ID: string; name: string }> }>(await ctlOk(endpoints, ['member', 'list', '-w', 'json']));
  const m = list.members.find((x) => x.name === name);
  if (!m) throw new Error(`no member named ${name} in ${endpoints}'s member list`);
  return BigInt(m.ID);
}

/** Like etcdctl() but throws with stderr on failure; returns stdout. */
export async function ctlOk(endpoints: string, args: readonly string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await etcdctl(endpoints, args, opts);
  if (r.code !== 0) throw new Error(`etcdctl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export interface MemberSpec {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly metricsPort: number;
}

export interface RunningMember extends MemberSpec {
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly metricsUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  proc: ChildProcess | undefined;
}

export interface ClusterOptions {
  readonly size: number;
  /** Extra flags for every member. */
  readonly flags?: readonly string[];
  readonly heartbeatMs?: number;
  readonly electionMs?: number;
  readonly label?: string;
  /** The member binary: tsetcd by default; any binary that takes etcd's flags (etcd itself). */
  readonly bin?: string;
  /**
   * TLS on client and peer URLs: each member's own flags (its cert files), and the etcdctl flags
   * the harness's own calls (status, leader) use. Health is then read on the plain metrics URL.
   */
  readonly tls?: { memberFlags(name: string): readonly string[]; ctlFlags: readonly string[] };
}

export interface StatusJson {
  Endpoint: string;
  /** member_id and leader: uint64 decimal strings (parseCtlJson), '0' for no leader. */
  Status: { header: { member_id: string; revision: number; raft_term: number }; leader: string; version: string; isLearner?: boolean };
}

export class Cluster {
  readonly members: RunningMember[] = [];
  readonly root: string;
  private readonly token: string;

  private constructor(
    readonly opts: ClusterOptions,
    root: string,
  ) {
    this.root = root;
    this.token = `it-${process.pid}-${Date.now()}`;
  }

  static async start(opts: ClusterOptions): Promise<Cluster> {
    const root = join(REPO, '.data', `it-${opts.label ?? 'cluster'}-${process.pid}-${Date.now()}`);
    mkdirSync(root, { recursive: true });
    const c = new Cluster(opts, root);
    const ports = await freePorts(opts.size * 3);
    for (let i = 0; i < opts.size; i++) c.members.push(c.spec(`m${i + 1}`, ports[i * 3]!, ports[i * 3 + 1]!, ports[i * 3 + 2]!));
    const initial = c.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    try {
      for (const m of c.members) c.launch(m, initial, 'new');
      await c.waitHealthy(c.members, 30_000);
      await c.waitLeader(30_000);
    } catch (e) {
      c.printLogs();
      await c.stop();
      throw e;
    }
    return c;
  }

  private spec(name: string, clientPort: number, peerPort: number, metricsPort: number): RunningMember {
    const dataDir = join(this.root, name);
    const scheme = this.opts.tls ? 'https' : 'http';
    return {
      name,
      clientPort,
      peerPort,
      metricsPort,
      clientUrl: `${scheme}://127.0.0.1:${clientPort}`,
      peerUrl: `${scheme}://127.0.0.1:${peerPort}`,
      metricsUrl: `http://127.0.0.1:${metricsPort}`,
      dataDir,
      logFile: join(this.root, `${name}.log`),
      proc: undefined,
    };
  }

  /** Starts (or restarts) a member's process. */
  launch(m: RunningMember, initialCluster: string, state: 'new' | 'existing', extraFlags: readonly string[] = []): void {
    const args = [
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      `--listen-metrics-urls=${m.metricsUrl}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-state=${state}`,
      `--initial-cluster-token=${this.token}`,
      `--heartbeat-interval=${this.opts.heartbeatMs ?? 100}`,
      `--election-timeout=${this.opts.electionMs ?? 1000}`,
      '--log-level=info',
      ...(this.opts.flags ?? []),
      ...extraFlags,
      ...(this.opts.tls?.memberFlags(m.name) ?? []),
    ];
    const proc = spawn(this.opts.bin ?? TSETCD_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ETCDCTL_API: undefined } });
    logChildOutput(proc, m.logFile, { append: true });
    m.proc = proc;
  }

  /** Adds a member spec (new ports) without starting it: for `member add` then launch(). */
  async newMemberSpec(name: string): Promise<RunningMember> {
    const [c, p, mt] = await freePorts(3);
    const m = this.spec(name, c!, p!, mt!);
    this.members.push(m);
    return m;
  }

  running(): RunningMember[] {
    return this.members.filter((m) => m.proc && m.proc.exitCode === null && m.proc.signalCode === null);
  }

  endpoints(members: readonly RunningMember[] = this.running()): string {
    return members.map((m) => `127.0.0.1:${m.clientPort}`).join(',');
  }

  async waitHealthy(members: readonly RunningMember[], timeoutMs: number): Promise<void> {
    for (const m of members) {
      await waitFor(
        `${m.name} /health`,
        async () => {
          if (m.proc && (m.proc.exitCode !== null || m.proc.signalCode !== null)) {
            throw new Error(`${m.name} exited (${m.proc.exitCode ?? m.proc.signalCode})`);
          }
          const r = await fetch(`${this.opts.tls ? m.metricsUrl : m.clientUrl}/health`, { signal: AbortSignal.timeout(2000) });
          return r.status === 200 ? true : undefined;
        },
        timeoutMs,
        200,
      );
    }
  }

  async statuses(members: readonly RunningMember[] = this.running()): Promise<StatusJson[]> {
    const out = await ctlOk(this.endpoints(members), [...(this.opts.tls?.ctlFlags ?? []), 'endpoint', 'status', '-w', 'json']);
    return parseCtlJson<StatusJson[]>(out);
  }

  /** The member every running member agrees is leader. */
  async waitLeader(timeoutMs: number): Promise<RunningMember> {
    return waitFor(
      'one agreed leader',
      async () => {
        const st = await this.statuses();
        const leaders = new Set(st.map((s) => s.Status.leader));
        if (leaders.size !== 1) return undefined;
        const id = [...leaders][0]!;
        if (id === '0') return undefined;
        const ep = st.find((s) => s.Status.header.member_id === id)?.Endpoint;
        return this.members.find((m) => ep === `127.0.0.1:${m.clientPort}`);
      },
      timeoutMs,
      200,
    );
  }

  async metric(m: RunningMember, name: string): Promise<number> {
    return (await this.metrics(m, [name]))[name]!;
  }

  /**
   * Several metrics from ONE scrape (summed over labels). One scrape matters for
   * nodejs_eventloop_lag_*: prom-client resets the event-loop histogram on every scrape.
   */
  async metrics(m: RunningMember, names: readonly string[]): Promise<Record<string, number>> {
    const text = await (await fetch(`${m.metricsUrl}/metrics`)).text();
    const out: Record<string, number> = {};
    for (const n of names) out[n] = 0;
    for (const line of text.split('\n')) {
      for (const n of names) {
        if (line.startsWith(n + ' ') || line.startsWith(n + '{')) out[n]! += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
    return out;
  }

  /** SIGKILL one member (failover tests) or SIGTERM. */
  async kill(m: RunningMember, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = m.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }

  printLogs(lines = 40): void {
    for (const m of this.members) {
      if (!existsSync(m.logFile)) continue;
      const tail = readFileSync(m.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      console.log(`----- ${m.name} (${m.logFile}) last ${lines} lines -----\n${tail}`);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m, 'SIGTERM')));
    if (!process.env['KEEP_DATA']) rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * One cluster for a whole describe block: started in beforeAll, its logs printed when a test
 * fails, stopped in afterAll. Returns the getter for the running cluster.
 */
export function clusterForSuite(opts: ClusterOptions, startTimeoutMs = 90_000): () => Cluster {
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    cluster = await Cluster.start(opts);
  }, startTimeoutMs);
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') cluster?.printLogs();
  });
  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);
  return () => {
    if (!cluster) throw new Error('the suite cluster is not started');
    return cluster;
  };
}
