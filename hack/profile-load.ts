// Profiles the 64 KiB put path of bench-data-scale.ts's load: three tsetcd members under
// node --cpu-prof, etcd's `benchmark put` of --mib MiB of 64 KiB values (64 clients on 8 conns),
// then SIGTERM so each member writes its profile. Prints each member's role, its CPU seconds per
// MiB loaded, its busy time by area and its hottest frames (samples inside the load only).
// Below 64 MiB loaded no local snapshot is taken (the byte trigger's floor), so the profile is
// the put path alone.
//
//   npx tsx hack/profile-load.ts [--mib=60] [--top=25] [--tsetcd-args='--snapshot-count=1000000']
//       [--no-prof]
// TSETCD_MAIN as in bench-etcd-benchmark.ts. Run it under flock /tmp/tsetcd-bench.lock.

import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { busyByArea, hotFrames } from './lib/cpu-profile.js';
import { cpuSeconds, flag, loadAvg, refuseUnknownFlags } from './lib/bench-measure.js';
import { planMembers, stopProcs, waitHealthy } from './lib/loopback-cluster.js';
import { MEMBER_NODE_ARGS, memberEnv } from './lib/member-node-args.js';
import { logChildOutput } from './lib/child-log.js';

const REPO = resolve(import.meta.dirname, '..');
const MAIN_JS = process.env['TSETCD_MAIN'] ?? join(REPO, 'dist', 'node', 'main.js');
const MIB = Number(flag('mib', '60'));
const TOP = Number(flag('top', '25'));
const PROF = flag('no-prof', 'false') !== 'true';
const TSETCD_ARGS = flag('tsetcd-args', '').split(' ').filter(Boolean);
const VALUE_BYTES = 64 * 1024;
refuseUnknownFlags('profile-load.ts');

async function main(): Promise<void> {
  const bench = execFileSync('bash', [join(REPO, 'hack', 'ensure-etcd-benchmark.sh')], { stdio: ['ignore', 'pipe', 'inherit'] }).toString().trim().split('\n').pop()!;
  const root = join(REPO, '.data', `profile-load-${process.pid}`);
  mkdirSync(root, { recursive: true });
  const planned = await planMembers(root, 'profile-load');
  const procs: ChildProcess[] = planned.map((m) => {
    const dir = join(root, `prof-${m.name}`);
    mkdirSync(dir, { recursive: true });
    const p = spawn(process.execPath, [...MEMBER_NODE_ARGS, ...(PROF ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []), MAIN_JS, ...m.args, '--quota-backend-bytes=8589934592', ...TSETCD_ARGS], { stdio: ['ignore', 'pipe', 'pipe'], env: memberEnv(process.env) });
    logChildOutput(p, join(root, `${m.name}.log`));
    return p;
  });
  try {
    if (!(await waitHealthy(planned.map((m) => m.client), 60_000))) throw new Error(`cluster not healthy (logs in ${root})`);
    const total = Math.round((MIB * 2 ** 20) / VALUE_BYTES);
    const args = [`--endpoints=${planned.map((m) => m.client.replace('http://', '')).join(',')}`, '--conns=8', '--clients=64', 'put', '--key-size=16', '--sequential-keys', `--key-space-size=${total}`, `--total=${total}`, `--val-size=${VALUE_BYTES}`];
    const cpu0 = procs.map((p) => cpuSeconds(p.pid!));
    const t0 = performance.now();
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    execFileSync(bench, args, { stdio: ['ignore', 'ignore', 'inherit'], timeout: 280_000 });
    const toUs = Number(process.hrtime.bigint() / 1000n);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = procs.map((p, i) => cpuSeconds(p.pid!) - cpu0[i]!);
    const leaders = await Promise.all(planned.map(async (m) => /^etcd_server_is_leader 1$/m.test(await (await fetch(m.metrics)).text())));
    const sum = cpu.reduce((a, b) => a + b, 0);
    console.log(`load ${MIB} MiB in ${seconds.toFixed(1)} s = ${(MIB / seconds).toFixed(1)} MiB/s; member CPU ${((sum * 1000) / MIB).toFixed(1)} ms/MiB (${planned.map((m, i) => `${m.name}${leaders[i] ? '(leader)' : ''} ${((cpu[i]! * 1000) / MIB).toFixed(1)}`).join(', ')}); load avg ${loadAvg()}`);
    await stopProcs(procs);
    if (!PROF) return;
    for (const [i, m] of planned.entries()) {
      const dir = join(root, `prof-${m.name}`);
      const f = readdirSync(dir).find((x) => x.endsWith('.cpuprofile'));
      if (!f) continue;
      console.log(`\n== ${m.name}${leaders[i] ? ' (leader)' : ''}`);
      for (const l of busyByArea(join(dir, f), 14, { fromUs, toUs })) console.log(l);
      for (const l of hotFrames(join(dir, f), TOP, { fromUs, toUs })) console.log(l);
    }
  } finally {
    await stopProcs(procs);
    if (!process.env['KEEP_DATA']) rmSync(root, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
