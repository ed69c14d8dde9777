// Failover with real processes: kill -9 the leader of a 3-member bin/tsetcd cluster while
// writers keep writing through every member. A new leader must appear (how long it took is
// printed, not asserted: a wall-clock bound fails on a busy machine), no acknowledged write may be lost, and the killed member, restarted from its data
// dir, must catch up, by snapshot because the leader compacted its log meanwhile
// (--snapshot-count and --experimental-snapshot-catchup-entries are set small for that).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { Cluster, requireTools, waitFor, type RunningMember, type StatusJson } from './harness.js';

const tools = requireTools();
const HEARTBEAT_MS = 50;
const ELECTION_MS = 500;

describe.skipIf(!tools.ok)('cluster failover (real processes)', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start({
      size: 3,
      label: 'failover',
      heartbeatMs: HEARTBEAT_MS,
      electionMs: ELECTION_MS,
      flags: ['--snapshot-count=200', '--experimental-snapshot-catchup-entries=50'],
    });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('elects a new leader after kill -9, loses no acknowledged write, and the restarted member catches up by snapshot', async () => {
    const clients = cluster.members.map((m) => new Etcd3({ hosts: m.clientUrl, dialTimeout: 2000 }));
    const acked = new Set<string>();
    let failed = 0;
    let stop = false;
    const deadline = Date.now() + 60_000; // hard bound on the load
    const writer = async (i: number): Promise<void> => {
      const c = clients[i]!;
      for (let n = 0; !stop && Date.now() < deadline; n++) {
        const key = `w${i}-${n}`;
        try {
          await c.put(key).value(`v-${key}`);
          acked.add(key);
        } catch {
          failed++;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const writers = [0, 1, 2].map((i) => writer(i));
    try {
      await waitFor('some writes acknowledged', async () => (acked.size >= 100 ? true : undefined), 30_000, 20);
      const leader = await cluster.waitLeader(10_000);
      const leaderStatus = (await cluster.statuses([leader]))[0]!;
      const before = leaderStatus.Status.header.revision;
      const oldLeaderId = leaderStatus.Status.header.member_id;
      const killedAt = Date.now();
      await cluster.kill(leader, 'SIGKILL');
      const survivors = cluster.running();
      // A new leader, agreed by both survivors.
      const next = await waitFor(
        'a new leader among the survivors',
        async () => {
          const st: StatusJson[] = await cluster.statuses(survivors);
          const ids = new Set(st.map((s) => s.Status.leader));
          if (ids.size !== 1 || ids.has('0') || ids.has(oldLeaderId)) return undefined;
          return [...ids][0];
        },
        30_000,
        HEARTBEAT_MS,
      );
      const electedMs = Date.now() - killedAt;
      console.log(`failover: new leader ${BigInt(next!).toString(16)} ${electedMs} ms after kill -9 (election timeout ${ELECTION_MS} ms); revision before kill ${before}`);

      // Keep writing until the log has moved well past what the killed member has.
      await waitFor(
        'the log to move past the snapshot catch-up window',
        async () => {
          const st = await cluster.statuses(survivors);
          return st.every((s) => s.Status.header.revision > before + 600) ? true : undefined;
        },
        60_000,
        100,
      );
    } finally {
      stop = true;
      await Promise.all(writers);
    }
    console.log(`failover: ${acked.size} writes acknowledged, ${failed} failed or timed out during the failover`);

    // No acknowledged write is lost: read everything back through a survivor (linearizable).
    const survivorClient = clients[cluster.members.indexOf(cluster.running()[0]!)]!;
    const all = await survivorClient.getAll().prefix('w').keys();
    const have = new Set(all);
    const lost = [...acked].filter((k) => !have.has(k));
    expect(lost).toEqual([]);

    // Restart the killed member from its data dir; it catches up (by snapshot).
    const killed = cluster.members.find((m) => !cluster.running().includes(m))! as RunningMember;
    const initial = cluster.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    cluster.launch(killed, initial, 'new');
    await cluster.waitHealthy([killed], 30_000);
    const target = (await cluster.statuses(cluster.running().filter((m) => m !== killed)))[0]!.Status.header.revision;
    await waitFor(
      'the restarted member to catch up',
      async () => {
        const st = (await cluster.statuses([killed]))[0]!;
        return st.Status.header.revision >= target ? true : undefined;
      },
      60_000,
      100,
    );
    const killedClient = new Etcd3({ hosts: killed.clientUrl, dialTimeout: 2000 });
    try {
      const mine = new Set(await killedClient.getAll().prefix('w').keys());
      expect([...acked].filter((k) => !mine.has(k))).toEqual([]);
    } finally {
      killedClient.close();
    }
    const log = readFileSync(killed.logFile, 'utf8');
    expect(log).toContain('applying snapshot');
    // The snapshot came as a stream, spooled to a file (not one Buffer), and restart said what it read.
    expect(log).toMatch(/received snapshot.*"spooled":true/);
    expect(log).toMatch(/recovered storage.*"walBytesRead":\d+/);
    for (const c of clients) c.close();
  }, 240_000);
});
