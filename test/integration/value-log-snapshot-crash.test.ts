// Snapshots that name value-log offsets (node/storage/value-log.ts, kept mode) under kill -9, with
// real member processes (issue 11). A member's own snapshot file names where its values are instead
// of carrying them, and the value log is kept across restarts, cut back to the snapshot's end.
// 1. One member: kill -9 right after a snapshot is saved, right after a Defragment returns, and
//    right after the first snapshot that follows a Defragment; after each restart every
//    acknowledged put reads back byte for byte, and the restart did not write the values again
//    (the log did not grow by the state).
// 2. Three members: a follower stopped while the others write and compact their raft log gets
//    a snapshot from the leader on restart, which must carry the values (the leader expands its
//    own file); the follower's values and HashKV equal the leader's.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import { TestRng } from '../../node/mvcc/testing/rng.js';
import { Cluster, ctlOk, requireTools, waitFor, type RunningMember } from './harness.js';

const tools = requireTools();
const SEED = Number(process.env['SEED'] ?? 12);

function bytes(rng: TestRng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

function vlogBytes(m: RunningMember): number {
  const dir = join(m.dataDir, 'member', 'vlog');
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

function logCount(m: RunningMember, what: string): number {
  return readFileSync(m.logFile, 'utf8').split(what).length - 1;
}

async function checkAll(m: RunningMember, acked: ReadonlyMap<string, Buffer>, what: string): Promise<void> {
  const check = new Etcd3({ hosts: m.clientUrl });
  try {
    for (const [k, v] of acked) {
      const got = await check.get(k).buffer();
      expect(got?.equals(v), `seed ${SEED} ${what}: ${k} (${v.length} bytes)`).toBe(true);
    }
  } finally {
    check.close();
  }
}

describe.skipIf(!tools.ok)('snapshots that name value-log offsets, under kill -9 (real members)', () => {
  let cluster: Cluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it(`every acknowledged put reads back after kill -9 right after a snapshot and a Defragment (seed ${SEED})`, async () => {
    console.log(`value-log snapshot crash test: seed ${SEED} (SEED=n to repeat)`);
    const rng = new TestRng(SEED);
    cluster = await Cluster.start({ size: 1, label: 'vlog-snap-crash', flags: ['--snapshot-count=30'] });
    const c = cluster;
    const m = c.members[0]!;
    const acked = new Map<string, Buffer>();
    const restart = async (what: string, rightAfterSnapshot: boolean): Promise<void> => {
      await c.kill(m, 'SIGKILL');
      const before = vlogBytes(m);
      c.launch(m, `${m.name}=${m.peerUrl}`, 'existing');
      await c.waitHealthy([m], 60_000);
      await c.waitLeader(30_000);
      await checkAll(m, acked, what);
      if (!rightAfterSnapshot) return;
      // Kept, not rewritten: the restart appends only what WAL replay brings after the snapshot.
      const state = [...acked.values()].reduce((n, v) => n + v.length, 0);
      expect(vlogBytes(m) - before, `seed ${SEED} ${what}: the restart wrote the values again`).toBeLessThan(state / 2);
    };
    const put = async (client: Etcd3, n: number, prefix: string): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const k = `${prefix}/k${rng.int(40)}`;
        const v = bytes(rng, rng.chance(0.05) ? 1_200_000 : 1 + rng.int(60_000));
        await client.put(k).value(v);
        acked.set(k, v);
      }
    };
    /** Puts fresh keys until a snapshot is saved, then kill -9 at once. */
    const killRightAfterSnapshot = async (prefix: string): Promise<void> => {
      const client = new Etcd3({ hosts: m.clientUrl });
      try {
        const saved = logCount(m, 'saved snapshot');
        let stop = false;
        const more = (async () => {
          // Fresh keys: a put cut off by the kill is not acknowledged and may or may not be there.
          for (let i = 0; !stop; i++) {
            const k = `${prefix}/u${i}`;
            const v = bytes(rng, 1 + rng.int(30_000));
            await client.put(k).value(v);
            if (!stop) acked.set(k, v);
          }
        })().catch(() => undefined);
        await waitFor('a snapshot saved', async () => (logCount(m, 'saved snapshot') > saved ? true : undefined), 60_000, 5);
        stop = true;
        await c.kill(m, 'SIGKILL');
        await more;
      } finally {
        client.close();
      }
    };
    for (let round = 0; round < 3; round++) {
      let client = new Etcd3({ hosts: m.clientUrl });
      try {
        await put(client, 20, `r${round}`);
      } finally {
        client.close();
      }
      // (1) right after a snapshot.
      await killRightAfterSnapshot(`r${round}a`);
      await restart(`round ${round}, after a snapshot`, true);

      // (2) right after a Defragment (compacted first: it moves values and retires segments).
      client = new Etcd3({ hosts: m.clientUrl });
      try {
        await put(client, 10, `r${round}`);
        const rev = Number((await client.get('x').exec()).header.revision);
        await ctlOk(m.clientUrl, ['compact', String(rev), '--physical']);
        await ctlOk(m.clientUrl, ['defrag'], { timeoutMs: 60_000 });
      } finally {
        client.close();
      }
      await restart(`round ${round}, after a Defragment`, false);

      // (3) right after the first snapshot that follows a Defragment.
      client = new Etcd3({ hosts: m.clientUrl });
      try {
        await put(client, 10, `r${round}`);
        const rev = Number((await client.get('x').exec()).header.revision);
        await ctlOk(m.clientUrl, ['compact', String(rev), '--physical']);
        await ctlOk(m.clientUrl, ['defrag'], { timeoutMs: 60_000 });
      } finally {
        client.close();
      }
      await killRightAfterSnapshot(`r${round}c`);
      await restart(`round ${round}, after a snapshot that follows a Defragment`, true);
    }
  }, 300_000);

  it('a follower behind the leader\'s compacted log gets the values in the snapshot it is sent', async () => {
    const rng = new TestRng(SEED + 1);
    cluster = await Cluster.start({ size: 3, label: 'vlog-snap-send', flags: ['--snapshot-count=20', '--experimental-snapshot-catchup-entries=5'] });
    const c = cluster;
    const leader = await c.waitLeader(30_000);
    const follower = c.members.find((x) => x !== leader)!;
    await c.kill(follower, 'SIGKILL');
    const acked = new Map<string, Buffer>();
    const client = new Etcd3({ hosts: leader.clientUrl });
    try {
      for (let i = 0; i < 120; i++) {
        const k = `k${rng.int(50)}`;
        const v = bytes(rng, 1 + rng.int(40_000));
        await client.put(k).value(v);
        acked.set(k, v);
      }
    } finally {
      client.close();
    }
    const applied = logCount(follower, 'applied snapshot');
    c.launch(follower, c.members.map((x) => `${x.name}=${x.peerUrl}`).join(','), 'existing');
    await c.waitHealthy([follower], 60_000);
    await waitFor('the follower applied a snapshot from the leader', async () => (logCount(follower, 'applied snapshot') > applied ? true : undefined), 60_000);
    const hash = async (m: RunningMember): Promise<string> => JSON.parse(await ctlOk(m.clientUrl, ['endpoint', 'hashkv', '-w', 'json']))[0].HashKV.hash;
    await waitFor('equal HashKV', async () => ((await hash(follower)) === (await hash(leader)) ? true : undefined), 30_000);
    await checkAll(follower, acked, 'follower after a snapshot from the leader');
  }, 180_000);
});
