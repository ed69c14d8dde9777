// The pure Raft core's own cost, without the simulator: 3 RawNodes wired by a direct
// in-process Ready loop (persist to MemoryStorage, deliver messages, apply, advance), no
// faults, 1 KiB entries proposed to the leader in batches of 1, 16, 64 and 256.
// Complements hack/bench-raft.ts (which runs the same through test/sim with its checkers).
//
//   npx tsx hack/bench-raft-core.ts [--runs 5] [--entries 50000]
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { MemoryStorage, RawNode, SeededRng, type Message } from '../node/raft/index.js';

const ENTRY_BYTES = 1024;
const BATCHES = [1, 16, 64, 256];

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
}

interface BenchNode {
  rn: RawNode;
  st: MemoryStorage;
  applied: number;
}

function cluster(): BenchNode[] {
  const voters = [1n, 2n, 3n];
  return voters.map((id) => {
    const st = new MemoryStorage({ data: new Uint8Array(0), metadata: { index: 0, term: 0, confState: { voters, learners: [] } } });
    const rn = new RawNode({ id, electionTick: 10, heartbeatTick: 1, storage: st, rng: new SeededRng(Number(id)), maxInflightMsgs: 256 });
    return { rn, st, applied: 0 };
  });
}

function pump(nodes: BenchNode[]): void {
  let queue: Message[] = [];
  for (let rounds = 0; rounds < 1_000_000; rounds++) {
    let busy = false;
    for (const n of nodes) {
      if (!n.rn.hasReady()) continue;
      busy = true;
      const rd = n.rn.ready();
      if (rd.snapshot !== undefined) n.st.applySnapshot(rd.snapshot);
      if (rd.entries.length > 0) n.st.append(rd.entries);
      if (rd.hardState !== undefined) n.st.setHardState(rd.hardState);
      for (const m of rd.messages) queue.push(m);
      n.applied += rd.committedEntries.length;
      n.rn.advance();
    }
    if (queue.length > 0) {
      busy = true;
      const q = queue;
      queue = [];
      for (const m of q) (nodes[Number(m.to) - 1] as BenchNode).rn.step(m);
    }
    if (!busy) return;
  }
  throw new Error('pump did not settle');
}

function runOnce(batch: number, target: number): number {
  const nodes = cluster();
  const leader = nodes[0] as BenchNode;
  leader.rn.campaign();
  pump(nodes);
  if (leader.rn.status().softState.raftState !== 'leader') throw new Error('no leader');
  const payloads: Uint8Array[] = [];
  for (let i = 0; i < batch; i++) payloads.push(new Uint8Array(ENTRY_BYTES).fill(i & 0xff));
  const start = leader.applied;
  const t0 = performance.now();
  let proposed = 0;
  while (proposed < target) {
    leader.rn.proposeBatch(payloads);
    proposed += batch;
    pump(nodes);
    // keep memory flat like a real member would: compact what everyone applied
    if (leader.applied - leader.st.firstIndex() > 20_000) {
      for (const n of nodes) {
        const at = n.applied - 1_000;
        n.st.createSnapshot(at, { voters: [1n, 2n, 3n], learners: [] }, new Uint8Array(0));
        n.st.compact(at);
      }
    }
  }
  const ms = performance.now() - t0;
  const committed = leader.applied - start;
  if (committed < target) throw new Error(`only ${committed} of ${target} committed`);
  return (committed / ms) * 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const runs = arg('--runs', 5);
const entries = arg('--entries', 50_000);
console.log(`bench-raft-core: load average ${loadavg()[0]!.toFixed(1)}; 3 nodes, direct Ready loop, no faults, ${ENTRY_BYTES} B entries, ${entries} entries per run, median of ${runs} runs`);
// Warm-up: let the JIT settle on every path before measuring (cold batch=1 runs are 5x slower).
for (const batch of BATCHES) runOnce(batch, 20_000);
let base = 0;
for (const batch of BATCHES) {
  const xs: number[] = [];
  for (let r = 0; r < runs; r++) xs.push(runOnce(batch, entries));
  const med = median(xs);
  if (batch === 1) base = med;
  console.log(
    `batch=${String(batch).padStart(3)}  committed_entries_per_sec=${String(Math.round(med)).padStart(8)}  (${((med * ENTRY_BYTES) / 2 ** 20).toFixed(1)} MiB/s)  x${(med / base).toFixed(2)} vs batch=1  runs=[${xs.map((x) => Math.round(x)).join(', ')}]`,
  );
}
