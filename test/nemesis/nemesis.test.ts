// The nemesis suite, short (make torture runs it long): a 3- and a 5-member cluster of bin/tsetcd
// in network namespaces under the seed's faults (kill -9, SIGSTOP, isolation, splits, one-way
// partitions), with the recorded history checked for linearizability, durability, the event log
// agreement and the watchers' streams. The verdict depends on the seed's schedule, never on timing; the seed and its
// schedule are printed. Then the same pipeline on real processes must catch a planted stale read.
// Needs root (CI runs as root), ip, iptables, bin/tsetcd and Go (for hack/lincheck).

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NemesisCluster, realProcessPrerequisites, REPO, tearDownTestCluster } from './cluster.js';
import { HistoryRecorder } from './history.js';
import { KvClient } from './kv-client.js';
import { checkLeases, type LeaseCheckInput } from './lease-check.js';
import type { LeaseRecord } from './lease-load.js';
import { checkLinearizable, lincheckBinary } from './lincheck.js';
import { NemesisNetwork } from './netns.js';
import { runNemesis, type RunReport } from './run.js';

const why = await realProcessPrerequisites('the nemesis suite');

// Seed 8 (3 members) and 9 (5 members) draw every fault kind between them.
const SEED = Number(process.env['NEMESIS_SEED'] ?? 8);

function expectClean(r: RunReport): void {
  const replay = `npx tsx test/nemesis/main.ts --seed ${r.seed} --size ${r.size} --faults ${r.schedule.length}`;
  const context = `seed ${r.seed}, ${r.size} members; schedule:\n${r.schedule.join('\n')}\ndata: ${r.dir}\nreplay: ${replay}`;
  expect(r.faultsInjected + r.faultsSkipped, context).toBe(r.schedule.length);
  expect(r.watchEvents, context).toBeGreaterThan(0);
  expect(r.problems, context).toEqual([]);
  expect(r.lin.verdict, `${JSON.stringify(r.lin)}\n${context}`).toBe('ok');
  expect(r.ops, context).toBeGreaterThan(0);
  expect(r.leases.leases, context).toBeGreaterThan(0);
  expect(r.compactions, context).toBeGreaterThan(0);
}

/**
 * Plants an early expiry in a real run's lease record: a lease whose keys were deleted gets a
 * keep-alive, answered with its TTL, sent half a second before the deletion was first seen, and
 * its revoke is forgotten. The lease checker must reject it.
 */
function plantEarlyExpiry(i: LeaseCheckInput): LeaseCheckInput | undefined {
  const firstSeen = (rev: number): number => Math.min(i.seen.get(rev) ?? Infinity, ...i.answers.filter((a) => a.rev >= rev).map((a) => a.ret));
  for (const [n, l] of i.records.entries()) {
    const del = i.events.find((e) => e.type === 'DELETE' && l.puts.some((p) => p.key === e.key));
    if (!del || !Number.isFinite(firstSeen(del.modRev))) continue;
    const at = firstSeen(del.modRev) - 0.5e9;
    const { revoke: _, ...rest } = l;
    const planted: LeaseRecord = { ...rest, keepAlives: [...l.keepAlives, { call: at, ret: at + 1e6, ttl: l.grant.ttl }] };
    return { ...i, records: i.records.map((r, k) => (k === n ? planted : r)) };
  }
  return undefined;
}

describe.skipIf(why !== '')('nemesis on real processes', () => {
  beforeAll(() => {
    lincheckBinary();
  });

  for (const [size, seed] of [[3, SEED], [5, SEED + 1]] as const) {
    it(`${size} members, seed ${seed}: linearizable, durable and in agreement under 5 faults, with leases and compaction`, async () => {
      const r = await runNemesis({ seed, size, faults: 5, clients: 6, maxOpsPerClient: 400, maxLoadMs: 90_000, keys: 4, opDeadlineMs: 2000, leaseClients: 2, compactEveryMs: 2500, log: (l) => console.log(l) });
      console.log(`nemesis seed ${seed} (${size} members): ${r.ops} ops (${r.unknownOps} unknown outcome), ${r.faultsInjected} faults (${r.faultsSkipped} refused), ${r.watchEvents} watch events (${r.watchCompacted} watches canceled as compacted), ${r.leases.leases} leases (${r.leases.revoked} revoked, ${r.leases.expired} expired), ${r.compactions} compactions (${r.readsCompacted} reads refused as compacted), final revision ${r.finalRev}: ${r.lin.verdict}`);
      expectClean(r);
      // The same record with an early expiry planted must be rejected.
      const planted = plantEarlyExpiry(r.leaseInput);
      expect(planted, 'a lease whose keys were deleted').toBeDefined();
      expect(checkLeases(planted!).problems.join('\n')).toMatch(/expired early/);
    }, 240_000);
  }

  describe('a stale read on real processes is caught', () => {
    let net: NemesisNetwork;
    let cluster: NemesisCluster;
    const clients: KvClient[] = [];
    const dir = join(REPO, '.data', `nemesis-stale-${process.pid}`);
    beforeAll(async () => {
      net = await NemesisNetwork.create(3);
      cluster = new NemesisCluster(net, dir, 'nemesis-stale', { heartbeatMs: 50, electionMs: 500 });
      for (let i = 0; i < 3; i++) cluster.launch(i);
      expect(await cluster.waitHealthy(60_000)).toBe(true);
      // Serializable reads answer from the member's own state: the read this test plants.
      for (const m of cluster.members) clients.push(new KvClient(m.address, 3000, true));
    }, 120_000);
    afterAll(async () => {
      await tearDownTestCluster({ clients, cluster, net, dir });
    });

    it('a serializable read from an isolated follower, after a write it never saw, is rejected', async () => {
      const leader = await cluster.leader(clients);
      expect(leader).toBeGreaterThanOrEqual(0);
      const follower = (leader + 1) % 3;
      const rec = new HistoryRecorder(await clients[leader]!.revision(false));
      const key = 'n/stale';
      expect(await rec.record(0, { kind: 'put', key, value: 'old' }, () => clients[leader]!.run({ kind: 'put', key, value: 'old' }))).not.toBeNull();
      // The follower has 'old' once it answers it; then it is cut off and the majority moves on.
      for (let i = 0; i < 100; i++) {
        const seen = await clients[follower]!.run({ kind: 'get', key });
        if (seen !== 'failed' && seen?.value === 'old') break;
      }
      for (let j = 0; j < 3; j++) if (j !== follower) { await net.dropFrom(follower, j); await net.dropFrom(j, follower); }
      expect(await rec.record(0, { kind: 'put', key, value: 'new' }, () => clients[leader]!.run({ kind: 'put', key, value: 'new' }))).not.toBeNull();
      const stale = await rec.record(1, { kind: 'get', key }, () => clients[follower]!.run({ kind: 'get', key }));
      expect(stale?.value).toBe('old');
      await net.heal();
      const v = await checkLinearizable(rec.history());
      expect(v.verdict).toBe('illegal');
    }, 60_000);
  });
});
