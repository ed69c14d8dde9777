// Snapshots in etcd's own format, both ways, with real etcd 3.6 binaries (issue 11):
// (a) a 3-member tsetcd cluster → `etcdctl snapshot save` → etcdutl 3.6 `snapshot status` and
//     `snapshot restore` → a real etcd 3.6 on the restored dir serves the same keys, values,
//     create/mod revisions, versions, leases, current and compacted revision;
// (b) that etcd, with more writes of its own (a lease with a 63-bit id among them) →
//     `etcdctl snapshot save` → `tsetcd snapshot restore` for 3 members → the new tsetcd cluster
//     serves the same.
// etcd and etcdutl are built by hack/ensure-etcd36.sh (a prerequisite of `make test`) into
// .cache/etcd36/<version>/; without them the suite skips locally and fails under CI.
// The data is random from a printed seed.

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { TestRng } from '../../node/mvcc/testing/rng.js';
import { ETCD, ETCDUTL, printLog, run, start, stopProc, waitHealthy, type Proc } from './etcd36.js';
import { Cluster, REPO, TSETCD_BIN, ctlOk, etcdctl, freePorts, haveEtcd36, requireTools } from './harness.js';

const tools = requireTools();
const d = tools.ok && haveEtcd36(['etcd', 'etcdutl'], 'the snapshot interoperability tests') ? describe.sequential : describe.skip;

const SEED = Number(process.env['SNAPSHOT_SEED'] ?? Date.now() % 100_000);


interface RangeJson {
  header: { revision: number };
  kvs?: Array<{ key: string; value?: string; create_revision: number; mod_revision: number; version: number; lease?: number }>;
}

/** The whole keyspace at a revision (0 = now), as comparable lines; leases as given, or only whether set. */
async function fullRange(ep: string, rev: number, leaseIds: 'exact' | 'presence'): Promise<{ revision: number; lines: string[] }> {
  const out = await ctlOk(ep, ['get', '', '--from-key', '-w', 'json', ...(rev > 0 ? [`--rev=${rev}`] : [])], { timeoutMs: 60_000 });
  const r = JSON.parse(out) as RangeJson;
  const lines = (r.kvs ?? []).map((kv) =>
    [kv.key, kv.value ?? '', kv.create_revision, kv.mod_revision, kv.version, leaseIds === 'exact' ? String(kv.lease ?? 0) : kv.lease ? 'leased' : '-'].join(' '),
  );
  return { revision: r.header.revision, lines };
}

d('snapshots in etcd format: tsetcd ⇄ etcd 3.6', () => {
  let cluster: Cluster | undefined;
  let etcd: Proc | undefined;
  const tsetcds: Proc[] = [];
  const root = join(REPO, '.data', `it-snapshot-${process.pid}-${Date.now()}`);
  mkdirSync(root, { recursive: true });
  // Shared by (a) and (b).
  let etcdEp = '';
  let compactedAt = 0;

  afterAll(async () => {
    await cluster?.stop();
    if (etcd) await stopProc(etcd);
    for (const t of tsetcds) await stopProc(t);
    if (!process.env['KEEP_DATA']) rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it('(a) tsetcd → etcdctl snapshot save → etcdutl status and restore → etcd 3.6 serves the same', async () => {
    console.log(`snapshot interoperability seed ${SEED} (SNAPSHOT_SEED=${SEED} repeats it)`);
    const rng = new TestRng(SEED);
    const rand = (): number => rng.next();
    cluster = await Cluster.start({ size: 3, label: 'snapshot' });
    const ep = cluster.endpoints();
    const client = new Etcd3({ hosts: cluster.members.map((m) => m.clientUrl) });
    try {
      const lease = client.lease(600, { autoKeepAlive: false });
      const leaseId = await lease.grant();
      for (let i = 0; i < 400; i++) {
        const k = `key/${Math.floor(rand() * 120)}`;
        const x = rand();
        if (x < 0.75) await client.put(k).value(Buffer.alloc(Math.floor(rand() * 300), String(i)));
        else if (x < 0.85) await lease.put(`leased/${i % 7}`).value(`l${i}`);
        else await client.delete().key(k);
        if (i === 250) {
          const now = JSON.parse(await ctlOk(ep, ['get', 'nothing', '-w', 'json'])) as RangeJson;
          compactedAt = now.header.revision - 40;
          await ctlOk(ep, ['compaction', String(compactedAt)]);
        }
      }
      await client.put('big').value(Buffer.alloc(20_000, 'b')); // an overflow page
      expect(leaseId).not.toBe('');
    } finally {
      client.close();
    }
    const leader = await cluster.waitLeader(10_000);
    const file = join(root, 'from-tsetcd.db');
    const save = await etcdctl(`127.0.0.1:${leader.clientPort}`, ['snapshot', 'save', file], { timeoutMs: 60_000 });
    expect(save.code, save.stderr).toBe(0);
    const want = await fullRange(ep, 0, 'exact');
    const history = await fullRange(ep, compactedAt + 5, 'exact');
    const leasesWant = await ctlOk(ep, ['lease', 'list']);

    const status = await run(ETCDUTL, ['snapshot', 'status', file, '-w', 'json']);
    expect(status.code, status.stderr).toBe(0);
    const st = JSON.parse(status.stdout) as { hash: number; revision: number; totalKey: number; totalSize: number; version: string };
    console.log(`etcdutl snapshot status: ${status.stdout.trim()}`);
    expect(st.revision).toBe(want.revision);
    expect(st.totalKey).toBe(want.lines.length);
    expect(st.version).toBe('3.6.0');

    const [cp, pp] = await freePorts(2);
    const dataDir = join(root, 'etcd');
    const peerUrl = `http://127.0.0.1:${pp}`;
    const clientUrl = `http://127.0.0.1:${cp}`;
    const restore = await run(ETCDUTL, ['snapshot', 'restore', file, `--data-dir=${dataDir}`, '--name=e1', `--initial-cluster=e1=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`]);
    expect(restore.code, restore.stderr).toBe(0);
    etcd = start(
      'etcd',
      ETCD,
      [`--name=e1`, `--data-dir=${dataDir}`, `--listen-client-urls=${clientUrl}`, `--advertise-client-urls=${clientUrl}`, `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`, `--initial-cluster=e1=${peerUrl}`],
      join(root, 'etcd.log'),
      clientUrl,
    );
    try {
      await waitHealthy(etcd, 30_000);
      etcdEp = `127.0.0.1:${cp}`;
      const got = await fullRange(etcdEp, 0, 'exact');
      expect(got.revision).toBe(want.revision);
      expect(got.lines).toEqual(want.lines);
      expect((await fullRange(etcdEp, compactedAt + 5, 'exact')).lines).toEqual(history.lines);
      expect(await ctlOk(etcdEp, ['lease', 'list'])).toBe(leasesWant);
      const old = await etcdctl(etcdEp, ['get', 'key/1', `--rev=${compactedAt - 1}`]);
      expect(old.stderr).toContain('required revision has been compacted');
      console.log(`(a) etcd 3.6 serves ${got.lines.length} keys at revision ${got.revision} as tsetcd did; history at ${compactedAt + 5} (${history.lines.length} keys) and compaction at ${compactedAt} match`);
    } catch (e) {
      printLog(etcd);
      cluster.printLogs();
      throw e;
    }
    await cluster.stop();
    cluster = undefined;
  }, 240_000);

  it('(b) etcd 3.6 → etcdctl snapshot save → tsetcd snapshot restore → a 3-member tsetcd serves the same', async () => {
    expect(etcdEp, 'needs the etcd from (a)').not.toBe('');
    const rng = new TestRng(SEED + 1);
    const rand = (): number => rng.next();
    // etcd's own writes: a lease with etcd's 63-bit id, overwrites, deletes, a txn, a compaction.
    const grant = await ctlOk(etcdEp, ['lease', 'grant', '900']);
    const etcdLease = /lease ([0-9a-f]+) granted/.exec(grant)![1]!;
    for (let i = 0; i < 60; i++) {
      const k = `etcd/${Math.floor(rand() * 20)}`;
      if (rand() < 0.8) await ctlOk(etcdEp, ['put', k, `v${i}`, ...(i % 9 === 0 ? [`--lease=${etcdLease}`] : [])]);
      else await ctlOk(etcdEp, ['del', k]);
    }
    const now = JSON.parse(await ctlOk(etcdEp, ['get', 'nothing', '-w', 'json'])) as RangeJson;
    const compactAt = now.header.revision - 10;
    await ctlOk(etcdEp, ['compaction', String(compactAt)]);
    await ctlOk(etcdEp, ['put', 'after-compaction', 'x']);
    const file = join(root, 'from-etcd.db');
    const save = await etcdctl(etcdEp, ['snapshot', 'save', file], { timeoutMs: 60_000 });
    expect(save.code, save.stderr).toBe(0);
    const want = await fullRange(etcdEp, 0, 'presence');
    const history = await fullRange(etcdEp, compactAt + 3, 'presence');
    const leaseCount = (await ctlOk(etcdEp, ['lease', 'list'])).split('\n')[0];

    const ports = await freePorts(9);
    const names = ['t1', 't2', 't3'];
    const peer = (i: number): string => `http://127.0.0.1:${ports[i * 3 + 1]}`;
    const initial = names.map((n, i) => `${n}=${peer(i)}`).join(',');
    const token = `restored-${SEED}`;
    for (let i = 0; i < 3; i++) {
      const common = [`--name=${names[i]}`, `--data-dir=${join(root, names[i]!)}`, `--initial-cluster=${initial}`, `--initial-cluster-token=${token}`, `--initial-advertise-peer-urls=${peer(i)}`];
      const r = await run(TSETCD_BIN, ['snapshot', 'restore', file, ...common]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`revision ${want.revision}, compacted ${compactAt}`);
      if (i === 0) console.log(`tsetcd snapshot restore: ${r.stdout.trim()}`);
      const clientUrl = `http://127.0.0.1:${ports[i * 3]}`;
      tsetcds.push(
        start(
          names[i]!,
          TSETCD_BIN,
          [...common, `--listen-client-urls=${clientUrl}`, `--advertise-client-urls=${clientUrl}`, `--listen-peer-urls=${peer(i)}`, `--listen-metrics-urls=http://127.0.0.1:${ports[i * 3 + 2]}`, '--heartbeat-interval=100', '--election-timeout=1000'],
          join(root, `${names[i]}.log`),
          clientUrl,
        ),
      );
    }
    try {
      for (const t of tsetcds) await waitHealthy(t, 30_000);
      for (const t of tsetcds) {
        const tep = t.clientUrl.replace('http://', '');
        const got = await fullRange(tep, 0, 'presence');
        expect(got.revision, t.name).toBe(want.revision);
        expect(got.lines, t.name).toEqual(want.lines);
        expect((await fullRange(tep, compactAt + 3, 'presence')).lines, t.name).toEqual(history.lines);
        const old = await etcdctl(tep, ['get', 'etcd/1', `--rev=${compactAt - 1}`]);
        expect(old.stderr).toContain('required revision has been compacted');
        expect((await ctlOk(tep, ['lease', 'list'])).split('\n')[0]).toBe(leaseCount);
      }
      // The restored cluster takes writes, and its revisions continue from etcd's.
      const put = JSON.parse(await ctlOk(tsetcds.map((t) => t.clientUrl.replace('http://', '')).join(','), ['put', 'on-tsetcd', 'y', '-w', 'json'])) as RangeJson;
      expect(put.header.revision).toBe(want.revision + 1);
      console.log(`(b) 3 tsetcd members restored from etcd serve ${want.lines.length} keys at revision ${want.revision}; history at ${compactAt + 3} (${history.lines.length} keys) and compaction at ${compactAt} match`);
    } catch (e) {
      for (const t of tsetcds) printLog(t);
      throw e;
    }
  }, 240_000);
});
