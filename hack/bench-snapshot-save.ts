// `etcdctl snapshot save` alone, A/B: one single-member tsetcd per build (TSETCD_MAINS, comma
// separated dist/node/main.js paths; default this tree's), each loaded with --mib MiB of 64 KiB
// values by etcd's `benchmark put`, then --saves rounds of one save from each build, the order
// alternating per round, each member first left to go quiet (a raft snapshot the load started
// would otherwise count). Per save: wall seconds, the member's CPU seconds (all threads, and its
// main thread alone), etcdctl's CPU seconds, the member's peak resident set during the save
// (VmHWM reset before it) and the file's size; then the medians per build. The files of one round are compared (etcdutl snapshot status
// of each: hash, revision, keys). With --node-args='--cpu-prof --cpu-prof-dir=DIR' each member
// writes a profile at exit, and the script prints its hottest functions and areas inside the
// save windows only (hack/lib/cpu-profile.ts).
//
//   npx tsx hack/bench-snapshot-save.ts [--mib=256] [--saves=3] [--node-args='...'] [--keep]
//   TSETCD_MAINS=/tmp/base-main/dist/node/main.js,dist/node/main.js npx tsx hack/bench-snapshot-save.ts
// Run it under flock /tmp/tsetcd-bench.lock on a shared machine.

import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { busyByArea, hotFrames, type Window } from './lib/cpu-profile.js';
import { cpuSeconds, flag, loadAvg, mainThreadCpuSeconds, median, peakRssMiB, refuseUnknownFlags, resetPeakRss } from './lib/bench-measure.js';
import { planMembers, stopProcs, waitHealthy } from './lib/loopback-cluster.js';
import { MEMBER_NODE_ARGS, memberEnv } from './lib/member-node-args.js';
import { logChildOutput } from './lib/child-log.js';

const REPO = resolve(import.meta.dirname, '..');
const MAINS = (process.env['TSETCD_MAINS'] ?? join(REPO, 'dist', 'node', 'main.js')).split(',').map((p) => resolve(p));
const MIB = Number(flag('mib', '256'));
const SAVES = Number(flag('saves', '3'));
const NODE_ARGS = flag('node-args', MEMBER_NODE_ARGS.join(' ')).split(' ').filter((a) => a !== '');
const KEEP = flag('keep', '') === 'true';
refuseUnknownFlags('bench-snapshot-save.ts');
const VALUE_BYTES = 64 * 1024;
const ROOT = join(REPO, '.data', 'bench-snapshot-save');

function tool(script: string): string {
  return execFileSync('bash', [join(REPO, 'hack', script)], { stdio: ['ignore', 'pipe', 'inherit'] }).toString().trim().split('\n').pop()!;
}

/** stdout (with stderr too when withStderr). */
function run(cmd: string, args: string[], withStderr = false): Promise<string> {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    p.on('error', rej);
    p.on('exit', (code) => (code === 0 ? res(withStderr ? out + err : out) : rej(new Error(`${cmd} ${args.join(' ')} exited ${code}\n${out.slice(-2000)}\n${err}`))));
  });
}

interface Build {
  main: string;
  proc: ChildProcess;
  client: string;
  saves: Array<{ clientCpu: number; seconds: number; cpu: number; mainCpu: number; peakMiB: number; sizeMiB: number; window: Window }>;
}

async function start(main: string, i: number): Promise<Build> {
  const root = join(ROOT, `b${i}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const [m] = await planMembers(root, `save-${i}`, { count: 1 });
  const args = [...m!.args, `--quota-backend-bytes=${8 * 2 ** 30}`];
  // An etcd binary (e.g. .cache/etcd36/v3.6.16/etcd) runs as itself, for a figure beside ours.
  const proc = main.endsWith('/etcd') ? spawn(main, args, { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(process.execPath, [...NODE_ARGS, main, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: memberEnv(process.env) });
  logChildOutput(proc, join(root, 'member.log'));
  if (!(await waitHealthy([m!.client], 60_000))) throw new Error(`${main} did not become healthy (log in ${root})`);
  return { main, proc, client: m!.client, saves: [] };
}

/**
 * Waits (at most 90 s) until the member uses under 5% of a core over a second: the raft snapshot
 * the load may have started must not run inside a save's figures. Returns the seconds waited.
 */
async function quiet(pid: number): Promise<number> {
  const t0 = performance.now();
  let prev = cpuSeconds(pid);
  while (performance.now() - t0 < 90_000) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = cpuSeconds(pid);
    if (now - prev < 0.05) break;
    prev = now;
  }
  return (performance.now() - t0) / 1000;
}

async function save(b: Build, benchBins: { etcdctl: string }, file: string): Promise<void> {
  const pid = b.proc.pid!;
  resetPeakRss(pid);
  const c0 = cpuSeconds(pid);
  const m0 = mainThreadCpuSeconds(pid);
  const t0 = performance.now();
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const timed = await run('/usr/bin/time', ['-f', 'TIME %U %S', benchBins.etcdctl, `--endpoints=${b.client}`, '--command-timeout=600s', 'snapshot', 'save', file], true);
  const [, u, sys] = /TIME ([\d.]+) ([\d.]+)/.exec(timed) ?? [];
  const toUs = Number(process.hrtime.bigint() / 1000n);
  const s = { clientCpu: Number(u) + Number(sys), seconds: (performance.now() - t0) / 1000, cpu: cpuSeconds(pid) - c0, mainCpu: mainThreadCpuSeconds(pid) - m0, peakMiB: peakRssMiB(pid), sizeMiB: statSync(file).size / 2 ** 20, window: { fromUs, toUs } };
  b.saves.push(s);
  console.log(`  ${b.main}: save ${s.seconds.toFixed(2)} s, CPU ${s.cpu.toFixed(2)} s (main thread ${s.mainCpu.toFixed(2)}), etcdctl CPU ${s.clientCpu.toFixed(2)} s, peak RSS ${s.peakMiB.toFixed(0)} MiB, ${s.sizeMiB.toFixed(1)} MiB, load ${loadAvg()}`);
}

async function main(): Promise<void> {
  const benchmark = tool('ensure-etcd-benchmark.sh');
  const dir = tool('ensure-etcd36.sh');
  const bins = { etcdctl: join(dir, 'etcdctl'), etcdutl: join(dir, 'etcdutl') };
  const total = Math.round((MIB * 2 ** 20) / VALUE_BYTES);
  console.log(`${new Date().toISOString()} ${MIB} MiB (${total} values of 64 KiB), ${SAVES} saves per build, node args [${NODE_ARGS.join(' ')}], load ${loadAvg()}`);
  const builds: Build[] = [];
  try {
    for (const [i, m] of MAINS.entries()) {
      const b = await start(m, i);
      builds.push(b);
      await run(benchmark, [`--endpoints=${b.client.replace('http://', '')}`, '--conns=8', '--clients=64', 'put', '--key-size=16', '--sequential-keys', `--key-space-size=${total}`, `--total=${total}`, `--val-size=${VALUE_BYTES}`]);
      console.log(`loaded ${m}, quiet after ${(await quiet(b.proc.pid!)).toFixed(0)} s, load ${loadAvg()}`);
    }
    for (let r = 0; r < SAVES; r++) {
      const order = r % 2 === 0 ? builds : [...builds].reverse();
      console.log(`round ${r + 1}`);
      const files: string[] = [];
      for (const b of order) {
        await quiet(b.proc.pid!);
        const file = join(ROOT, `round${r}-b${builds.indexOf(b)}.db`);
        await save(b, bins, file);
        files.push(file);
      }
      for (const f of files) {
        const st = JSON.parse(await run(bins.etcdutl, ['snapshot', 'status', f, '-w', 'json'])) as Record<string, number>;
        console.log(`  etcdutl snapshot status ${f}: hash ${st['hash']} revision ${st['revision']} keys ${st['totalKey']} size ${st['totalSize']}`);
        if (!KEEP) rmSync(f, { force: true });
      }
    }
    console.log(`medians over ${SAVES} saves (load ${loadAvg()}, ${new Date().toISOString()}):`);
    for (const b of builds) {
      const med = (k: 'seconds' | 'cpu' | 'mainCpu' | 'clientCpu' | 'peakMiB' | 'sizeMiB'): string => median(b.saves.map((s) => s[k])).toFixed(2);
      console.log(`  ${b.main}: save ${med('seconds')} s, CPU ${med('cpu')} s, main thread ${med('mainCpu')} s, etcdctl CPU ${med('clientCpu')} s, peak RSS ${med('peakMiB')} MiB, size ${med('sizeMiB')} MiB`);
    }
  } finally {
    await stopProcs(builds.map((b) => b.proc));
  }
  const profDir = NODE_ARGS.find((a) => a.startsWith('--cpu-prof-dir='))?.slice('--cpu-prof-dir='.length);
  if (profDir) {
    for (const b of builds) {
      const file = readdirSync(profDir)
        .filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${b.proc.pid}.`))
        .map((f) => join(profDir, f))[0];
      if (!file) continue;
      const w = { fromUs: Math.min(...b.saves.map((s) => s.window.fromUs)), toUs: Math.max(...b.saves.map((s) => s.window.toUs)) };
      console.log(`profile ${file} (save windows only):`);
      for (const l of busyByArea(file, 12, w)) console.log(`  ${l}`);
      for (const l of hotFrames(file, 30, w)) console.log(`  ${l}`);
    }
  }
  if (!KEEP) rmSync(ROOT, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
