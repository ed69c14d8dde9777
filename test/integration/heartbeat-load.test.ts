// Heartbeats on time, whatever the load (issue 5): while a 3-member cluster of real processes
// serves a 100k-key range read, a snapshot save and a compaction, no leader change happens and
// etcd_server_heartbeat_send_failures_total stays flat. The event-loop lag the members saw
// (nodejs_eventloop_lag_max_seconds) is printed beside the result, not asserted (timings
// belong in benchmarks).

import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ctlOk, etcdctl, requireTools } from './harness.js';

const tools = requireTools();
const d = tools.ok ? describe.sequential : describe.skip;

const KEYS = 100_000;
const TXN_OPS = 128;
const CONCURRENCY = 8;

let cluster: Cluster;

d('heartbeats under heavy reads, snapshot and compaction', () => {
  beforeAll(async () => {
    cluster = await Cluster.start({ size: 3, label: 'heartbeat' });
  }, 90_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') cluster?.printLogs();
  });

  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  it('no leader change and no heartbeat send failure', async () => {
    const ep = cluster.endpoints();
    // 100k keys, written as 128-put txns from a few concurrent clients.
    const client = new Etcd3({ hosts: cluster.members.map((m) => m.clientUrl) });
    try {
      let next = 0;
      const worker = async (): Promise<void> => {
        for (;;) {
          const start = next;
          if (start >= KEYS) return;
          next += TXN_OPS;
          const success = [];
          for (let i = start; i < Math.min(KEYS, start + TXN_OPS); i++) {
            success.push({ request_put: { key: Buffer.from(`hb/${String(i).padStart(6, '0')}`), value: Buffer.from('v') } });
          }
          await client.kv.txn({ success });
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    } finally {
      client.close();
    }
    // Churn some keys so the compaction has history to drop.
    for (let i = 0; i < 20; i++) await ctlOk(ep, ['put', `hb/${String(i).padStart(6, '0')}`, `v${i}`]);

    const leader = await cluster.waitLeader(10_000);
    const WATCHED = ['etcd_server_leader_changes_seen_total', 'etcd_server_heartbeat_send_failures_total', 'nodejs_eventloop_lag_max_seconds'];
    // One scrape per member before (it also resets the event-loop histogram) and one after.
    const before = await Promise.all(cluster.members.map((m) => cluster.metrics(m, WATCHED)));
    const rev = (await cluster.statuses([leader]))[0]!.Status.header.revision;

    const leaderEp = `127.0.0.1:${leader.clientPort}`;
    const started = Date.now();
    const [range, serial, snap, compact] = await Promise.all([
      etcdctl(leaderEp, ['get', 'hb/', '--prefix', '--keys-only'], { timeoutMs: 120_000 }),
      etcdctl(ep, ['get', 'hb/', '--prefix', '--keys-only', '--consistency=s'], { timeoutMs: 120_000 }),
      etcdctl(leaderEp, ['snapshot', 'save', join(cluster.root, 'hb.db')], { timeoutMs: 120_000 }),
      etcdctl(leaderEp, ['compaction', String(rev), '--physical'], { timeoutMs: 120_000 }),
    ]);
    const tookMs = Date.now() - started;
    expect(range.code, range.stderr).toBe(0);
    expect(range.stdout.split('\n').filter((l) => l.startsWith('hb/')).length).toBe(KEYS);
    expect(serial.code, serial.stderr).toBe(0);
    expect(serial.stdout.split('\n').filter((l) => l.startsWith('hb/')).length).toBe(KEYS);
    expect(snap.code, snap.stderr).toBe(0);
    expect(compact.code, compact.stderr).toBe(0);

    const after = await Promise.all(cluster.members.map((m) => cluster.metrics(m, WATCHED)));
    const lags = after.map((a) => a['nodejs_eventloop_lag_max_seconds']!);
    expect(after.map((a) => a['etcd_server_leader_changes_seen_total'])).toEqual(before.map((b) => b['etcd_server_leader_changes_seen_total']));
    expect(after.map((a) => a['etcd_server_heartbeat_send_failures_total'])).toEqual(
      before.map((b) => b['etcd_server_heartbeat_send_failures_total']),
    );
    expect((await cluster.waitLeader(10_000)).name).toBe(leader.name);
    console.log(
      `heartbeat-load: 100k-key linearizable+serializable range, snapshot, compaction took ${tookMs} ms; ` +
        `event-loop lag max per member (s): ${lags.map((l) => l.toFixed(3)).join(', ')}`,
    );
  }, 240_000);
});
