// Quorum lost for good: two of three members are gone with their data. The third restarts with
// --force-new-cluster (etcd's flag) and serves everything it had committed as a one-member
// cluster under the same cluster ID; a new member then joins it and catches up.
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Cluster, ctlOk, requireTools, waitFor } from './harness.js';

const tools = requireTools();

describe.skipIf(!tools.ok)('--force-new-cluster (real processes)', () => {
  // With a snapshot (--snapshot-count=5), the membership comes from it; without, from the log.
  it.each([
    ['from its log', []],
    ['from its snapshot', ['--snapshot-count=5', '--experimental-snapshot-catchup-entries=2']],
  ] as const)('recovers a 3-member cluster from one surviving member (%s), then grows again', async (_what, flags) => {
    const cluster = await Cluster.start({ size: 3, label: 'force-new', heartbeatMs: 50, electionMs: 500, flags });
    try {
      const [m1, m2, m3] = cluster.members as [typeof cluster.members[0], typeof cluster.members[0], typeof cluster.members[0]];
      for (let i = 0; i < 20; i++) await ctlOk(cluster.endpoints(), ['put', `k${i}`, `v${i}`]);
      const before = JSON.parse(await ctlOk(`127.0.0.1:${m1.clientPort}`, ['get', 'k', '--prefix', '-w', 'json'])) as { header: { cluster_id: number; revision: number } };
      for (const m of [m2, m3]) {
        await cluster.kill(m);
        rmSync(m.dataDir, { recursive: true, force: true });
      }
      await cluster.kill(m1, 'SIGTERM');

      cluster.launch(m1, `m1=${m1.peerUrl}`, 'new', ['--force-new-cluster']);
      await cluster.waitHealthy([m1], 30_000);
      const ep1 = `127.0.0.1:${m1.clientPort}`;
      const members = (await ctlOk(ep1, ['member', 'list'])).trim().split('\n');
      expect(members.map((l) => l.split(', ')[2])).toEqual(['m1']);
      const after = JSON.parse(await ctlOk(ep1, ['get', 'k', '--prefix', '-w', 'json'])) as { header: { cluster_id: number; revision: number }; kvs: Array<{ value: string }> };
      expect(after.header.cluster_id).toBe(before.header.cluster_id);
      expect(after.header.revision).toBe(before.header.revision);
      expect(after.kvs).toHaveLength(20);
      await ctlOk(ep1, ['put', 'after-recovery', 'yes']);

      // The cluster grows again the usual way: member add, then start the new member.
      const m4 = await cluster.newMemberSpec('m4');
      const add = await ctlOk(ep1, ['member', 'add', 'm4', `--peer-urls=${m4.peerUrl}`]);
      const initial = /ETCD_INITIAL_CLUSTER="([^"]+)"/.exec(add)![1]!;
      cluster.launch(m4, initial, 'existing');
      await cluster.waitHealthy([m4], 60_000);
      await waitFor(
        'm4 to hold the recovered keys',
        async () => ((await ctlOk(`127.0.0.1:${m4.clientPort}`, ['get', 'after-recovery', '--consistency=s', '--print-value-only'])).trim() === 'yes' ? true : undefined),
        30_000,
      );
      const onM4 = JSON.parse(await ctlOk(`127.0.0.1:${m4.clientPort}`, ['get', 'k', '--prefix', '-w', 'json', '--consistency=s'])) as { kvs: unknown[] };
      expect(onM4.kvs).toHaveLength(20);
    } catch (e) {
      cluster.printLogs(60);
      throw e;
    } finally {
      await cluster.stop();
    }
  }, 180_000);
});
