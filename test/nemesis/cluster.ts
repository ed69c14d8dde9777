// A cluster of bin/tsetcd members, each in its own network namespace of a NemesisNetwork, with the
// process faults the nemesis injects: kill -9 and restart (the data dir wins over the flags, as in
// etcd), SIGSTOP and SIGCONT. Logs go to <dir>/<name>.log.

import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, mkdirSync, readFileSync, existsSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SmallDisk } from './disk.js';
import { KvClient } from './kv-client.js';
import { canBuildNetworks, type NemesisNetwork } from './netns.js';

export const REPO = resolve(import.meta.dirname, '..', '..');
export const TSETCD_BIN = join(REPO, 'bin', 'tsetcd');
const CLIENT_PORT = 2379;
const PEER_PORT = 2380;

/**
 * Why the real-process suites cannot run here ('' when they can): root, ip and iptables, and
 * bin/tsetcd. On CI that is an error, not a skip.
 */
export async function realProcessPrerequisites(suite: string): Promise<string> {
  const can = await canBuildNetworks();
  const why = !can.ok ? can.why : !existsSync(TSETCD_BIN) ? `needs ${TSETCD_BIN} (make build)` : '';
  if (why && process.env['CI']) throw new Error(`${suite} ${why}`);
  if (why) console.log(`skipping ${suite}: ${why}`);
  return why;
}

/** Ends what a real-process test made: its clients, its members (and their disks), its network and its data dir. */
export async function tearDownTestCluster(t: { clients: readonly { close(): void }[]; cluster?: NemesisCluster; net?: NemesisNetwork; dir: string }): Promise<void> {
  for (const c of t.clients) c.close();
  await t.cluster?.stopAll();
  await t.net?.destroy();
  rmSync(t.dir, { recursive: true, force: true });
}

export interface ClusterMember {
  readonly index: number;
  readonly name: string;
  readonly clientUrl: string;
  readonly address: string;
  readonly logFile: string;
  proc?: ChildProcess;
  paused: boolean;
}

export class NemesisCluster {
  readonly members: ClusterMember[];
  private readonly args: string[][];
  /** Member index -> its own small tmpfs data dir (mountDisks). */
  readonly disks = new Map<number, SmallDisk>();
  /** Member index -> environment added to its process (e.g. libfaketime's). */
  readonly env = new Map<number, Record<string, string>>();

  constructor(readonly net: NemesisNetwork, readonly dir: string, token: string, timing: { heartbeatMs: number; electionMs: number }, extraArgs: readonly string[] = []) {
    mkdirSync(dir, { recursive: true });
    const initial = net.members.map((m, i) => `m${i}=http://${m.ip}:${PEER_PORT}`).join(',');
    this.members = net.members.map((m, i) => ({
      index: i,
      name: `m${i}`,
      clientUrl: `http://${m.ip}:${CLIENT_PORT}`,
      address: `${m.ip}:${CLIENT_PORT}`,
      logFile: join(dir, `m${i}.log`),
      paused: false,
    }));
    this.args = net.members.map((m, i) => [
      `--name=m${i}`,
      `--data-dir=${join(dir, `m${i}`)}`,
      `--listen-client-urls=http://${m.ip}:${CLIENT_PORT}`,
      `--advertise-client-urls=http://${m.ip}:${CLIENT_PORT}`,
      `--listen-peer-urls=http://${m.ip}:${PEER_PORT}`,
      `--initial-advertise-peer-urls=http://${m.ip}:${PEER_PORT}`,
      `--initial-cluster=${initial}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=${token}`,
      `--heartbeat-interval=${timing.heartbeatMs}`,
      `--election-timeout=${timing.electionMs}`,
      '--log-level=warn',
      ...extraArgs,
    ]);
  }

  /** Puts each listed member's data dir on its own tmpfs of `sizeMb` (before its first launch). */
  async mountDisks(members: readonly number[], sizeMb: number): Promise<void> {
    for (const i of members) {
      const d = new SmallDisk(join(this.dir, this.members[i]!.name), sizeMb);
      await d.mount();
      this.disks.set(i, d);
    }
  }

  async unmountDisks(): Promise<void> {
    for (const d of this.disks.values()) await d.unmount();
    this.disks.clear();
  }

  peerUrl(i: number): string {
    return `http://${this.net.members[i]!.ip}:${PEER_PORT}`;
  }

  /**
   * Starts member i inside its namespace (ip netns exec execs, so the pid is the member's).
   * `rejoin`: it was removed and added again, so it starts from an empty data dir and joins the
   * existing cluster given; later restarts keep these flags (its data dir wins anyway).
   */
  launch(i: number, rejoin?: { initialCluster: string }): void {
    const m = this.members[i]!;
    if (m.proc && m.proc.exitCode === null && m.proc.signalCode === null) throw new Error(`${m.name} is running`);
    if (rejoin) {
      const disk = this.disks.get(i);
      if (disk) disk.wipe();
      else rmSync(join(this.dir, m.name), { recursive: true, force: true });
      this.args[i] = this.args[i]!.map((a) =>
        a.startsWith('--initial-cluster=') ? `--initial-cluster=${rejoin.initialCluster}` : a === '--initial-cluster-state=new' ? '--initial-cluster-state=existing' : a,
      );
    }
    const log = openSync(m.logFile, 'a');
    const env = this.env.get(i);
    m.proc = spawn('ip', ['netns', 'exec', this.net.members[i]!.netns, TSETCD_BIN, ...this.args[i]!], { stdio: ['ignore', log, log], ...(env ? { env: { ...process.env, ...env } } : {}) });
    closeSync(log);
    m.paused = false;
  }

  running(i: number): boolean {
    const p = this.members[i]!.proc;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /** Resolves true once member i has exited by itself, false after timeoutMs. */
  async exited(i: number, timeoutMs: number): Promise<boolean> {
    const p = this.members[i]!.proc;
    if (!p || !this.running(i)) return true;
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      p.once('exit', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** kill -9; resolves once the process is gone. */
  async kill9(i: number): Promise<void> {
    const m = this.members[i]!;
    const p = m.proc;
    if (!p || !this.running(i)) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    await gone;
    m.paused = false;
  }

  pause(i: number): void {
    const m = this.members[i]!;
    if (this.running(i)) {
      m.proc!.kill('SIGSTOP');
      m.paused = true;
    }
  }

  resume(i: number): void {
    const m = this.members[i]!;
    if (this.running(i)) m.proc!.kill('SIGCONT');
    m.paused = false;
  }

  /** Resumes paused members and restarts dead ones. */
  reviveAll(): void {
    for (const m of this.members) {
      if (!this.running(m.index)) this.launch(m.index);
      else if (m.paused) this.resume(m.index);
    }
  }

  /** Waits (bounded) until every member's /health answers 200; false at the deadline. */
  async waitHealthy(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ok = await Promise.all(
        this.members.map((m) =>
          fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status === 200, () => false),
        ),
      );
      if (ok.every(Boolean)) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Each member's state, for a failure message: running or its exit, and its /health answer. */
  async describe(): Promise<string> {
    const lines = await Promise.all(this.members.map(async (m) => {
      const p = m.proc;
      const state = this.running(m.index) ? `running (pid ${p?.pid}${m.paused ? ', paused' : ''})` : `exited (${p?.exitCode ?? p?.signalCode})`;
      const health = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(2000) }).then(async (r) => `${r.status} ${await r.text()}`, (e: Error) => e.message);
      return `${m.name}: ${state}; /health: ${health}`;
    }));
    return lines.join('\n');
  }

  /** Each member's leader as a member index (-1 unknown), asked of every member that answers. */
  async leader(clients: readonly KvClient[]): Promise<number> {
    const ids = await Promise.all(clients.map((c) => c.status().catch(() => undefined)));
    const byId = new Map<string, number>();
    ids.forEach((s, i) => s && byId.set(s.memberId, i));
    for (const s of ids) if (s && s.leader !== '0' && byId.has(s.leader)) return byId.get(s.leader)!;
    return -1;
  }

  /** Kills every member (continuing paused ones first so they can die), then unmounts their disks. */
  async stopAll(): Promise<void> {
    for (const m of this.members) {
      if (m.paused) this.resume(m.index);
      await this.kill9(m.index);
    }
    await this.unmountDisks();
  }

  /** The size of member i's log now, for logSince. */
  logSize(i: number): number {
    const f = this.members[i]!.logFile;
    return existsSync(f) ? statSync(f).size : 0;
  }

  /** What member i logged after its log had `offset` bytes. */
  logSince(i: number, offset: number): string {
    const f = this.members[i]!.logFile;
    return existsSync(f) ? readFileSync(f).subarray(offset).toString('utf8') : '';
  }

  logTail(i: number, lines = 30): string {
    const f = this.members[i]!.logFile;
    if (!existsSync(f)) return '';
    return readFileSync(f, 'utf8').split('\n').slice(-lines).join('\n');
  }
}
