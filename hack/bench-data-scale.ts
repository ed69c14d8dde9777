// `BENCH=data-scale make bench`: issue 11's table. For each size, a fresh 3-member etcd 3.6
// (hack/ensure-etcd36.sh) and a fresh 3-member tsetcd on loopback, one after the other:
//   load       etcd's `benchmark put` of 64 KiB values, 64 clients on 8 conns, over all members
//   rss        each member's resident set after the load (the largest is reported)
//   snapshot   `etcdctl snapshot save` (3.6) from one member: time, file size, and that member's
//              peak resident set while it serves the save (sampled every 100 ms)
//   restart    kill -9 of a follower, then the same command again: time until /health is 200 and
//              its serializable revision equals the leader's, and its peak resident set meanwhile
//   defrag     the first quarter of the keys written again, a compaction, then Defragment of one
//              member: its dbSize before and after, and the time
// Beside each time, the CPU seconds the processes used (/proc/<pid>/stat): on a shared machine the
// wall times swing with the load, the CPU a step costs much less.
// Then the tsetcd / etcd ratios. Every step is bounded in time, and a guard stops a system whose
// members together pass the memory cap (default: 70% of MemAvailable at start), or when the data
// dirs' file system has less than the disk floor free (default 4 GiB), so a database too big for
// the design or the machine reports where it stopped instead of waking the OOM killer or filling
// the disk. Each system's data dirs are deleted before the next system starts.
//
//   npx tsx hack/bench-data-scale.ts [--sizes=1024,4096] [--only=tsetcd|etcd36] [--max-seconds=900]
//       [--mem-cap-mib=N] [--disk-floor-mib=N] [--snapshot-count=N] [--tsetcd-args='--flag=v ...']
//       [--members=3] [--no-defrag] [--node-args='<Node/V8 flags>']
// --members=1 runs one member per system (where three do not fit the disk); its restart step is
// then a kill -9 of that member and the time until it serves the revision again.
// BENCH_DATA_MIB=1024,4096 sets the sizes from make. TSETCD_MAIN and --node-args as in
// bench-etcd-benchmark.ts (default the member's own flags, hack/lib/member-node-args.ts).

import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, statfsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { flag, refuseUnknownFlags } from './lib/bench-measure.js';
import { planMembers, stopProcs, waitHealthy } from './lib/loopback-cluster.js';
import type { LoopbackMember } from './lib/loopback-cluster.js';
import { MEMBER_NODE_ARGS, memberEnv } from './lib/member-node-args.js';
import { logChildOutput } from './lib/child-log.js';

const REPO = resolve(import.meta.dirname, '..');
const MAIN_JS = process.env['TSETCD_MAIN'] ?? join(REPO, 'dist', 'node', 'main.js');
const VALUE_BYTES = 64 * 1024;

const SIZES_MIB = flag('sizes', process.env['BENCH_DATA_MIB'] ?? '1024')
  .split(',')
  .map(Number)
  .filter((n) => n > 0 && n <= 16384);
const ONLY = flag('only', '');
const MAX_SECONDS = Number(flag('max-seconds', '900'));
/** --snapshot-count for both systems (BENCH_SNAPSHOT_COUNT); unset: each its own default (etcd 3.6: 10000, tsetcd: 100000). */
const SNAPSHOT_COUNT = flag('snapshot-count', process.env['BENCH_SNAPSHOT_COUNT'] ?? '');
const MEM_CAP_MIB = Number(flag('mem-cap-mib', String(Math.floor((0.7 * memAvailableKiB()) / 1024))));
const DISK_FLOOR_MIB = Number(flag('disk-floor-mib', '4096'));
const MEMBERS = Number(flag('members', '3'));
const DEFRAG = flag('no-defrag', 'false') !== 'true';
/** Extra flags for tsetcd's members only (e.g. --experimental-snapshot-log-bytes=N). */
const TSETCD_ARGS = flag('tsetcd-args', '').split(' ').filter((a) => a !== '');
/** Node/V8 flags for tsetcd's members (space-separated); default the member's own. */
const NODE_ARGS = flag('node-args', MEMBER_NODE_ARGS.join(' ')).split(' ').filter((a) => a !== '');
refuseUnknownFlags('bench-data-scale.ts');

type Kind = 'etcd36' | 'tsetcd';

interface Member extends LoopbackMember {
  proc: ChildProcess;
  argv: [string, string[]];
}

interface Bins {
  benchmark: string;
  etcd36: string;
  etcdctl: string;
}

interface Result {
  loadedMiB: number;
  loadMiBps: number;
  rssMiB: number;
  snapshotSeconds: number;
  snapshotMiB: number;
  snapshotPeakRssMiB: number;
  restartSeconds: number;
  /** The restarted follower's peak resident set until caught up (sampled every 100 ms). */
  restartPeakRssMiB: number;
  /** CPU seconds (user + system) the members spent, per MiB loaded: robust where wall time is noisy. */
  loadCpuMsPerMiB: number;
  /** CPU seconds of the serving member during the save, and of the follower from restart to caught up. */
  snapshotCpuSeconds: number;
  restartCpuSeconds: number;
  /** After overwriting a quarter of the keys and compacting: m1's dbSize before and after Defragment, and its time. */
  defragBeforeMiB: number;
  defragAfterMiB: number;
  defragSeconds: number;
  /** Why a step stopped early, if it did. */
  stopped?: string;
}

function memAvailableKiB(): number {
  const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) : 8 * 2 ** 20;
}

function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0; // exited
  }
}

/** CPU seconds (utime + stime) a live process has used; 0 once it exited. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // fields 14 and 15, in USER_HZ (100)
  } catch {
    return 0;
  }
}

function loadAvg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

function ensureBins(): Bins {
  const last = (s: string): string => s.trim().split('\n').pop()!;
  const run = (script: string): string => last(execFileSync('bash', [join(REPO, 'hack', script)], { stdio: ['ignore', 'pipe', 'inherit'] }).toString());
  const benchmark = run('ensure-etcd-benchmark.sh');
  const dir = run('ensure-etcd36.sh');
  return { benchmark, etcd36: join(dir, 'etcd'), etcdctl: join(dir, 'etcdctl') };
}

function spawnMember(m: LoopbackMember, argv: [string, string[]], root: string): ChildProcess {
  // node is a tsetcd member: it runs with the member's malloc settings.
  const env = argv[0] === process.execPath ? memberEnv(process.env) : process.env;
  const proc = spawn(argv[0], argv[1], { stdio: ['ignore', 'pipe', 'pipe'], env });
  logChildOutput(proc, join(root, `${m.name}.log`), { append: true });
  return proc;
}

async function startCluster(kind: Kind, bins: Bins, root: string, quotaBytes: number): Promise<Member[]> {
  mkdirSync(root, { recursive: true });
  const planned = await planMembers(root, `data-${kind}`, { count: MEMBERS });
  const members = planned.map((m) => {
    const args = [...m.args, `--quota-backend-bytes=${quotaBytes}`, ...(SNAPSHOT_COUNT ? [`--snapshot-count=${SNAPSHOT_COUNT}`] : []), ...(kind === 'tsetcd' ? TSETCD_ARGS : [])];
    // node itself, not the bin/ wrapper, so the pid we read /proc for is the member's.
    const argv: [string, string[]] = kind === 'etcd36' ? [bins.etcd36, args] : [process.execPath, [...NODE_ARGS, MAIN_JS, ...args]];
    return { ...m, argv, proc: spawnMember(m, argv, root) };
  });
  if (!(await waitHealthy(members.map((m) => m.client), 60_000))) {
    await stopProcs(members.map((m) => m.proc));
    throw new Error(`${kind} cluster did not become healthy (logs in ${root})`);
  }
  return members;
}

/** Runs a command to its end, bounded by MAX_SECONDS; stdout as text. */
/** The "Error distribution:" lines of etcd's benchmark report ("[count] message"), joined; '' when there were none. */
function errorDistribution(report: string): string {
  const at = report.indexOf('Error distribution:');
  if (at < 0) return '';
  const lines = report.slice(at).split('\n').slice(1);
  const end = lines.findIndex((l) => !/^\s*\[\d+\]/.test(l));
  return (end < 0 ? lines : lines.slice(0, end)).map((l) => l.trim()).join('; ');
}

function runBounded(cmd: string, args: string[], onTick?: () => string | undefined): Promise<{ out: string; stopped?: string }> {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let stopped: string | undefined;
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    const timer = setTimeout(() => {
      stopped = `bound of ${MAX_SECONDS} s reached`;
      p.kill('SIGKILL');
    }, MAX_SECONDS * 1000);
    const tick = onTick
      ? setInterval(() => {
          const why = onTick();
          if (why && !stopped) {
            stopped = why;
            p.kill('SIGKILL');
          }
        }, 100)
      : undefined;
    p.on('error', rej);
    p.on('exit', (code) => {
      clearTimeout(timer);
      if (tick) clearInterval(tick);
      if (code === 0 || stopped) res({ out, stopped });
      else rej(new Error(`${cmd} ${args.join(' ')} exited ${code}\n${out.slice(-2000)}\n${err}`));
    });
  });
}

/** MiB free (to an unprivileged user) on the file system that holds path. */
function freeMiB(path: string): number {
  const s = statfsSync(path);
  return (s.bavail * s.bsize) / 2 ** 20;
}

/**
 * The members' guard: a reason to stop when their RSS together passes the cap, or when the file
 * system of their data dirs has less than the disk floor free.
 */
function memGuard(members: Member[]): () => string | undefined {
  return () => {
    const total = members.reduce((s, m) => s + rssMiB(m.proc.pid), 0);
    if (total > MEM_CAP_MIB) return `members' RSS together reached ${total.toFixed(0)} MiB (cap ${MEM_CAP_MIB} MiB)`;
    const free = freeMiB(REPO); // the data dirs are under REPO/.data
    return free < DISK_FLOOR_MIB ? `the data dirs' file system has ${free.toFixed(0)} MiB free (floor ${DISK_FLOOR_MIB} MiB)` : undefined;
  };
}

async function gateway(m: Member, path: string, body: object): Promise<Record<string, unknown>> {
  const r = await fetch(`${m.client}${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  if (!r.ok) throw new Error(`${m.name} ${path}: HTTP ${r.status} ${await r.text()}`);
  return (await r.json()) as Record<string, unknown>;
}

/** The member's own revision, read serializably (no Raft round), or -1 while it cannot answer. */
async function localRevision(m: Member): Promise<number> {
  try {
    const j = await gateway(m, '/v3/kv/range', { key: Buffer.from('\0').toString('base64'), serializable: true, count_only: true });
    return Number((j['header'] as Record<string, string>)['revision']);
  } catch {
    return -1;
  }
}

async function isLeader(m: Member): Promise<boolean> {
  const text = await (await fetch(m.metrics, { signal: AbortSignal.timeout(10_000) })).text();
  return /^etcd_server_is_leader 1$/m.test(text);
}

async function measure(kind: Kind, bins: Bins, sizeMiB: number, root: string): Promise<Result> {
  const total = Math.round((sizeMiB * 2 ** 20) / VALUE_BYTES);
  const quota = Math.min(16 * 2 ** 30, Math.max(2 ** 31, 2 * sizeMiB * 2 ** 20 + 2 ** 30));
  const members = await startCluster(kind, bins, root, quota);
  const r: Result = { loadedMiB: 0, loadMiBps: NaN, rssMiB: NaN, snapshotSeconds: NaN, snapshotMiB: NaN, snapshotPeakRssMiB: NaN, restartSeconds: NaN, restartPeakRssMiB: NaN, loadCpuMsPerMiB: NaN, snapshotCpuSeconds: NaN, restartCpuSeconds: NaN, defragBeforeMiB: NaN, defragAfterMiB: NaN, defragSeconds: NaN };
  try {
    const endpoints = members.map((m) => m.client.replace('http://', '')).join(',');
    const args = [`--endpoints=${endpoints}`, '--conns=8', '--clients=64', 'put', '--key-size=16', '--sequential-keys', `--key-space-size=${total}`, `--total=${total}`, `--val-size=${VALUE_BYTES}`];
    console.log(`$ benchmark ${args.join(' ')}`);
    const t0 = performance.now();
    const cpu0 = members.reduce((n, m) => n + cpuSeconds(m.proc.pid), 0);
    const load = await runBounded(bins.benchmark, args, memGuard(members));
    const errors = errorDistribution(load.out);
    if (errors !== '') console.log(`${sizeMiB} MiB ${kind}: the benchmark tool's errors: ${errors}`);
    const seconds = (performance.now() - t0) / 1000;
    const revision = Math.max(...(await Promise.all(members.map(localRevision))));
    r.loadedMiB = (Math.max(0, revision - 1) * VALUE_BYTES) / 2 ** 20;
    r.loadMiBps = r.loadedMiB / seconds;
    r.loadCpuMsPerMiB = ((members.reduce((n, m) => n + cpuSeconds(m.proc.pid), 0) - cpu0) * 1000) / r.loadedMiB;
    r.rssMiB = Math.max(...members.map((m) => rssMiB(m.proc.pid)));
    if (load.stopped) return { ...r, stopped: `load: ${load.stopped}` };

    // Snapshot save from m1, with its peak RSS sampled while it serves.
    const file = join(root, 'snapshot.db');
    const served = members[0]!;
    let peak = rssMiB(served.proc.pid);
    const s0 = performance.now();
    const sc0 = cpuSeconds(served.proc.pid);
    const snap = await runBounded(bins.etcdctl, [`--endpoints=${served.client}`, '--command-timeout=900s', 'snapshot', 'save', file], () => {
      peak = Math.max(peak, rssMiB(served.proc.pid));
      return memGuard(members)();
    });
    r.snapshotSeconds = (performance.now() - s0) / 1000;
    r.snapshotCpuSeconds = cpuSeconds(served.proc.pid) - sc0;
    r.snapshotPeakRssMiB = peak;
    if (snap.stopped) return { ...r, stopped: `snapshot: ${snap.stopped}` };
    r.snapshotMiB = statSync(file).size / 2 ** 20;
    rmSync(file, { force: true });

    // kill -9 a follower, restart it on its data dir, wait until it serves the leader's revision.
    const flags = await Promise.all(members.map(isLeader));
    const leader = members[flags.indexOf(true)];
    const follower = members.length === 1 ? leader : members.find((_, i) => !flags[i]);
    if (!leader || !follower) return { ...r, stopped: 'restart: no leader or no follower found' };
    const target = await localRevision(leader);
    follower.proc.kill('SIGKILL');
    await new Promise<void>((res) => (follower.proc.exitCode !== null || follower.proc.signalCode !== null ? res() : follower.proc.once('exit', () => res())));
    const k0 = performance.now();
    // tsetcd's restart logs at info, for storage's 'recovered storage' line (a handful of lines).
    const restartArgv: [string, string[]] = kind === 'tsetcd' ? [follower.argv[0], follower.argv[1].map((a) => (a === '--log-level=warn' ? '--log-level=info' : a))] : follower.argv;
    follower.proc = spawnMember(follower, restartArgv, root);
    let restartPeak = 0;
    const sampleRss = (): void => {
      restartPeak = Math.max(restartPeak, rssMiB(follower.proc.pid) || 0);
      r.restartPeakRssMiB = restartPeak;
    };
    const sampler = setInterval(sampleRss, 100);
    const deadline = k0 + MAX_SECONDS * 1000;
    try {
      for (;;) {
        const healthy = await waitHealthy([follower.client], 1000);
        if (healthy && (await localRevision(follower)) >= target) break;
        if (performance.now() > deadline) return { ...r, stopped: `restart: not caught up within ${MAX_SECONDS} s` };
        if (follower.proc.exitCode !== null) return { ...r, stopped: `restart: the member exited with ${follower.proc.exitCode}` };
        const why = memGuard(members)();
        if (why) return { ...r, stopped: `restart: ${why}` };
        await new Promise((res) => setTimeout(res, 50));
      }
    } finally {
      clearInterval(sampler);
    }
    sampleRss();
    r.restartSeconds = (performance.now() - k0) / 1000;
    // What tsetcd's recovery says it read and how long it took (storage's 'recovered storage' line).
    const logPath = join(root, `${follower.name}.log`);
    const recovered = existsSync(logPath) ? readFileSync(logPath, 'utf8').split('\n').filter((l) => l.includes('"recovered storage"')).at(-1) : undefined;
    if (kind === 'tsetcd') console.log(`restart: ${recovered ?? `no 'recovered storage' line in ${logPath}`}`);
    r.restartCpuSeconds = cpuSeconds(follower.proc.pid);

    if (!DEFRAG) return r;
    // Dead space: overwrite the first quarter of the keys, compact, then Defragment m1.
    const quarter = String(Math.max(1, Math.floor(total / 4)));
    const over = await runBounded(bins.benchmark, [...args.filter((a) => !a.startsWith('--total=') && !a.startsWith('--key-space-size=')), `--key-space-size=${quarter}`, `--total=${quarter}`], memGuard(members));
    if (over.stopped) return { ...r, stopped: `overwrite: ${over.stopped}` };
    const rev = await localRevision(leader);
    await runBounded(bins.etcdctl, [`--endpoints=${leader.client}`, '--command-timeout=900s', 'compact', String(rev), '--physical']);
    const dbSize = async (): Promise<number> => {
      const out = (await runBounded(bins.etcdctl, [`--endpoints=${served.client}`, '--command-timeout=60s', 'endpoint', 'status', '-w', 'json'])).out;
      return Number((JSON.parse(out) as Array<{ Status: { dbSize: number } }>)[0]!.Status.dbSize) / 2 ** 20;
    };
    r.defragBeforeMiB = await dbSize();
    const d0 = performance.now();
    await runBounded(bins.etcdctl, [`--endpoints=${served.client}`, '--command-timeout=900s', 'defrag']);
    r.defragSeconds = (performance.now() - d0) / 1000;
    r.defragAfterMiB = await dbSize();
    return r;
  } finally {
    await stopProcs(members.map((m) => m.proc));
  }
}

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

async function main(): Promise<void> {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} missing: run make build`);
  const bins = ensureBins();
  const kinds: Kind[] = (['etcd36', 'tsetcd'] as Kind[]).filter((k) => !ONLY || k === ONLY);
  const base = join(REPO, '.data', `bench-data-scale-${Date.now()}`);
  console.log(
    `data scale: sizes ${SIZES_MIB.join(', ')} MiB of ${VALUE_BYTES / 1024} KiB values; ${MEMBERS} members; snapshot-count ${SNAPSHOT_COUNT || 'defaults'}; ` +
      `tsetcd flags ${TSETCD_ARGS.join(' ') || 'defaults'}; node flags ${NODE_ARGS.join(' ') || 'none'}; memory cap ${MEM_CAP_MIB} MiB; disk floor ${DISK_FLOOR_MIB} MiB; load average ${loadAvg()}`,
  );
  const rows: string[] = [];
  for (const size of SIZES_MIB) {
    const results = new Map<Kind, Result>();
    for (const kind of kinds) {
      const root = join(base, `${size}-${kind}`);
      console.log(`${size} MiB ${kind}: starting (load avg ${loadAvg()}, ${freeMiB(REPO).toFixed(0)} MiB free on disk, ${(memAvailableKiB() / 1024).toFixed(0)} MiB available)`);
      try {
        const r = await measure(kind, bins, size, root);
        results.set(kind, r);
        console.log(`${size} MiB ${kind}: ${JSON.stringify(r)} (load avg ${loadAvg()})`);
      } finally {
        // The next system starts on an empty disk, even after a failure here.
        if (!process.env['KEEP_DATA']) rmSync(root, { recursive: true, force: true });
      }
    }
    const line = (name: string, get: (r: Result) => number, digits: number): void => {
      const vals = kinds.map((k) => get(results.get(k)!));
      const ratio = kinds.length === 2 ? fmt(vals[1]! / vals[0]!, 2) : '';
      rows.push(`| ${size} MiB | ${name} | ${vals.map((v) => fmt(v, digits)).join(' | ')} | ${ratio} |`);
    };
    line('loaded (MiB)', (r) => r.loadedMiB, 0);
    line('load rate (MiB/s)', (r) => r.loadMiBps, 1);
    line('load CPU, 3 members (ms per MiB)', (r) => r.loadCpuMsPerMiB, 0);
    line('largest member RSS after load (MiB)', (r) => r.rssMiB, 0);
    line('snapshot save (s)', (r) => r.snapshotSeconds, 1);
    line('snapshot size (MiB)', (r) => r.snapshotMiB, 0);
    line('serving member peak RSS during save (MiB)', (r) => r.snapshotPeakRssMiB, 0);
    line('snapshot save CPU, serving member (s)', (r) => r.snapshotCpuSeconds, 1);
    line('follower kill -9 to caught up (s)', (r) => r.restartSeconds, 1);
    line('restarted follower peak RSS until caught up (MiB)', (r) => r.restartPeakRssMiB, 0);
    line('restart CPU, follower (s)', (r) => r.restartCpuSeconds, 1);
    line('1/4 overwritten + compacted: dbSize before Defragment (MiB)', (r) => r.defragBeforeMiB, 0);
    line('dbSize after Defragment (MiB)', (r) => r.defragAfterMiB, 0);
    line('Defragment (s)', (r) => r.defragSeconds, 1);
    for (const k of kinds) if (results.get(k)!.stopped) rows.push(`| ${size} MiB | ${k} stopped early | ${results.get(k)!.stopped} | | |`);
  }
  console.log(`\n(load average at the end ${loadAvg()})\n`);
  console.log(`| size | measure | ${kinds.join(' | ')} | tsetcd / etcd 3.6 |\n|---|---|${kinds.map(() => '---|').join('')}---|`);
  for (const row of rows) console.log(row);
  if (!process.env['KEEP_DATA']) rmSync(base, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
