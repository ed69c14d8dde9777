// Acceptance (issue 5): a 3-member tsetcd cluster of real bin/tsetcd processes on loopback,
// driven by Debian's etcdctl 3.4 and by the npm etcd3 client, unchanged.
// One cluster for the whole file (2 shared cores); the membership cases run last.

import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GatewayMemberApi } from '../../operator/members/gateway-member-api.js';
import { Cluster, ETCDCTL, ctlOk, etcdctl, requireTools, waitFor } from './harness.js';

const tools = requireTools();
const d = tools.ok ? describe.sequential : describe.skip;

let cluster: Cluster;
let ep: string;

d('tsetcd 3-member cluster driven by etcdctl 3.4 and etcd3', () => {
  beforeAll(async () => {
    cluster = await Cluster.start({ size: 3, label: 'etcdctl' });
    ep = cluster.endpoints();
  }, 90_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') cluster?.printLogs();
  });

  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  const ctl = (...args: string[]): Promise<string> => ctlOk(ep, args);

  it('keys: put, get (prefix, limit, rev, keys-only, print-value-only), del (prefix, prev-kv)', async () => {
    expect(await ctl('put', 'a/1', 'one')).toBe('OK\n');
    const r = JSON.parse(await ctl('put', 'a/2', 'two', '-w', 'json')) as { header: { revision: number } };
    await ctl('put', 'a/2', 'TWO');
    await ctl('put', 'b', 'bee');
    expect(await ctl('get', 'a/', '--prefix')).toBe('a/1\none\na/2\nTWO\n');
    expect(await ctl('get', 'a/', '--prefix', '--limit=1')).toBe('a/1\none\n');
    expect(await ctl('get', 'a/2', `--rev=${r.header.revision}`)).toBe('a/2\ntwo\n');
    expect(await ctl('get', 'a/', '--prefix', '--keys-only')).toBe('a/1\n\na/2\n\n');
    expect(await ctl('get', 'b', '--print-value-only')).toBe('bee\n');
    // Every member answers the same (writes via a follower are forwarded).
    for (const m of cluster.members) expect(await ctlOk(`127.0.0.1:${m.clientPort}`, ['get', 'b', '--print-value-only'])).toBe('bee\n');
    expect(await ctl('del', 'a/', '--prefix', '--prev-kv')).toBe('2\na/1\none\na/2\nTWO\n');
    expect(await ctl('get', 'a/', '--prefix')).toBe('');
  });

  it('txn with interactive input on stdin', async () => {
    await ctl('put', 'tx', 'v1');
    const ok = await ctlOk(ep, ['txn'], { stdin: 'value("tx") = "v1"\n\nput tx v2\nget tx\n\nput tx nope\n\n' });
    expect(ok).toBe('SUCCESS\n\nOK\n\ntx\nv2\n');
    const no = await ctlOk(ep, ['txn'], { stdin: 'value("tx") = "v1"\n\nput tx v3\n\nput tx other\n\n' });
    expect(no).toBe('FAILURE\n\nOK\n');
    expect(await ctl('get', 'tx', '--print-value-only')).toBe('other\n');
  });

  it('a read-only txn is served without the log (etcd IsTxnReadonly): a follower sees what the leader acknowledged, and no member applies it', async () => {
    const leader = await cluster.waitLeader(30_000);
    const follower = cluster.running().find((m) => m !== leader)!;
    const lep = `127.0.0.1:${leader.clientPort}`;
    const fep = `127.0.0.1:${follower.clientPort}`;
    // Txns applied, summed over the members (etcd_server_apply_duration_seconds counts each applied
    // request by op). Not the raft index: an election on a busy machine adds an entry of its own.
    const txnsApplied = async (): Promise<number> => {
      let n = 0;
      for (const m of cluster.running()) {
        const text = await (await fetch(`${m.metricsUrl}/metrics`)).text();
        for (const x of text.matchAll(/^etcd_server_apply_duration_seconds_count\{[^}]*op="Txn"[^}]*\} (\d+)$/gm)) n += Number(x[1]);
      }
      return n;
    };
    // A txn that writes is applied by every member: the count is read, and it moves.
    const start = await txnsApplied();
    expect(await ctlOk(lep, ['txn'], { stdin: '\nput ro v1\n\n\n' })).toBe('SUCCESS\n\nOK\n');
    await waitFor('every member applied the first write txn', async () => ((await txnsApplied()) === start + 3 ? true : undefined), 30_000, 50);
    const before = start + 3;
    for (let i = 0; i < 5; i++) expect(await ctlOk(fep, ['txn'], { stdin: 'value("ro") = "v1"\n\nget ro\n\nget nothing\n\n' })).toBe('SUCCESS\n\nro\nv1\n');
    // Linearizable: each write the leader acknowledged is what the follower's next read-only txn reads.
    for (let i = 2; i <= 4; i++) {
      await ctlOk(lep, ['put', 'ro', `v${i}`]);
      expect(await ctlOk(fep, ['txn'], { stdin: `value("ro") = "v${i}"\n\nget ro\n\nget nothing\n\n` })).toBe(`SUCCESS\n\nro\nv${i}\n`);
    }
    const client = new Etcd3({ hosts: [follower.clientUrl] });
    try {
      const r = await client.if('ro', 'Value', '==', 'v4').then(client.get('ro')).else(client.get('nothing')).commit();
      expect(r.succeeded).toBe(true);
      expect(r.responses[0]!.response_range.kvs.map((kv) => kv.value.toString())).toEqual(['v4']);
    } finally {
      client.close();
    }
    expect(await txnsApplied()).toBe(before);
  });

  it('watch (prefix, rev, prev-kv) sees a concurrent writer', async () => {
    const start = JSON.parse(await ctl('put', 'w/0', 'zero', '-w', 'json')) as { header: { revision: number } };
    const watcher = spawn(ETCDCTL, [`--endpoints=${ep}`, 'watch', 'w/', '--prefix', '--prev-kv', `--rev=${start.header.revision}`], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    let out = '';
    watcher.stdout.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await ctl('put', 'w/1', 'a');
      await ctl('put', 'w/1', 'b');
      await ctl('put', 'x', 'ignored');
      await ctl('del', 'w/1');
      const expected = 'PUT\nw/0\nzero\nPUT\nw/1\na\nPUT\nw/1\na\nw/1\nb\nDELETE\nw/1\nb\nw/1\n\n';
      await waitFor('watch output', async () => (out.length >= expected.length ? true : undefined), 15_000);
      // prev-kv lines: etcdctl prints the previous kv before the new one.
      expect(out).toBe('PUT\nw/0\nzero\nPUT\nw/1\na\nPUT\nw/1\na\nw/1\nb\nDELETE\nw/1\nb\nw/1\n\n');
    } finally {
      watcher.kill('SIGKILL');
    }
  });

  it('leases: grant, keep-alive --once, timetolive --keys, revoke; a key expires with its lease', async () => {
    const grant = await ctl('lease', 'grant', '30');
    const id = /lease ([0-9a-f]+) granted with TTL\(30s\)/.exec(grant)?.[1];
    expect(id, grant).toBeDefined();
    await ctl('put', 'leased', 'v', `--lease=${id}`);
    expect(await ctl('lease', 'keep-alive', '--once', id!)).toMatch(new RegExp(`lease ${id} keepalived with TTL\\(30\\)`));
    const ttl = await ctl('lease', 'timetolive', '--keys', id!);
    expect(ttl).toMatch(new RegExp(`lease ${id} granted with TTL\\(30s\\), remaining\\(\\d+s\\), attached keys\\(\\[leased\\]\\)`));
    expect(await ctl('lease', 'revoke', id!)).toBe(`lease ${id} revoked\n`);
    expect(await ctl('get', 'leased')).toBe('');

    const short = /lease ([0-9a-f]+) granted/.exec(await ctl('lease', 'grant', '2'))?.[1];
    await ctl('put', 'expiring', 'v', `--lease=${short}`);
    expect(await ctl('get', 'expiring', '--print-value-only')).toBe('v\n');
    await waitFor('the leased key to expire', async () => ((await ctl('get', 'expiring')) === '' ? true : undefined), 15_000, 250);
    expect(await ctl('lease', 'timetolive', short!)).toMatch(/already expired/);
  });

  it('compaction, then a read of the old revision fails with etcd message', async () => {
    const old = JSON.parse(await ctl('put', 'c', '1', '-w', 'json')) as { header: { revision: number } };
    const now = JSON.parse(await ctl('put', 'c', '2', '-w', 'json')) as { header: { revision: number } };
    expect(await ctl('compaction', String(now.header.revision))).toBe(`compacted revision ${now.header.revision}\n`);
    const r = await etcdctl(ep, ['get', 'c', `--rev=${old.header.revision}`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('etcdserver: mvcc: required revision has been compacted');
  });

  it('maintenance: endpoint status shows the leader, endpoint health, alarm list, defrag, snapshot save', async () => {
    const table = await ctl('endpoint', 'status', '-w', 'table');
    expect(table).toContain('3.5.17');
    const st = await cluster.statuses();
    expect(st.length).toBe(3);
    expect(st.filter((s) => s.Status.leader === s.Status.header.member_id).length).toBe(1);
    const health = await etcdctl(ep, ['endpoint', 'health']);
    expect(health.code).toBe(0);
    expect((health.stdout + health.stderr).match(/is healthy/g)?.length).toBe(3);
    expect(await ctl('alarm', 'list')).toBe('');
    // Every member holds the same keys: endpoint hashkv agrees once they have applied the same revision.
    await waitFor(
      'equal HashKV on every member',
      async () => {
        const hs = JSON.parse(await ctl('endpoint', 'hashkv', '-w', 'json')) as Array<{ HashKV: { hash: number; header: { revision: number } } }>;
        return hs.length === 3 && new Set(hs.map((h) => `${h.HashKV.header.revision}/${h.HashKV.hash}`)).size === 1 ? true : undefined;
      },
      10_000,
      200,
    );
    expect(await ctl('defrag')).toMatch(/Finished defragmenting etcd member/);
    const file = join(cluster.root, 'snap.db');
    const leader = await cluster.waitLeader(10_000);
    const save = await etcdctl(`127.0.0.1:${leader.clientPort}`, ['snapshot', 'save', file], { timeoutMs: 60_000 });
    expect(save.code, save.stderr).toBe(0);
    expect(save.stdout + save.stderr).toContain(`Snapshot saved at ${file}`);
    expect(statSync(file).size % 512).toBe(32);
  });

  it('move-leader hands leadership to a follower', async () => {
    const leader = await cluster.waitLeader(10_000);
    const st = await cluster.statuses();
    const follower = st.find((s) => s.Status.header.member_id !== s.Status.leader)!;
    const target = BigInt(follower.Status.header.member_id).toString(16);
    const out = await ctlOk(`127.0.0.1:${leader.clientPort}`, ['move-leader', target]);
    expect(out).toContain(`Leadership transferred from`);
    const now = await cluster.waitLeader(10_000);
    expect(`127.0.0.1:${now.clientPort}`).toBe(follower.Endpoint);
  });

  it('the npm etcd3 client: put and get, a watch, a lease with keep-alive, a lock and an STM', async () => {
    const client = new Etcd3({ hosts: cluster.running().map((m) => m.clientUrl) });
    try {
      await client.put('e3/a').value('1');
      expect(await client.get('e3/a').string()).toBe('1');
      const w = await client.watch().prefix('e3/').create();
      const seen: string[] = [];
      w.on('put', (kv) => seen.push(`${kv.key.toString()}=${kv.value.toString()}`));
      await client.put('e3/b').value('2');
      await waitFor('etcd3 watch event', async () => (seen.length > 0 ? true : undefined), 10_000, 20);
      expect(seen[0]).toBe('e3/b=2');
      await w.cancel();

      const lease = client.lease(3);
      await lease.put('e3/leased').value('x');
      // Longer than the TTL: the automatic keep-alive must hold it.
      const end = Date.now() + 4500;
      while (Date.now() < end) await new Promise((r) => setTimeout(r, 250));
      expect(await client.get('e3/leased').string()).toBe('x');
      await lease.revoke();

      // etcd3's lock is a try-lock over a txn (create_revision == 0): a second taker fails while held.
      await client.lock('e3/lock').do(async () => {
        await expect(client.lock('e3/lock').acquire()).rejects.toThrow(/Failed to acquire a lock/);
      });
      // Concurrent STM transactions over txn: conflicts retry, no increment is lost.
      await client.put('e3/n').value('0');
      await Promise.all(
        [1, 2, 3].map(() =>
          client.stm({ retries: 20 }).transact(async (tx) => {
            const n = Number(await tx.get('e3/n').string());
            await tx.put('e3/n').value(String(n + 1));
          }),
        ),
      );
      expect(await client.get('e3/n').string()).toBe('3');
    } finally {
      client.close();
    }
  });

  it("the operator's MemberApi (JSON gateway) reads members and status, and gets etcd's error texts", async () => {
    const api = new GatewayMemberApi({ requestTimeoutMs: 5000 });
    const urls = cluster.running().map((m) => m.clientUrl);
    const list = await api.list(urls);
    expect(list.members.length).toBe(3);
    const statuses = await Promise.all(urls.map((u) => api.status(u)));
    expect(new Set(statuses.map((st) => st.leaderID)).size).toBe(1);
    expect(statuses.every((st) => st.version === '3.5.17' && st.clusterID === list.clusterID)).toBe(true);
    await expect(api.remove(urls, '12345')).rejects.toMatchObject({ code: 'NotFound', message: 'etcdserver: member not found' });
    await expect(api.promote(urls, list.members[0]!.id)).rejects.toMatchObject({
      message: 'etcdserver: can only promote a learner member',
    });
  });

  it('members: list, add a learner, start it, promote it, remove it', async () => {
    // Members publish their client URLs shortly after they start, as etcd's do.
    const listed = (re: RegExp): Promise<string> =>
      waitFor(`member list matching ${re}`, async () => {
        const out = await ctl('member', 'list');
        return re.test(out) ? out : undefined;
      }, 20_000, 200);
    const list = await listed(/started, m1, http:\/\/127\.0\.0\.1:\d+, http:\/\/127\.0\.0\.1:\d+, false/);
    expect(list.trim().split('\n').length).toBe(3);

    const m4 = await cluster.newMemberSpec('m4');
    const add = await ctl('member', 'add', 'm4', `--peer-urls=${m4.peerUrl}`, '--learner');
    // etcdctl pads the ids (%16x).
    expect(add).toMatch(/Member\s+[0-9a-f]+ added to cluster\s+[0-9a-f]+/);
    const id = /Member\s+([0-9a-f]+) added/.exec(add)![1]!;
    const initial = /ETCD_INITIAL_CLUSTER="([^"]+)"/.exec(add)![1]!;
    expect(/ETCD_INITIAL_CLUSTER_STATE="existing"/.test(add)).toBe(true);
    cluster.launch(m4, initial, 'existing');
    await cluster.waitHealthy([m4], 60_000);
    await listed(new RegExp(`${id}, started, m4, ${m4.peerUrl}, ${m4.clientUrl}, true`));

    // A learner refuses writes, as etcd's do.
    const w = await etcdctl(`127.0.0.1:${m4.clientPort}`, ['put', 'learner-write', 'x']);
    expect(w.stderr).toContain('etcdserver: rpc not supported for learner');

    await waitFor(
      'the learner to be promoted',
      async () => {
        const r = await etcdctl(ep, ['member', 'promote', id]);
        if (r.code === 0) return r.stdout;
        if (r.stderr.includes('can only promote a learner member which is in sync with leader')) return undefined;
        throw new Error(r.stderr);
      },
      30_000,
      500,
    );
    await listed(new RegExp(`${id}, started, m4, ${m4.peerUrl}, ${m4.clientUrl}, false`));

    expect(await ctl('member', 'remove', id)).toMatch(new RegExp(`Member\\s+${id} removed from cluster`));
    const after = await ctl('member', 'list');
    expect(after).not.toContain(id);
    expect(after.trim().split('\n').length).toBe(3);
    await cluster.kill(m4, 'SIGTERM');
  });
});
