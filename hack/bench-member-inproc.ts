// The member runtime's own write throughput, without gRPC: N members (1 or 3) in this one
// process, each with real on-disk storage (WAL + fdatasync) under .data/bench-inproc, joined by
// the in-memory transport twin. C concurrent writers call member.put() (1 KiB values) on the
// leader for a bounded time. Prints puts/s, p50/p99 and fsyncs per put, per case.
//   npx tsx hack/bench-member-inproc.ts [--seconds 5] [--clients 1,10,100,1000] [--members 1,3]
// With 3 members the three share one event loop, so the figure is a lower bound of a real
// cluster's runtime capacity; gRPC and the client are not in it at all.
import { rmSync } from 'node:fs';
import { openStorage } from '../node/storage/index.js';
import { Member } from '../node/runtime/member.js';
import { MvccStateMachine } from '../node/runtime/mvcc-adapter.js';
import { silentLogger } from '../node/log.js';
import { MemoryNetwork } from '../node/transport/memory-transport.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

async function runCase(members: number, clients: number, seconds: number): Promise<void> {
  const root = `.data/bench-inproc`;
  rmSync(root, { recursive: true, force: true });
  const net = new MemoryNetwork();
  const recs = Array.from({ length: members }, (_, i) => ({ id: BigInt(i + 1), name: `m${i + 1}`, peerUrls: [`http://m${i + 1}:1`], clientUrls: [], isLearner: false }));
  let fsyncs = 0;
  const ms: Member[] = [];
  for (const r of recs) {
    const { storage, recovered } = await openStorage(`${root}/${r.name}`, { hooks: { walFsync: () => fsyncs++ } });
    const m = new Member({
      id: r.id, clusterId: 1n, name: r.name, clientUrls: [], peerUrls: r.peerUrls, clusterToken: 'bench',
      heartbeatIntervalMs: 100, electionTimeoutMs: 1000, snapshotCount: 1_000_000, maxLearners: 1, quotaBackendBytes: 8 * 2 ** 30,
      logger: silentLogger, storage, recovered, initialMembers: recs, stateMachine: new MvccStateMachine({ quotaBackendBytes: 8 * 2 ** 30 }),
      makeTransport: (h) => net.transport(r.id, h), seed: Number(r.id),
    });
    await m.start();
    ms.push(m);
  }
  const deadline = Date.now() + 10_000;
  let leader: Member | undefined;
  while (!(leader = ms.find((m) => m.roleNow() === 'leader'))) {
    if (Date.now() > deadline) throw new Error('no leader');
    await new Promise((r) => setTimeout(r, 10));
  }
  const v = Buffer.alloc(1024, 1);
  const lat: number[] = [];
  const end = Date.now() + seconds * 1000;
  const f0 = fsyncs;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let n = 0; Date.now() < end; n++) {
        const t = performance.now();
        await leader!.put({ key: Buffer.from(`k${c}-${n % 100}`), value: v });
        lat.push(performance.now() - t);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  console.log(
    `members=${members} clients=${String(clients).padStart(4)}  ${(lat.length / secs).toFixed(0).padStart(6)} puts/s  p50=${q(0.5).toFixed(1)}ms p99=${q(0.99).toFixed(1)}ms  puts/fsync=${(lat.length / Math.max(1, (fsyncs - f0) / members)).toFixed(1)}`,
  );
  await Promise.all(ms.map((m) => m.stop()));
  rmSync(root, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const seconds = Number(arg('seconds', '5'));
  for (const members of arg('members', '1,3').split(',').map(Number)) {
    for (const clients of arg('clients', '1,10,100,1000').split(',').map(Number)) await runCase(members, clients, seconds);
  }
}

void main();
