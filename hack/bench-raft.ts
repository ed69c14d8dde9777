// The Raft core's throughput inside the simulator: committed entries per second of wall
// time, 3 nodes, no faults, 1 KiB entries proposed to the leader in client batches of
// 1, 16, 64 and 256. Everything runs on the simulator's virtual clock in one thread, so the
// figure is the CPU cost of raft (all three nodes) plus the simulator's Ready loop, network
// and safety checkers: an upper bound on what the core can feed a real member.
//
//   npx tsx hack/bench-raft.ts [--runs 5] [--entries 20000]
//
// Each run proposes batches until `entries` are committed (applied on the leader) or 10 s
// of wall time pass; the median of the runs is printed, with ratios to batch size 1.
import { performance } from 'node:perf_hooks';
import { Cluster } from '../test/sim/cluster.js';
import { optionsForSeed, TICK_UNITS, type SimOptions } from '../test/sim/options.js';
import { makePayload } from '../test/sim/state-machine.js';

const ENTRY_BYTES = 1024;
const BATCHES = [1, 16, 64, 256];
const MAX_RUN_MS = 10_000;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
}

function benchOptions(): SimOptions {
  return {
    ...optionsForSeed(1, { noFaults: true, clusterSize: 3 }),
    preVote: true,
    checkQuorum: true,
    maxSizePerMsg: 1 << 20,
    maxInflightMsgs: 256,
    maxInflightBytes: 0,
    snapshotEvery: 10_000,
    compactKeep: 1_000,
    net: { dropRate: 0, dupRate: 0, minDelay: 1, maxDelay: 1, longDelayRate: 0, longDelayMax: 1 },
  };
}

interface RunResult {
  entries: number;
  ms: number;
  perSec: number;
  /** Per second of this process's CPU time (user+system): steadier on a shared machine. */
  perCpuSec: number;
  violations: number;
}

async function runOnce(batch: number, target: number, checks: boolean): Promise<RunResult> {
  const c = new Cluster(benchOptions(), checks);
  await c.bootstrap([1n, 2n, 3n]);
  // Elect a leader (virtual time only; not measured).
  for (let t = 1; c.stableLeader() === undefined; t++) {
    if (t > 1000) throw new Error('no leader after 1000 ticks');
    await c.runUntil(t * TICK_UNITS);
  }
  const leader = c.stableLeader();
  if (leader === undefined) throw new Error('no leader');
  let committed = 0;
  c.onApply = (n) => {
    if (n.id === leader.id) committed++;
  };
  // Payloads are made before the clock starts.
  const payloads: Uint8Array[] = [];
  for (let i = 0; i < target; i++) payloads.push(makePayload(i + 1, ENTRY_BYTES));
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let next = 0;
  let spins = 0;
  while (committed < target && performance.now() - start < MAX_RUN_MS) {
    if (next < target && next - committed < batch * 4) {
      const end = Math.min(target, next + batch);
      c.proposeBatch(leader.id, payloads.slice(next, end));
      next = end;
    }
    // Let messages flow: a round trip is a few time units.
    await c.runUntil(c.now + 2);
    if (++spins % 1000 === 0 && c.leader()?.id !== leader.id) throw new Error('leader changed during the benchmark');
    if (c.aborted) break;
  }
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    entries: committed,
    ms,
    perSec: (committed / ms) * 1000,
    perCpuSec: (committed / cpuMs) * 1000,
    violations: c.checker.violations.length,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

async function main(): Promise<void> {
  const runs = arg('--runs', 5);
  const entries = arg('--entries', 20_000);
  console.log(`bench-raft: 3 nodes, no faults, ${ENTRY_BYTES} B entries, ${entries} entries per run, median of ${runs} runs`);
  await runOnce(16, 2_000, true); // warm up the JIT
  await runOnce(16, 2_000, false);
  for (const checks of [true, false]) {
  console.log(checks ? 'with the safety checkers on (as in the simulator runs):' : 'thin harness (checkers and entry fingerprints off):');
  let base = 0;
  for (const batch of BATCHES) {
    const rs: RunResult[] = [];
    for (let i = 0; i < runs; i++) rs.push(await runOnce(batch, entries, checks));
    const bad = rs.reduce((a, r) => a + r.violations, 0);
    const med = median(rs.map((r) => r.perSec));
    const medCpu = median(rs.map((r) => r.perCpuSec));
    if (batch === 1) base = med;
    const mib = (med * ENTRY_BYTES) / (1 << 20);
    console.log(
      `batch=${String(batch).padStart(3)}  committed_entries_per_sec=${med.toFixed(0).padStart(7)}  ` +
        `(${mib.toFixed(1)} MiB/s of payload)  per_cpu_sec=${medCpu.toFixed(0).padStart(7)}  x${(med / base).toFixed(2)} vs batch=1  ` +
        `runs=[${rs.map((r) => r.perSec.toFixed(0)).join(', ')}]${bad > 0 ? `  VIOLATIONS=${bad}` : ''}`,
    );
  }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
