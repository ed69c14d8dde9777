// `BENCH=etcd-benchmark make bench`: etcd's own load generator `benchmark` (v3.6.8, built by
// hack/ensure-etcd-benchmark.sh) against a 3-member etcd 3.6 (hack/ensure-etcd36.sh) and a
// 3-member tsetcd on loopback, back to back, N pairs of runs (each run on a fresh cluster). The
// four loads are issue 10's table (etcd's docs/op-guide/performance.md shapes, 1 KiB values):
//   put-all     put, 1000 clients on 100 conns, spread over all members
//   put-leader  put, one client on one conn, to the leader
//   range-lin   range one key, linearizable, 1000 clients / 100 conns
//   range-ser   range one key, serializable, 1000 clients / 100 conns
// and more, only when asked for: --loads=put-follower, put-leader's load sent to a follower (each
// put forwarded to the leader); --loads=put-50, 20,000 puts from 50 clients on one conn,
// the concurrency kube-apiserver brings (its 50-client loads reach the member on few conns); and
// --loads=txn-range, benchmark's txn-mixed with reads alone: read-only Txns, 1000 clients / 100 conns;
// --loads=txn-put, Txns of one put each (how kube-apiserver writes), 1000 clients / 100 conns;
// --loads=watch-latency, 100 watchers on one key and 500 puts/s, each put's latency to its events;
// --loads=lease-keepalive, each of 1000 clients (100 conns) renewing its own lease, one
// LeaseKeepAlive stream per renewal (benchmark's KeepAliveOnce); --loads=stm, benchmark's
// software transactions (read two of 1000 keys, write both back in a Txn guarded by their
// revisions); --loads=watch-create, 50,000 watchers made on 100 streams; --loads=watch-get,
// serializable reads while 10,000 watchers catch up from history on one stream; and
// --loads=txn-put,range-page, pages of 500 1 KiB values out of ~45,000 keys (a list page).
// For each run it records throughput, p99 and average latency (from benchmark's summary), the
// members' CPU seconds per 1,000 requests (utime+stime from /proc/<pid>/stat, before and after),
// the largest member peak RSS (VmHWM), at the load's end the largest anonymous RSS of a member and
// that member's file-backed pages (RssAnon, RssFile: how much of the RSS is the binary's own), the
// members' context switches per request over all their threads (/proc/<pid>/task/*/status: how
// often a thread blocked, and how often one was preempted), and the leader changes and heartbeat
// send failures the members counted during the load (their /metrics; issue 10 requires 0). Then it
// prints the medians over the pairs and the tsetcd/etcd ratios. Every load is bounded in count and
// time.
//
//   npx tsx hack/bench-etcd-benchmark.ts [--pairs=3] [--put-total=50000] [--single-total=3000]
//       [--range-total=100000] [--max-seconds=120] [--loads=put-all,put-leader,range-lin,range-ser]
//       [--etcd34] [--profile] [--only=tsetcd|etcd36] [--tsetcd-args='--snapshot-count=10000']
//       [--node=/other/bin/node] [--node-args='--single-threaded-gc'] [--per-member] [--warmup=false] [--dist] [--deopts]
//       [--single-warmup=3000] [--data-root=/dev/shm] [--stalls]
// TSETCD_MAIN=<path to dist/node/main.js> runs another build of tsetcd (before/after comparisons);
// --node runs the members on another Node binary (default: the one running this script), and
// --node-args puts Node/V8 flags before the script (runtime and flag comparisons; default the
// member's own, hack/lib/member-node-args.ts; --node-args= runs without them).
// --etcd34 adds Debian's etcd 3.4 (/usr/bin/etcd) as a third column. --profile runs the tsetcd
// members under node --cpu-prof (one profile per load, under .data/) and prints the hottest
// frames; CPU figures taken with it on carry the profiler's cost.
// Each load first runs unmeasured on the same cluster (see WARMUP; --warmup=false or
// BENCH_WARMUP=0 measures the cold start; --single-warmup sets put-leader's, see SINGLE_WARMUP).
// --dist prints each run's latency distribution. --data-root puts both systems' data directories
// under another directory: --data-root=/dev/shm (tmpfs, where fdatasync costs nothing) separates
// what the CPU and the scheduler cost from what the disk costs.
// --deopts runs the tsetcd members under --trace-deopt and prints the deoptimizations each
// measured load caused (optimized code thrown away mid-load is a latency tail; CPU figures taken
// with it on carry the tracing's cost).
// --stalls preloads hack/lib/stall-probe.cjs into the tsetcd members and prints, per member and
// measured load, their event-loop stalls (a 1 ms timer more than 2 ms late), how much of that time
// the main thread ran and how much it waited for a CPU, and their GC pauses.

import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { contextSwitches, cpuSeconds, flag, loadAvg, mainThreadCpuSeconds, median, metricSum, peakRssMiB, refuseUnknownFlags, resetPeakRss, rssSplitMiB } from './lib/bench-measure.js';
import type { ContextSwitches } from './lib/bench-measure.js';
import { busyByArea, hotFrames } from './lib/cpu-profile.js';
import type { Window } from './lib/cpu-profile.js';
import { planMembers, stopProcs, waitHealthy } from './lib/loopback-cluster.js';
import type { LoopbackMember } from './lib/loopback-cluster.js';
import { MEMBER_NODE_ARGS, memberEnv } from './lib/member-node-args.js';
import { logChildOutput } from './lib/child-log.js';
import { deoptsLogged, logBytes, summarizeDeopts } from './lib/deopt-census.js';
import { stallsLogged, summarizeStalls } from './lib/stall-census.js';

const REPO = resolve(import.meta.dirname, '..');
/** TSETCD_MAIN=/other/checkout/dist/node/main.js measures another build (before/after comparisons). */
const MAIN_JS = process.env['TSETCD_MAIN'] ?? join(REPO, 'dist', 'node', 'main.js');

const PAIRS = Math.max(1, Math.min(10, Number(flag('pairs', process.env['BENCH_PAIRS'] ?? '3'))));
const PUT_TOTAL = Math.min(1_000_000, Number(flag('put-total', '50000')));
const SINGLE_TOTAL = Math.min(100_000, Number(flag('single-total', '3000')));
const RANGE_TOTAL = Math.min(1_000_000, Number(flag('range-total', '100000')));
const MAX_SECONDS = Number(flag('max-seconds', '120'));
const LOADS = flag('loads', 'put-all,put-leader,range-lin,range-ser').split(',');
const WITH_ETCD34 = flag('etcd34', process.env['BENCH_ETCD34'] === '1' ? 'true' : 'false') === 'true';
const PROFILE = flag('profile', 'false') === 'true';
/** --dist: print each run's latency distribution (benchmark's 10%..99.9% lines). */
const DIST = flag('dist', 'false') === 'true';
/** --deopts: the tsetcd members run under --trace-deopt; each load reports the deoptimizations inside it. */
const DEOPTS = flag('deopts', 'false') === 'true';
/** --stalls: the tsetcd members run with the stall probe; each load reports their stalls and GC pauses. */
const STALLS = flag('stalls', 'false') === 'true';
const STALL_PROBE = join(REPO, 'hack', 'lib', 'stall-probe.cjs');
/**
 * Run each load once, unmeasured, before the measured run (both systems): a Node member's first
 * few thousand requests run while V8 still compiles the hot paths (a fresh member did 706-741
 * single-client puts/s over its first 3,000 and 1,150 over the next 3,000), and a user's cluster
 * has long been warm. --warmup=false measures the cold start (the figures before stop 35).
 */
const WARMUP = flag('warmup', process.env['BENCH_WARMUP'] === '0' ? 'false' : 'true') === 'true';
/**
 * put-leader's warm-up. It follows put-all, and a Node member's functions that run once per put
 * under one client (once per batch under 1000) only reach optimized code after several thousand
 * single-client puts: after 3,000 the leader's own p99 per 1,000 puts was 2.6-3.0 ms in the next
 * 1,000 and 0.9-1.2 ms from the third 1,000 on; after 12,000 it was 1.1 ms in the first.
 */
const SINGLE_WARMUP = Math.min(100_000, Number(flag('single-warmup', '3000')));
/** Where the runs' data directories go (default .data/ in the repository). */
const DATA_ROOT = resolve(flag('data-root', join(REPO, '.data')));
const ONLY = flag('only', '');
/** Extra flags for the tsetcd members, e.g. --tsetcd-args=--snapshot-count=10000 (space-separated). */
const TSETCD_ARGS = flag('tsetcd-args', '').split(' ').filter(Boolean);
/** The Node binary the tsetcd members run on, and flags for it (space-separated), e.g. --node-args=--single-threaded-gc. */
const NODE_BIN = flag('node', process.execPath);
const NODE_ARGS = flag('node-args', MEMBER_NODE_ARGS.join(' ')).split(' ').filter(Boolean);
/** The tsetcd members' environment: ours, with the member's malloc settings. */
const MEMBER_ENV = memberEnv(process.env);
/** --per-member: print each Node member's peak RSS, old space, external memory and raft log bytes after each load. */
const PER_MEMBER = flag('per-member', 'false') === 'true';
refuseUnknownFlags('bench-etcd-benchmark.ts');
const RANGE_KEY = 'foo';

type Kind = 'etcd36' | 'tsetcd' | 'etcd34';

interface Load {
  name: string;
  /** benchmark's global flags (before the command) and the command with its flags. */
  args: (endpoints: string, total: number) => string[];
  total: number;
  /** Requests of the same load run first and not measured (--warmup). */
  warmup: number;
  /** Sent to one member that does not lead (as found when the load starts) instead of to all. */
  follower?: true;
}

const LOAD_TABLE: Load[] = ([
  {
    name: 'put-all',
    total: PUT_TOTAL,
    warmup: 10_000,
    args: (e, n) => [`--endpoints=${e}`, '--conns=100', '--clients=1000', 'put', '--key-size=8', '--sequential-keys', `--total=${n}`, '--val-size=1024'],
  },
  {
    name: 'put-leader',
    total: SINGLE_TOTAL,
    warmup: SINGLE_WARMUP,
    args: (e, n) => [`--endpoints=${e}`, '--target-leader', '--conns=1', '--clients=1', 'put', '--key-size=8', '--sequential-keys', `--total=${n}`, '--val-size=1024'],
  },
  {
    // One client on one conn to a follower: each put is forwarded to the leader, and answered once
    // the follower has applied it. Not in the default --loads.
    name: 'put-follower',
    total: SINGLE_TOTAL,
    warmup: SINGLE_WARMUP,
    follower: true,
    args: (e, n) => [`--endpoints=${e}`, '--conns=1', '--clients=1', 'put', '--key-size=8', '--sequential-keys', `--total=${n}`, '--val-size=1024'],
  },
  {
    name: 'put-50',
    total: 20_000, // not in the default --loads (see the header)
    warmup: 5_000,
    args: (e, n) => [`--endpoints=${e}`, '--conns=1', '--clients=50', 'put', '--key-size=8', '--sequential-keys', `--total=${n}`, '--val-size=1024'],
  },
  {
    name: 'range-lin',
    total: RANGE_TOTAL,
    warmup: 20_000,
    args: (e, n) => [`--endpoints=${e}`, '--conns=100', '--clients=1000', 'range', RANGE_KEY, '--consistency=l', `--total=${n}`],
  },
  {
    name: 'range-ser',
    total: RANGE_TOTAL,
    warmup: 20_000,
    args: (e, n) => [`--endpoints=${e}`, '--conns=100', '--clients=1000', 'range', RANGE_KEY, '--consistency=s', `--total=${n}`],
  },
  {
    // etcd's txn-mixed with reads alone (--rw-ratio of a million): each request a read-only Txn of
    // one range over every key, limit 1. Not in the default --loads; run it alone (--loads=txn-range),
    // where the cluster holds the one key the harness writes, so the range reads one key.
    name: 'txn-range',
    total: RANGE_TOTAL,
    warmup: 20_000,
    args: (e, n) => [`--endpoints=${e}`, '--conns=100', '--clients=1000', 'txn-mixed', '--rw-ratio=1000000', '--limit=1', '--consistency=l', `--total=${n}`],
  },
  {
    // etcd's txn-put: each request a Txn of one 1 KiB put (how kube-apiserver writes: every
    // create and update is a Txn). Not in the default --loads.
    name: 'txn-put',
    total: PUT_TOTAL,
    warmup: 10_000,
    args: (e, n) => [`--endpoints=${e}`, '--conns=100', '--clients=1000', 'txn-put', '--txn-ops=1', '--key-size=8', '--key-space-size=100000', `--total=${n}`, '--val-size=1024'],
  },
  {
    // etcd's lease-keepalive: each client grants a lease, then renews it with KeepAliveOnce (a
    // LeaseKeepAlive stream of one request each). Not in the default --loads.
    name: 'lease-keepalive',
    total: RANGE_TOTAL,
    warmup: 20_000,
    args: (e, n) => [`--endpoints=${e}`, '--conns=100', '--clients=1000', 'lease-keepalive', `--total=${n}`],
  },
  {
    // etcd's stm: read-modify-write transactions (Repeatable Reads) over 1000 keys, 2 keys each,
    // both rewritten. Not in the default --loads.
    name: 'stm',
    total: 20_000,
    warmup: 5_000,
    args: (e, n) => [`--endpoints=${e}`, '--conns=100', '--clients=1000', 'stm', '--keys=1000', '--keys-per-txn=2', '--txn-wr-percent=100', '--val-size=1024', `--total=${n}`],
  },
  {
    // etcd's watch: 50,000 watchers (100 streams of 500, on 100 conns) over 100 keys made, then
    // 100 puts to those keys; the figures are the creations' (benchmark's first summary; clientv3
    // has one create in flight per stream, so this is 100 creates at a time). The CPU and RSS
    // columns include the puts' 50,000 events. Not in the default --loads.
    name: 'watch-create',
    total: 50_000,
    warmup: 10_000,
    args: (e, n) => [`--endpoints=${e}`, '--conns=100', '--clients=100', 'watch', '--streams=100', `--watch-per-stream=${n / 100}`, '--watched-key-total=100', '--put-total=100', '--key-space-size=100', '--sequential-keys'],
  },
  {
    // etcd's watch-get: 10,000 watchers catching up from an old revision (8 events each) on one
    // stream while one client reads serializably; the figures are the reads'. Not in the default --loads.
    name: 'watch-get',
    total: 10_000,
    warmup: 1_000,
    args: (e, n) => [`--endpoints=${e}`, '--conns=1', '--clients=1', 'watch-get', `--watchers=${n}`, '--streams=1', '--events=8'],
  },
  {
    // A page of a large listing, as kube-apiserver reads one: a linearizable range of 500 1 KiB
    // values (~520 KB answered) out of the keys an earlier load wrote, 50 clients on 10 conns.
    // Run it after txn-put, whose 60,000 puts land on ~45,000 distinct keys (put-all's all go to
    // one key): --loads=txn-put,range-page. Not in the default --loads.
    name: 'range-page',
    total: 2_000,
    warmup: 500,
    args: (e, n) => [`--endpoints=${e}`, '--conns=10', '--clients=50', 'range', '\x01', '\xff', '--limit=500', '--consistency=l', `--total=${n}`],
  },
  {
    // etcd's watch-latency: 100 watchers (10 streams of 10) on one key, puts at 500/s; the
    // latency is each put's to its events. Not in the default --loads.
    name: 'watch-latency',
    total: 5_000,
    warmup: 1_000,
    args: (e, n) => [`--endpoints=${e}`, '--conns=10', '--clients=10', 'watch-latency', '--streams=10', '--watchers-per-stream=10', `--put-total=${n}`, '--put-rate=500', '--val-size=1024'],
  },
] satisfies Load[]).filter((l) => LOADS.includes(l.name));

interface Member extends LoopbackMember {
  proc: ChildProcess;
}

interface Cluster {
  kind: Kind;
  members: Member[];
  root: string;
}

function command(kind: Kind, bins: Bins, profDir: string): [string, string[]] {
  switch (kind) {
    case 'etcd36':
      return [bins.etcd36, []];
    case 'etcd34':
      return ['/usr/bin/etcd', []];
    case 'tsetcd':
      // node itself, not the bin/ wrapper, so the pid we read /proc for is the member's.
      return [NODE_BIN, [...NODE_ARGS, ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), ...(DEOPTS ? ['--trace-deopt'] : []), ...(STALLS ? [`--require=${STALL_PROBE}`] : []), MAIN_JS]];
  }
}

async function startCluster(kind: Kind, bins: Bins, root: string): Promise<Cluster> {
  mkdirSync(root, { recursive: true });
  const planned = await planMembers(root, `bench-${kind}`);
  const members: Member[] = planned.map((m) => {
    const [cmd, pre] = command(kind, bins, join(root, 'prof', m.name));
    const extra = kind === 'tsetcd' ? TSETCD_ARGS : [];
    const proc = spawn(cmd, [...pre, ...m.args, ...extra], { stdio: ['ignore', 'pipe', 'pipe'], env: kind === 'tsetcd' ? { ...MEMBER_ENV, ...(STALLS ? { TSETCD_STALL_DIR: root } : {}) } : process.env });
    logChildOutput(proc, join(root, `${m.name}.log`));
    return { ...m, proc };
  });
  const c: Cluster = { kind, members, root };
  if (!(await waitHealthy(members.map((m) => m.client), 60_000))) {
    await stopCluster(c);
    throw new Error(`${kind} cluster did not become healthy (logs in ${root})`);
  }
  // The key the range loads read: one 1 KiB value, written through the /v3 JSON gateway.
  const put = await fetch(`${members[0]!.client}/v3/kv/put`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from(RANGE_KEY).toString('base64'), value: Buffer.alloc(1024, 'v').toString('base64') }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!put.ok) throw new Error(`${kind}: writing ${RANGE_KEY} failed: HTTP ${put.status} ${await put.text()}`);
  return c;
}

async function stopCluster(c: Cluster): Promise<void> {
  await stopProcs(c.members.map((m) => m.proc));
}

interface Counters {
  leaderChanges: number;
  heartbeatFailures: number;
  /** The V8 heap in use, its size, and memory outside it (Buffers), in MiB, of the largest member (Node members only). */
  heap: string;
  /** Each Node member's RSS, old space, external memory and raft log payload, in MiB (printed with --per-member). */
  perMember: string[];
  /** Each Node member's GC counts and seconds so far (prom-client's nodejs_gc_duration_seconds by kind). */
  gc: Array<{ major: number; majorSec: number; minor: number; minorSec: number }>;
  /** WAL fsyncs and their seconds, summed over the members (etcd_disk_wal_fsync_duration_seconds, both systems). */
  fsyncs: number;
  fsyncSeconds: number;
  /** Of those, the ones that took at most 1 ms and at most 4 ms (the histogram's le buckets, etcd's and ours alike). */
  fsyncsUpTo1Ms: number;
  fsyncsUpTo4Ms: number;
}

async function metricsText(m: Member): Promise<string> {
  return (await fetch(m.metrics, { signal: AbortSignal.timeout(10_000) })).text();
}

/** The value of an unlabelled sample in Prometheus text (`absent` when there is none). */
function sampleValue(text: string, name: string, absent = 0): number {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : absent;
}

async function counters(c: Cluster): Promise<Counters> {
  let leaderChanges = 0;
  let heartbeatFailures = 0;
  let heap = '';
  let largest = 0;
  let fsyncs = 0;
  let fsyncSeconds = 0;
  let fsyncsUpTo1Ms = 0;
  let fsyncsUpTo4Ms = 0;
  const perMember: string[] = [];
  const gc: Counters['gc'] = [];
  for (const m of c.members) {
    const text = await metricsText(m);
    const val = (name: string): number => sampleValue(text, name);
    leaderChanges += val('etcd_server_leader_changes_seen_total');
    heartbeatFailures += val('etcd_server_heartbeat_send_failures_total');
    fsyncs += val('etcd_disk_wal_fsync_duration_seconds_count');
    fsyncSeconds += val('etcd_disk_wal_fsync_duration_seconds_sum');
    fsyncsUpTo1Ms += metricSum(text, 'etcd_disk_wal_fsync_duration_seconds_bucket', { le: '0.001' });
    fsyncsUpTo4Ms += metricSum(text, 'etcd_disk_wal_fsync_duration_seconds_bucket', { le: '0.004' });
    const mib = (name: string): string => (val(name) / 2 ** 20).toFixed(0);
    if (text.includes('nodejs_heap_size_total_bytes')) {
      const g = (kind: string, part: string): number => metricSum(text, `nodejs_gc_duration_seconds_${part}`, { kind });
      gc.push({ major: g('major', 'count'), majorSec: g('major', 'sum'), minor: g('minor', 'count'), minorSec: g('minor', 'sum') });
      const lead = val('etcd_server_is_leader') === 1 ? ' leader' : '';
      perMember.push(
        `${m.name}${lead}: rss ${mib('process_resident_memory_bytes')} old ${mib('nodejs_heap_space_size_used_bytes{space="old"}')}/` +
          `${mib('nodejs_heap_space_size_total_bytes{space="old"}')} external ${mib('nodejs_external_memory_bytes')} raft log ${mib('tsetcd_raft_log_bytes')}` +
          ` (in memory ${mib('tsetcd_raft_log_memory_bytes')}, ${val('tsetcd_raft_log_wal_read_entries_total')} entries read back from the WAL)`,
      );
    }
    if (val('nodejs_heap_size_total_bytes') > largest) {
      largest = val('nodejs_heap_size_total_bytes');
      // The heap's spaces (size committed): new space is the young generation (semi-spaces).
      const space = (s: string): string => mib(`nodejs_heap_space_size_total_bytes{space="${s}"}`);
      heap =
        `heap used ${mib('nodejs_heap_size_used_bytes')} of ${mib('nodejs_heap_size_total_bytes')} MiB ` +
        `(new ${space('new')}, old ${space('old')}, large objects ${space('large_object')}, code ${space('code')}), ` +
        `external ${mib('nodejs_external_memory_bytes')} MiB, rss ${mib('process_resident_memory_bytes')} MiB`;
    }
  }
  return { leaderChanges, heartbeatFailures, heap, perMember, gc, fsyncs, fsyncSeconds, fsyncsUpTo1Ms, fsyncsUpTo4Ms };
}

interface RunResult {
  requests: number;
  errors: number;
  perSecond: number;
  p99Ms: number;
  avgMs: number;
  cpuPer1000: number;
  /** The part of cpuPer1000 spent on the members' main threads (the rest: GC helpers, the libuv pool, Go's other threads). */
  mainCpuPer1000: number;
  peakRssMiB: number;
  /** The largest member's peak RSS during this load alone (NaN where VmHWM could not be reset). */
  loadPeakRssMiB: number;
  /** At the load's end, the member with the most anonymous memory: that, and its file-backed pages (the binary's). */
  endAnonMiB: number;
  endFileMiB: number;
  leaderChanges: number;
  heartbeatFailures: number;
  loadAvg: string;
  heap: string;
  /** --per-member: each Node member's peak RSS in this load, then its memory after it. */
  perMember: string;
  /** WAL fsyncs per request (all members) and their mean duration in ms. */
  fsyncsPerRequest: number;
  fsyncMeanMs: number;
  /** The share of those fsyncs that took over 1 ms and over 4 ms. */
  fsyncOver1Ms: number;
  fsyncOver4Ms: number;
  /** The members' context switches per request, all threads: blocked (voluntary) and preempted (involuntary). */
  switchesPerRequest: ContextSwitches;
}

/** Parses benchmark's report: "Requests/sec:", "Average:", "99% in", and its error lines. */
export function parseReport(out: string): { perSecond: number; avgMs: number; p99Ms: number; errors: number } {
  const num = (re: RegExp): number => {
    const m = re.exec(out);
    return m ? Number(m[1]) : NaN;
  };
  const errorSection = out.split('Error distribution:')[1] ?? '';
  const errors = [...errorSection.matchAll(/\[(\d+)\]/g)].reduce((s, m) => s + Number(m[1]), 0);
  return {
    perSecond: num(/Requests\/sec:\s+([\d.]+)/),
    avgMs: 1000 * num(/Average:\s+([\d.]+) secs/),
    p99Ms: 1000 * num(/^\s*99% in ([\d.]+) secs/m),
    errors,
  };
}

/** The member with the most anonymous memory now: its anonymous and file-backed RSS (rssSplitMiB). */
function largestAnon(pids: readonly number[]): { endAnonMiB: number; endFileMiB: number } {
  let best = { endAnonMiB: NaN, endFileMiB: NaN };
  for (const pid of pids) {
    const s = rssSplitMiB(pid);
    if (Number.isNaN(best.endAnonMiB) || s.anon > best.endAnonMiB) best = { endAnonMiB: s.anon, endFileMiB: s.file };
  }
  return best;
}

/** benchmark's --endpoints form of a member's client URL. */
function endpointOf(m: Member): string {
  return m.client.replace('http://', '');
}

/** The client endpoint of a member whose metrics say it does not lead. */
async function followerEndpoint(c: Cluster): Promise<string> {
  for (const m of c.members) if (sampleValue(await metricsText(m), 'etcd_server_is_leader', NaN) === 0) return endpointOf(m);
  throw new Error(`${c.kind}: no member reports etcd_server_is_leader 0`);
}

async function runLoad(c: Cluster, bins: Bins, load: Load, log: (s: string) => void): Promise<RunResult> {
  const endpoints = load.follower ? await followerEndpoint(c) : c.members.map(endpointOf).join(',');
  const pids = c.members.map((m) => m.proc.pid!);
  // Leader changes and heartbeat failures count from before the warm-up: it is load too.
  const start = await counters(c);
  if (WARMUP) {
    const w = load.args(endpoints, load.warmup);
    log(`$ benchmark ${w.join(' ')}  (warm-up, not measured)`);
    await runBenchmark(bins, w, `${load.name} warm-up`, c.kind);
  }
  const before = WARMUP ? await counters(c) : start;
  const cpu0 = pids.map(cpuSeconds);
  const main0 = pids.map(mainThreadCpuSeconds);
  const switches0 = pids.map(contextSwitches);
  // The peak since start, kept before VmHWM is reset so that this load's own peak can be read.
  const peak0 = pids.map(peakRssMiB);
  const reset = pids.map(resetPeakRss).every(Boolean);
  const logs = c.members.map((m) => join(c.root, `${m.name}.log`));
  const logSizes0 = DEOPTS && c.kind === 'tsetcd' ? logs.map(logBytes) : [];
  const args = load.args(endpoints, load.total);
  log(`$ benchmark ${args.join(' ')}`);
  const t0 = Date.now();
  const out = await runBenchmark(bins, args, load.name, c.kind);
  const t1 = Date.now();
  if (STALLS && c.kind === 'tsetcd') for (const m of c.members) log(`  ${m.name} ${summarizeStalls(stallsLogged(join(c.root, `${m.proc.pid}.stalls`), t0, t1))}`);
  // The logs are written through pipes: a deopt at the load's very end may be counted with the next.
  if (logSizes0.length > 0) log(`  deopts during the load: ${logs.map((f, i) => `${c.members[i]!.name} ${summarizeDeopts(deoptsLogged(f, logSizes0[i]))}`).join('; ')}`);
  const cpu = pids.map(cpuSeconds).reduce((s, v, i) => s + v - cpu0[i]!, 0);
  const mainCpu = pids.map(mainThreadCpuSeconds).reduce((s, v, i) => s + v - main0[i]!, 0);
  const switches: ContextSwitches = { voluntary: 0, involuntary: 0 };
  pids.map(contextSwitches).forEach((v, i) => {
    switches.voluntary += v.voluntary - switches0[i]!.voluntary;
    switches.involuntary += v.involuntary - switches0[i]!.involuntary;
  });
  const after = await counters(c);
  const fsyncs = after.fsyncs - before.fsyncs;
  const r = parseReport(out);
  if (DIST) log(`  latency: ${out.split('\n').filter((l) => /^\s*[0-9.]+% in /.test(l)).map((l) => l.trim().replace(' secs.', '').replace(' in ', ' ')).join(', ')} (s)`);
  return {
    requests: load.total,
    errors: r.errors,
    perSecond: r.perSecond,
    p99Ms: r.p99Ms,
    avgMs: r.avgMs,
    cpuPer1000: (1000 * cpu) / load.total,
    mainCpuPer1000: (1000 * mainCpu) / load.total,
    switchesPerRequest: { voluntary: switches.voluntary / load.total, involuntary: switches.involuntary / load.total },
    peakRssMiB: Math.max(...pids.map((p, i) => Math.max(peak0[i]!, peakRssMiB(p)))),
    loadPeakRssMiB: reset ? Math.max(...pids.map(peakRssMiB)) : NaN,
    ...largestAnon(pids),
    leaderChanges: after.leaderChanges - start.leaderChanges,
    heartbeatFailures: after.heartbeatFailures - start.heartbeatFailures,
    loadAvg: loadAvg(),
    heap: after.heap,
    perMember: after.perMember
      .map((t, i) => {
        const a = after.gc[i];
        const b = before.gc[i];
        const gcs = a && b ? ` gc major ${a.major - b.major} (${(1000 * (a.majorSec - b.majorSec)).toFixed(0)} ms) minor ${a.minor - b.minor} (${(1000 * (a.minorSec - b.minorSec)).toFixed(0)} ms)` : '';
        return `peak ${reset ? peakRssMiB(pids[i]!).toFixed(0) : '-'} ${t}${gcs}`;
      })
      .join('; '),
    fsyncsPerRequest: fsyncs / load.total,
    fsyncMeanMs: (1000 * (after.fsyncSeconds - before.fsyncSeconds)) / Math.max(1, fsyncs),
    fsyncOver1Ms: 1 - (after.fsyncsUpTo1Ms - before.fsyncsUpTo1Ms) / Math.max(1, fsyncs),
    fsyncOver4Ms: 1 - (after.fsyncsUpTo4Ms - before.fsyncsUpTo4Ms) / Math.max(1, fsyncs),
  };
}

/** Runs etcd's benchmark tool once (bounded by --max-seconds); its standard output. */
function runBenchmark(bins: Bins, args: string[], what: string, kind: Kind): Promise<string> {
  return new Promise<string>((res, rej) => {
    const p = spawn(bins.benchmark, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    p.stdout.on('data', (d: Buffer) => (text += d.toString()));
    p.stderr.on('data', () => {}); // the progress bar
    const timer = setTimeout(() => p.kill('SIGKILL'), MAX_SECONDS * 1000);
    p.on('error', rej);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) res(text);
      else rej(new Error(`benchmark ${what} on ${kind} ended with ${code ?? signal} (bound: ${MAX_SECONDS} s)\n${text.slice(-2000)}`));
    });
  });
}

interface Bins {
  benchmark: string;
  etcd36: string;
}

function ensureBins(): Bins {
  const last = (s: string): string => s.trim().split('\n').pop()!;
  const benchmark = last(execFileSync('bash', [join(REPO, 'hack', 'ensure-etcd-benchmark.sh')], { stdio: ['ignore', 'pipe', 'inherit'] }).toString());
  const etcd36 = join(last(execFileSync('bash', [join(REPO, 'hack', 'ensure-etcd36.sh')], { stdio: ['ignore', 'pipe', 'inherit'] }).toString()), 'etcd');
  return { benchmark, etcd36 };
}

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

/** The WAL fsyncs' mean and tail (none under reads). */
function fsyncTail(r: RunResult): string {
  if (r.fsyncsPerRequest === 0) return '';
  const pct = (share: number): string => `${(100 * share).toFixed(1)}%`;
  return ` (mean ${r.fsyncMeanMs.toFixed(2)} ms, over 1 ms ${pct(r.fsyncOver1Ms)}, over 4 ms ${pct(r.fsyncOver4Ms)})`;
}

function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-';
}

async function main(): Promise<void> {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} missing: run make build`);
  const bins = ensureBins();
  let kinds: Kind[] = ['etcd36', 'tsetcd'];
  if (WITH_ETCD34) {
    if (!existsSync('/usr/bin/etcd')) throw new Error('--etcd34: /usr/bin/etcd missing (apt-get install etcd-server)');
    kinds.push('etcd34');
  }
  if (ONLY) kinds = kinds.filter((k) => k === ONLY);
  const root = join(DATA_ROOT, `bench-etcd-benchmark-${Date.now()}`);
  const results = new Map<string, RunResult[]>(); // `${kind} ${load}` -> one per pair
  const log = (s: string): void => console.log(s);
  log(`etcd benchmark: ${PAIRS} pair(s), loads ${LOAD_TABLE.map((l) => l.name).join(',')}; load average ${loadAvg()}`);
  if (kinds.includes('tsetcd')) {
    const v = execFileSync(NODE_BIN, ['--version']).toString().trim();
    log(`tsetcd members: GLIBC_TUNABLES=${MEMBER_ENV['GLIBC_TUNABLES']} ${NODE_BIN} (${v}) ${[...NODE_ARGS, MAIN_JS, ...TSETCD_ARGS].join(' ')}`);
  }
  for (let pair = 1; pair <= PAIRS; pair++) {
    // Alternate who goes first, so neither side always gets the cooler machine.
    const order = pair % 2 === 1 ? kinds : [...kinds].reverse();
    for (const kind of order) {
      const dir = join(root, `${pair}-${kind}`);
      const c = await startCluster(kind, bins, dir);
      // The loads' time span: --profile counts only the samples inside it (not the start-up).
      const window = { fromUs: Number(process.hrtime.bigint() / 1000n), toUs: Infinity };
      try {
        for (const load of LOAD_TABLE) {
          const r = await runLoad(c, bins, load, log);
          const key = `${kind} ${load.name}`;
          results.set(key, [...(results.get(key) ?? []), r]);
          log(
            `pair ${pair} ${kind.padEnd(6)} ${load.name.padEnd(10)} ${fmtInt(r.perSecond).padStart(7)} req/s  p99 ${fmt(r.p99Ms)} ms  avg ${fmt(r.avgMs, 2)} ms  ` +
              `cpu ${fmt(r.cpuPer1000, 3)} s/1k (main thread ${fmt(r.mainCpuPer1000, 3)})  peak rss ${fmt(r.peakRssMiB, 0)} MiB (this load ${fmt(r.loadPeakRssMiB, 0)}; at the end anon ${fmt(r.endAnonMiB, 0)} file ${fmt(r.endFileMiB, 0)})  leader changes ${r.leaderChanges}  ` +
              `heartbeat send failures ${r.heartbeatFailures}  errors ${r.errors}  fsyncs/req ${r.fsyncsPerRequest.toFixed(2)}${fsyncTail(r)}  ` +
              `context switches/req ${fmt(r.switchesPerRequest.voluntary, 1)} blocked + ${fmt(r.switchesPerRequest.involuntary, 1)} preempted  (load avg ${r.loadAvg})${r.heap ? `  [${r.heap}]` : ''}`,
          );
          if (PER_MEMBER && r.perMember) log(`  members (MiB): ${r.perMember}`);
        }
      } finally {
        window.toUs = Number(process.hrtime.bigint() / 1000n);
        await stopCluster(c);
      }
      if (PROFILE && kind === 'tsetcd') printProfiles(dir, window);
    }
  }
  printTable(kinds, results);
  if (!process.env['KEEP_DATA'] && !PROFILE) rmSync(root, { recursive: true, force: true });
}

function printProfiles(dir: string, window: Window): void {
  for (const m of ['m1', 'm2', 'm3']) {
    const pdir = join(dir, 'prof', m);
    if (!existsSync(pdir)) continue;
    for (const f of readdirSync(pdir).filter((x) => x.endsWith('.cpuprofile'))) {
      console.log(`\nbusy time by area during the loads (start-up left out), tsetcd ${m} (${join(pdir, f)}):`);
      for (const line of busyByArea(join(pdir, f), 14, window)) console.log(line);
      console.log(`hottest frames (self time):`);
      for (const line of hotFrames(join(pdir, f), 25, window)) console.log(line);
    }
  }
}

function printTable(kinds: Kind[], results: Map<string, RunResult[]>): void {
  const label: Record<Kind, string> = { etcd36: 'etcd 3.6.16', tsetcd: 'tsetcd', etcd34: 'etcd 3.4 (Debian)' };
  const hasBoth = kinds.includes('etcd36') && kinds.includes('tsetcd');
  const head = ['load', 'measure', ...kinds.map((k) => label[k]), ...(hasBoth ? ['tsetcd / etcd 3.6'] : [])];
  console.log(`\nmedians over ${PAIRS} pair(s) (load average at the end ${loadAvg()})\n`);
  console.log(`| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|`);
  const measures: Array<[string, (r: RunResult) => number, (n: number) => string]> = [
    ['throughput (req/s)', (r) => r.perSecond, fmtInt],
    ['p99 (ms)', (r) => r.p99Ms, (n) => fmt(n, 1)],
    ['avg latency (ms)', (r) => r.avgMs, (n) => fmt(n, 2)],
    ['member CPU s / 1,000 req', (r) => r.cpuPer1000, (n) => fmt(n, 3)],
    ['members\' context switches / req, preempted', (r) => r.switchesPerRequest.involuntary, (n) => fmt(n, 1)],
    // The disk's moment: a ratio read beside it (the same disk can give one system's fsyncs a
    // longer tail than the other's in the same run; etcd's bbolt also commits every 100 ms).
    ['WAL fsyncs over 1 ms, all members (%)', (r) => (r.fsyncsPerRequest > 0 ? 100 * r.fsyncOver1Ms : NaN), (n) => fmt(n, 1)],
    ['peak RSS, largest member (MiB)', (r) => r.peakRssMiB, (n) => fmt(n, 0)],
    ['RSS at the end: anonymous, largest member (MiB)', (r) => r.endAnonMiB, (n) => fmt(n, 0)],
    ['RSS at the end: file-backed, same member (MiB)', (r) => r.endFileMiB, (n) => fmt(n, 0)],
  ];
  for (const load of LOAD_TABLE) {
    for (const [name, get, show] of measures) {
      const med = kinds.map((k) => median((results.get(`${k} ${load.name}`) ?? []).map(get)));
      if (med.every((m) => Number.isNaN(m))) continue; // a measure this load has none of (fsyncs under reads)
      const ratio = hasBoth ? [fmt(med[kinds.indexOf('tsetcd')]! / med[kinds.indexOf('etcd36')]!, 2)] : [];
      console.log(`| ${[load.name, name, ...med.map(show), ...ratio].join(' | ')} |`);
    }
  }
  console.log('');
  for (const k of kinds) {
    const all = LOAD_TABLE.flatMap((l) => results.get(`${k} ${l.name}`) ?? []);
    const sum = (get: (r: RunResult) => number): number => all.reduce((s, r) => s + get(r), 0);
    console.log(
      `${label[k]}: leader changes during the runs ${sum((r) => r.leaderChanges)}, heartbeat send failures ${sum((r) => r.heartbeatFailures)}, request errors ${sum((r) => r.errors)}`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
