// Raft's log keeps only its newest applied entries in memory; the ones kept behind them for slow
// followers are read back from the WAL when a follower needs them (raft/memory-storage.ts, "Cold
// entries"). With real member processes on a real disk: a follower is killed, 3,000 puts go to the
// other two (far past the 1,024 entries held in memory, far below the 10,000 that trigger a
// snapshot), and the follower is started again. It catches up from the leader's log, not from a
// snapshot, so the leader read entries back from its WAL; and the follower then holds every key,
// with the same hash of the key space as the others.
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster, ctlOk, parseCtlJson, requireTools, waitFor } from './harness.js';

const tools = requireTools();
const PUTS = 3000;

describe.skipIf(!tools.ok)("raft's cold entries read back from the WAL (real members)", () => {
  let cluster: Cluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
  });

  it('a follower that missed 3,000 entries catches up from the leader reading them back, not from a snapshot', async () => {
    cluster = await Cluster.start({ size: 3, label: 'raft-log-cold' });
    const c = cluster;
    const leader = await c.waitLeader(30_000);
    const follower = c.members.find((m) => m !== leader)!;
    await c.kill(follower);
    const live = c.members.filter((m) => m !== follower);
    const client = new Etcd3({ hosts: live.map((m) => m.clientUrl) });
    try {
      for (let i = 0; i < PUTS; i += 50) {
        await Promise.all(Array.from({ length: 50 }, (_, j) => client.put(`cold/${String(i + j).padStart(5, '0')}`).value(`v${i + j}-${'x'.repeat(64)}`)));
      }
    } finally {
      client.close();
    }
    // The leader's log still spans every entry, but holds most payloads on disk only. (Its gauges
    // are set once a second: wait for a scrape that shows the last puts.)
    const held = await waitFor(
      "the leader's log gauges to show every put",
      async () => {
        const g = await c.metrics(leader, ['tsetcd_raft_log_bytes', 'tsetcd_raft_log_memory_bytes', 'tsetcd_raft_log_entries']);
        return g['tsetcd_raft_log_entries']! > PUTS ? g : undefined;
      },
      30_000,
    );
    console.log(`leader's raft log: ${JSON.stringify(held)}`);
    expect(held['tsetcd_raft_log_memory_bytes']).toBeLessThan(held['tsetcd_raft_log_bytes']! / 2);

    c.launch(follower, c.members.map((m) => `${m.name}=${m.peerUrl}`).join(','), 'existing');
    await c.waitHealthy([follower], 30_000);
    const last = `cold/${String(PUTS - 1).padStart(5, '0')}`;
    await waitFor(
      'the restarted follower to serve the last key',
      async () => ((await ctlOk(c.endpoints([follower]), ['get', last, '--consistency=s', '--print-value-only'])).trim() !== '' ? true : undefined),
      30_000,
    );
    const count = await ctlOk(c.endpoints([follower]), ['get', 'cold/', '--prefix', '--limit=1', '--consistency=s', '-w', 'json']);
    expect(parseCtlJson<{ count: number }>(count).count).toBe(PUTS);

    // Counted with the gauges, once a second.
    const readBack = await waitFor(
      'the entries read back from the WAL to be counted',
      async () => {
        let n = 0;
        for (const m of c.members) n += await c.metric(m, 'tsetcd_raft_log_wal_read_entries_total');
        return n > 0 ? n : undefined;
      },
      30_000,
    );
    const snapshotsReceived = await c.metric(follower, 'etcd_network_snapshot_receive_success');
    console.log(`entries read back from the WAL: ${readBack}; snapshots the follower received: ${snapshotsReceived}`);
    // All but the newest 1,024 of the missed entries were cold (the exact count depends on probing).
    expect(readBack).toBeGreaterThan(PUTS / 3);
    expect(snapshotsReceived).toBe(0);

    const hashes = await waitFor(
      'every member to report the same HashKV',
      async () => {
        const out = parseCtlJson<Array<{ HashKV: { hash: number; hash_revision: number } }>>(await ctlOk(c.endpoints(), ['endpoint', 'hashkv', '-w', 'json']));
        const hs = new Set(out.map((o) => `${o.HashKV.hash_revision}/${o.HashKV.hash}`));
        return out.length === 3 && hs.size === 1 ? [...hs] : undefined;
      },
      30_000,
    );
    expect(hashes).toHaveLength(1);
  }, 180_000);
});
