// `make bench` (cluster part): a 3-member tsetcd and a 3-member etcd (Debian's etcd-server) on
// loopback, started in the same run, driven by the same load one after the other:
//   1. `etcdctl check perf --load=<l>` (etcd's own load: 256-byte keys, 1 KiB values);
//   2. puts: 1 KiB values, C concurrent clients over a few gRPC connections;
//   3. linearizable single-key ranges; 4. serializable single-key ranges.
// Prints throughput and p50/p99 for each side and the tsetcd/etcd ratio. Every load is bounded in
// count and time. With --profile, tsetcd members run with --cpu-prof and the hottest frames of
// the leader are printed.
//
//   npx tsx hack/bench-cluster.ts [--ops=20000] [--clients=64] [--conns=8] [--perf-load=l|m|s|none]
//                                 [--max-seconds=60] [--profile] [--only=tsetcd|etcd] [--phases=put,lin,ser]

import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, credentials } from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { loadEtcdProtos } from '../node/server/proto-load.js';
import { hotFrames } from './lib/cpu-profile.js';
import { planMembers, stopProcs, waitHealthy } from './lib/loopback-cluster.js';
import { MEMBER_NODE_ARGS, memberEnv } from './lib/member-node-args.js';
import { logChildOutput } from './lib/child-log.js';

const REPO = resolve(import.meta.dirname, '..');
const ETCD_BIN = process.env['ETCD'] ?? '/usr/bin/etcd';
const ETCDCTL = process.env['ETCDCTL'] ?? '/usr/bin/etcdctl';
const TSETCD_BIN = join(REPO, 'bin', 'tsetcd');

function flag(name: string, dflt: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  if (a) return a.slice(name.length + 3);
  if (process.argv.includes(`--${name}`)) return 'true';
  return dflt;
}

const OPS = Number(flag('ops', '20000'));
const CLIENTS = Number(flag('clients', '64'));
const CONNS = Number(flag('conns', '8'));
const PERF_LOAD = flag('perf-load', 'l');
const MAX_SECONDS = Number(flag('max-seconds', '60'));
const PROFILE = flag('profile', 'false') === 'true';
const ONLY = flag('only', '');
/** Which loads to run: put, lin, ser (default all). Ranges read keys the put phase wrote. */
const PHASES = new Set(flag('phases', 'put,lin,ser').split(','));
export const VALUE = Buffer.alloc(1024, 'v');

/** TLS for a bench cluster: files per member (client and peer use the same pair) and the client's files. */
export interface BenchTls {
  memberFlags(name: string): string[];
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface StartOptions {
  /** The member binary (default: bin/tsetcd for tsetcd, $ETCD or Debian's etcd for etcd). */
  bin?: string;
  tls?: BenchTls;
}

interface Proc {
  name: string;
  client: string;
  metrics: string;
  proc: ChildProcess;
}

export interface Target {
  kind: 'tsetcd' | 'etcd';
  members: Proc[];
  root: string;
  tls?: BenchTls;
}

/** etcd 3.6 built from Go modules (hack/ensure-etcd36.sh), unless --etcd=PATH names one. */
export function etcd36Binary(given = ''): string {
  if (given !== '') return given;
  const out = execFileSync('bash', [join(REPO, 'hack/ensure-etcd36.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!;
  return join(out, 'etcd');
}

export async function startCluster(kind: 'tsetcd' | 'etcd', root: string, opts: StartOptions = {}): Promise<Target> {
  mkdirSync(root, { recursive: true });
  const planned = await planMembers(root, `bench-${kind}`, opts.tls ? { tlsFlags: (n) => opts.tls!.memberFlags(n) } : {});
  const members: Proc[] = planned.map((m) => {
    // --cpu-prof is refused in NODE_OPTIONS, so a profiled member runs node directly.
    const [cmd, argv] =
      kind === 'etcd'
        ? [opts.bin ?? ETCD_BIN, m.args]
        : PROFILE
          ? [process.execPath, [...MEMBER_NODE_ARGS, '--cpu-prof', `--cpu-prof-dir=${join(root, 'prof', m.name)}`, join(REPO, 'dist', 'node', 'main.js'), ...m.args]]
          : [opts.bin ?? TSETCD_BIN, m.args];
    const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: kind === 'etcd' ? process.env : memberEnv(process.env) });
    logChildOutput(proc, join(root, `${m.name}.log`));
    return { name: m.name, client: m.client, metrics: m.metrics, proc };
  });
  const t: Target = { kind, members, root, ...(opts.tls ? { tls: opts.tls } : {}) };
  // The metrics URL is plain HTTP on both sides, so health needs no client certificate.
  if (!(await waitHealthy(members.map((m) => m.metrics.replace(/\/metrics$/, '')), 60_000))) throw new Error(`${kind} cluster did not become healthy (logs in ${root})`);
  return t;
}

export async function stopCluster(t: Target): Promise<void> {
  await stopProcs(t.members.map((m) => m.proc));
}

export function endpoints(t: Target): string {
  return t.members.map((m) => m.client.replace(/^https?:\/\//, '')).join(',');
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((r) => {
    execFile(cmd, args, { env: { ...process.env, ETCDCTL_API: '3' }, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      r({ code: err ? 1 : 0, out: stdout + stderr }),
    );
  });
}

interface PerfResult {
  verdict: string;
  throughput: number;
  slowestS: number;
  stddevS: number;
}

async function checkPerf(t: Target, load: string): Promise<PerfResult> {
  await run(ETCDCTL, [`--endpoints=${endpoints(t)}`, 'del', '--prefix', '/etcdctl-check-perf/'], 30_000);
  const r = await run(ETCDCTL, [`--endpoints=${endpoints(t)}`, 'check', 'perf', `--load=${load}`], 180_000);
  const lines = r.out.split(/[\r\n]+/).map((l) => l.replace(/^.*?(PASS|FAIL)/, '$1').trim());
  const num = (re: RegExp): number => Number(lines.map((l) => re.exec(l)?.[1]).find((x) => x !== undefined) ?? NaN);
  const verdict = lines.filter((l) => l === 'PASS' || l === 'FAIL').pop() ?? 'ERROR';
  if (verdict === 'ERROR') console.log(`check perf gave no verdict (exit ${r.code}); last output:\n${lines.slice(-5).join('\n')}`);
  // etcdctl 3.4 prints "PASS: Throughput is N writes/s" or "FAIL: Throughput too low: N writes/s", and so on.
  return {
    verdict,
    throughput: num(/Throughput (?:is|too low:) (\d+) writes\/s/),
    slowestS: num(/Slowest request took(?: too long:)? ([\d.]+)s/),
    stddevS: num(/Stddev (?:is|too high:) ([\d.]+)s/),
  };
}

type Unary = (client: Client, req: unknown) => Promise<void>;

export function unaryCaller(service: string, method: string): Unary {
  const def = loadEtcdProtos()[`etcdserverpb.${service}`] as unknown as Record<string, MethodDefinition<unknown, unknown>>;
  const m = def[method]!;
  return (client, req) =>
    new Promise((res, rej) => {
      client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, req, (err) => (err ? rej(err) : res()));
    });
}

export interface LoadResult {
  ops: number;
  errors: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** C clients share `conns` connections spread over the members; each does ops back to back. */
export async function load(t: Target, call: Unary, makeReq: (i: number) => unknown, bounds = { ops: OPS, clients: CLIENTS, conns: CONNS, maxSeconds: MAX_SECONDS }): Promise<LoadResult> {
  const { ops: OPS_, clients: CLIENTS_, conns: CONNS_, maxSeconds: MAX_SECONDS_ } = bounds;
  const creds = t.tls ? credentials.createSsl(t.tls.ca, t.tls.key, t.tls.cert) : credentials.createInsecure();
  const clients = Array.from({ length: CONNS_ }, (_, i) => {
    const addr = t.members[i % t.members.length]!.client.replace(/^https?:\/\//, '');
    return new Client(addr, creds, { 'grpc.use_local_subchannel_pool': 1 });
  });
  const lat: number[] = [];
  let next = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = start + MAX_SECONDS_ * 1000;
  const worker = async (w: number): Promise<void> => {
    const c = clients[w % clients.length]!;
    for (;;) {
      const i = next++;
      if (i >= OPS_ || performance.now() > deadline) return;
      const t0 = performance.now();
      try {
        await call(c, makeReq(i));
        lat.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS_ }, (_, w) => worker(w)));
  const seconds = (performance.now() - start) / 1000;
  for (const c of clients) c.close();
  lat.sort((a, b) => a - b);
  return { ops: lat.length, errors, seconds, perSecond: lat.length / seconds, p50Ms: pct(lat, 50), p99Ms: pct(lat, 99) };
}

export const put = unaryCaller('KV', 'Put');
export const range = unaryCaller('KV', 'Range');
export const keyOf = (i: number): Buffer => Buffer.from(`bench/${String(i % 100_000).padStart(8, '0')}`);

/** Mean WAL fdatasync time and count per member, from etcd_disk_wal_fsync_duration_seconds. */
async function fsyncStats(t: Target): Promise<string> {
  const out: string[] = [];
  for (const m of t.members) {
    try {
      const text = await (await fetch(m.metrics, { signal: AbortSignal.timeout(5000) })).text();
      const val = (name: string): number => {
        const line = text.split('\n').find((l) => l.startsWith(name + ' '));
        return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
      };
      const sum = val('etcd_disk_wal_fsync_duration_seconds_sum');
      const count = val('etcd_disk_wal_fsync_duration_seconds_count');
      out.push(`${m.name}: ${count} fsyncs, mean ${fmt((1000 * sum) / count, 2)} ms`);
    } catch {
      out.push(`${m.name}: no metrics`);
    }
  }
  return out.join('; ');
}

interface SideResult {
  fsync?: string;
  perf?: PerfResult;
  put: LoadResult;
  linRange: LoadResult;
  serRange: LoadResult;
}

async function benchSide(t: Target): Promise<SideResult> {
  const skipped: LoadResult = { ops: 0, errors: 0, seconds: 0, perSecond: NaN, p50Ms: NaN, p99Ms: NaN };
  console.log(`--- ${t.kind}: puts (${OPS} x 1 KiB, ${CLIENTS} clients, ${CONNS} conns)`);
  const p = PHASES.has('put') ? await load(t, put, (i) => ({ key: keyOf(i), value: VALUE })) : skipped;
  console.log(`--- ${t.kind}: linearizable ranges`);
  const lr = PHASES.has('lin') ? await load(t, range, (i) => ({ key: keyOf(i) })) : skipped;
  console.log(`--- ${t.kind}: serializable ranges`);
  const sr = PHASES.has('ser') ? await load(t, range, (i) => ({ key: keyOf(i), serializable: true })) : skipped;
  let perf: PerfResult | undefined;
  if (PERF_LOAD !== 'none') {
    console.log(`--- ${t.kind}: etcdctl check perf --load=${PERF_LOAD} (about 60 s)`);
    perf = await checkPerf(t, PERF_LOAD);
  }
  const fsync = await fsyncStats(t);
  return { fsync, perf, put: p, linRange: lr, serRange: sr };
}

export function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}


async function main(): Promise<void> {
  if (!existsSync(TSETCD_BIN)) throw new Error(`${TSETCD_BIN} missing: run make build`);
  for (const b of [ETCD_BIN, ETCDCTL]) if (!existsSync(b)) throw new Error(`${b} missing: apt-get install etcd-server etcd-client`);
  const root = join(REPO, '.data', `bench-cluster-${Date.now()}`);
  const sides: Array<'tsetcd' | 'etcd'> = ONLY === 'tsetcd' ? ['tsetcd'] : ONLY === 'etcd' ? ['etcd'] : ['tsetcd', 'etcd'];
  const targets: Target[] = [];
  const results = new Map<string, SideResult>();
  try {
    for (const s of sides) targets.push(await startCluster(s, join(root, s)));
    console.log(`clusters up: ${targets.map((t) => `${t.kind} ${endpoints(t)}`).join(' | ')}`);
    for (const t of targets) results.set(t.kind, await benchSide(t));
  } finally {
    for (const t of targets) await stopCluster(t);
  }

  const rows: Array<[string, (r: SideResult) => number, number]> = [
    ['put throughput (ops/s)', (r) => r.put.perSecond, 0],
    ['put p50 (ms)', (r) => r.put.p50Ms, 2],
    ['put p99 (ms)', (r) => r.put.p99Ms, 2],
    ['linearizable range (ops/s)', (r) => r.linRange.perSecond, 0],
    ['linearizable range p50 (ms)', (r) => r.linRange.p50Ms, 2],
    ['linearizable range p99 (ms)', (r) => r.linRange.p99Ms, 2],
    ['serializable range (ops/s)', (r) => r.serRange.perSecond, 0],
    ['serializable range p50 (ms)', (r) => r.serRange.p50Ms, 2],
    ['serializable range p99 (ms)', (r) => r.serRange.p99Ms, 2],
    [`check perf --load=${PERF_LOAD} (writes/s)`, (r) => r.perf?.throughput ?? NaN, 0],
    [`check perf --load=${PERF_LOAD} slowest (s)`, (r) => r.perf?.slowestS ?? NaN, 3],
    [`check perf --load=${PERF_LOAD} stddev (s)`, (r) => r.perf?.stddevS ?? NaN, 3],
  ];
  const ts = results.get('tsetcd');
  const et = results.get('etcd');
  console.log(`\n| measure | tsetcd | etcd 3.4 | tsetcd/etcd |\n|---|---|---|---|`);
  for (const [name, get, digits] of rows) {
    const a = ts ? get(ts) : NaN;
    const b = et ? get(et) : NaN;
    console.log(`| ${name} | ${fmt(a, digits)} | ${fmt(b, digits)} | ${fmt(a / b, 2)} |`);
  }
  for (const [k, r] of results) {
    const errs = r.put.errors + r.linRange.errors + r.serRange.errors;
    console.log(`${k}: check perf verdict ${r.perf?.verdict ?? 'skipped'}; request errors ${errs}; ops done put=${r.put.ops} lin=${r.linRange.ops} ser=${r.serRange.ops}`);
    console.log(`${k}: WAL fsync ${r.fsync ?? '-'}`);
  }
  if (PROFILE) {
    for (const m of ['m1', 'm2', 'm3']) {
      const dir = join(root, 'tsetcd', 'prof', m);
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
        console.log(`\nhottest frames (self time), tsetcd ${m} (${join(dir, f)}):`);
        for (const line of hotFrames(join(dir, f), 25)) console.log(line);
      }
    }
  }
  if (!process.env['KEEP_DATA'] && !PROFILE) rmSync(root, { recursive: true, force: true });
}

// Run as a script (make bench); imported by hack/bench-tls.ts for its cluster and load helpers.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
