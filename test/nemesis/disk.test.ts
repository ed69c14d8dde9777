// Disk faults on real processes (bin/tsetcd in network namespaces):
// - ENOSPC for real: one member's data dir is its own 32 MiB tmpfs, filled to the last page while
//   the cluster takes writes. The member must stop by itself (as etcd's Fatal on a failed WAL
//   save), exit non-zero and name ENOSPC in its log; the others go on; nothing acknowledged is
//   lost; once there is space again it restarts from its data dir and agrees (HashKV).
// - The space quota: a cluster past --quota-backend-bytes raises the NOSPACE alarm and refuses
//   writes with etcd's error (RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded")
//   on every member, still serves reads and deletes, loses nothing acknowledged, and writes again
//   after etcd's recovery steps (delete, compact, defragment, disarm).
// Deterministic: bounded loops with no timing in the verdicts.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NemesisCluster, realProcessPrerequisites, REPO, tearDownTestCluster } from './cluster.js';
import { callError, KvClient, type CallError } from './kv-client.js';
import { NemesisNetwork } from './netns.js';
import { retry } from './run.js';

const why = await realProcessPrerequisites('the disk-fault suite');
const SPACE_EXCEEDED = 'etcdserver: mvcc: database space exceeded';
const RESOURCE_EXHAUSTED = 8;

const eventually = <T>(what: string, fn: () => Promise<T>): Promise<T> => retry(what, fn, 30_000);

describe.skipIf(why !== '')('disk faults on real processes', () => {
  let net: NemesisNetwork | undefined;
  let cluster: NemesisCluster | undefined;
  let clients: KvClient[] = [];
  let dir = '';

  async function start(name: string, extraArgs: string[] = [], disk?: { member: number; sizeMb: number }): Promise<void> {
    dir = join(REPO, '.data', `nemesis-${name}-${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    net = await NemesisNetwork.create(3);
    cluster = new NemesisCluster(net, dir, `nemesis-${name}`, { heartbeatMs: 50, electionMs: 500 }, extraArgs);
    if (disk) await cluster.mountDisks([disk.member], disk.sizeMb);
    for (let i = 0; i < 3; i++) cluster.launch(i);
    expect(await cluster.waitHealthy(60_000)).toBe(true);
    clients = cluster.members.map((m) => new KvClient(m.address, 5000));
  }

  afterEach(async () => {
    await tearDownTestCluster({ clients, cluster, net, dir });
  });

  /** Puts through `via` (another member after an error), recording what was acknowledged. */
  async function putAll(acked: Map<string, string>, prefix: string, n: number, valueBytes = 16): Promise<CallError | undefined> {
    for (let i = 0; i < n; i++) {
      const key = `${prefix}${i}`;
      const value = `${key}:`.padEnd(valueBytes, 'x');
      const out = await clients[0]!.run({ kind: 'put', key, value });
      if (out && out !== 'failed') acked.set(key, value);
    }
    return undefined;
  }

  async function expectAll(acked: ReadonlyMap<string, string>, via: KvClient): Promise<void> {
    for (const [key, value] of acked) {
      const r = await via.run({ kind: 'get', key });
      expect(r !== 'failed' && r?.value, `acknowledged ${key} on ${via.address}`).toBe(value);
    }
  }

  it('a member whose disk fills stops on ENOSPC, loses nothing acknowledged, and catches up once there is space', async () => {
    const full = 2;
    await start('enospc', [], { member: full, sizeMb: 32 });
    const disk = cluster!.disks.get(full)!;
    const acked = new Map<string, string>();
    await putAll(acked, 'd/before', 50);
    disk.fill();
    expect(disk.free()).toBe(0);
    // The member's next WAL write needs a page: writes through member 0 until it stops (bounded).
    // 1 KiB values: the WAL outgrows any slack in its last page within a few puts.
    for (let i = 0; i < 500 && cluster!.running(full); i++) await putAll(acked, `d/full${i}.`, 1, 1024);
    // A member that hit ENOSPC takes a moment to exit: wait for that (bounded), not a fixed time.
    for (let i = 0; i < 600 && cluster!.running(full); i++) await new Promise((r) => setTimeout(r, 100));
    expect(cluster!.running(full), 'the member with a full disk stopped by itself').toBe(false);
    expect(cluster!.members[full]!.proc!.exitCode).toBe(1);
    expect(cluster!.logTail(full, 200)).toMatch(/ENOSPC/);
    // The other two go on: more acknowledged writes, and every one is there.
    await putAll(acked, 'd/after', 20);
    expect(acked.size).toBeGreaterThan(70);
    await expectAll(acked, clients[1]!);

    disk.unfill();
    cluster!.launch(full);
    expect(await cluster!.waitHealthy(60_000)).toBe(true);
    const rev = await eventually('revision', () => clients[0]!.revision(false));
    await eventually(`m${full} to reach revision ${rev}`, async () => {
      if ((await clients[full]!.revision(true)) < rev) throw new Error('behind');
    });
    const hashes = await Promise.all(clients.map((c) => eventually('HashKV', () => c.hashKv(rev))));
    expect(new Set(hashes.map((h) => h.hash)).size, `HashKV at ${rev}: ${hashes.map((h) => h.hash).join(' ')}`).toBe(1);
    await expectAll(acked, clients[full]!);
  }, 240_000);

  it('past its quota the cluster raises NOSPACE, refuses writes with etcd\'s error, keeps everything, and recovers after compact, defragment and disarm', async () => {
    await start('quota', ['--quota-backend-bytes=262144']);
    const acked = new Map<string, string>();
    let refused: CallError | undefined;
    // 1 KiB values: the 256 KiB quota is passed within a few hundred puts (bounded at 2,000).
    for (let i = 0; i < 2000 && !refused; i++) {
      const key = `q/${i}`;
      const value = `${key}:`.padEnd(1024, 'x');
      try {
        await clients[0]!.putWithLease(key, value, '0');
        acked.set(key, value);
      } catch (e) {
        const err = callError(e);
        if (err.details === SPACE_EXCEEDED || err.code === RESOURCE_EXHAUSTED) refused = err;
      }
    }
    expect(refused, 'a put was refused for space').toEqual({ code: RESOURCE_EXHAUSTED, details: SPACE_EXCEEDED });
    for (const c of clients) {
      // The refusal proposes the alarm (as etcd does, after answering): it shows up on every member.
      const alarms = await eventually(`NOSPACE on ${c.address}`, async () => {
        const a = await c.alarms();
        if (!a.some((x) => x.alarm === 'NOSPACE')) throw new Error(`alarms: ${JSON.stringify(a)}`);
        return a;
      });
      expect(new Set(alarms.map((a) => a.alarm))).toEqual(new Set(['NOSPACE']));
      const err = await c.putWithLease('q/refused', 'x', '0').then(() => undefined, callError);
      expect(err, `a put through ${c.address} under NOSPACE`).toEqual({ code: RESOURCE_EXHAUSTED, details: SPACE_EXCEEDED });
    }
    await expectAll(acked, clients[2]!);
    // etcd's way out: free space (deletes are allowed under NOSPACE), compact, defragment, disarm.
    for (const key of [...acked.keys()].slice(0, Math.floor(acked.size * 0.8))) {
      const r = await clients[0]!.run({ kind: 'del', key });
      expect(r && r !== 'failed' && r.deleted, `delete ${key} under NOSPACE`).toBe(1);
      acked.delete(key);
    }
    await clients[0]!.compact(await clients[0]!.revision(false));
    for (const c of clients) await c.defragment();
    for (const a of await clients[0]!.alarms()) await clients[0]!.alarmDisarm(a);
    expect(await clients[1]!.alarms()).toEqual([]);
    await clients[1]!.putWithLease('q/after', 'accepted again', '0');
    acked.set('q/after', 'accepted again');
    await expectAll(acked, clients[2]!);
  }, 240_000);
});
