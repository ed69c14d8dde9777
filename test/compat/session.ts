// The scripted session of the differential test. Both systems run it in this order from a fresh
// cluster, so revisions line up; each step returns one observation. Steps that need a lease use
// the system's own lease ID (Target.lease), and the normalizer names it on both sides.

import type { Observation } from './normalize.js';
import type { Target } from './target.js';

export interface Step {
  readonly name: string;
  /** The answer grants a lease whose ID the server chose: the test names it (lease1, ...) on each side. */
  readonly grantsLease?: boolean;
  run(t: Target): Promise<Observation>;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const steps: Step[] = [];
const ctl = (name: string, args: readonly string[] | ((t: Target) => readonly string[]), stdin?: string, opts: { unordered?: boolean } = {}): void => {
  steps.push({
    name: `etcdctl ${name}`,
    grantsLease: name.startsWith('lease grant'),
    run: async (t) => ({ ...(await t.ctl(typeof args === 'function' ? args(t) : args, stdin)), ...opts }),
  });
};
const rpc = (name: string, service: Parameters<Target['grpc']['unary']>[0], method: string, req: unknown | ((t: Target) => unknown)): void => {
  steps.push({ name: `grpc ${service}.${method} ${name}`, run: (t) => t.grpc.unary(service, method, typeof req === 'function' ? (req as (t: Target) => unknown)(t) : req) });
};
const http = (method: string, path: string, body?: string, opts: { unordered?: boolean } = {}): void => {
  steps.push({ name: `http ${method} ${path}${body ? ` ${body}` : ''}`, run: async (t) => ({ ...(await t.http(method, path, body)), ...opts }) });
};
const watch = (name: string, requests: readonly unknown[], until: (a: readonly Record<string, unknown>[]) => boolean): void => {
  steps.push({ name: `grpc Watch ${name}`, run: (t) => t.grpc.watch(requests, until) });
};
/** Answers until `n` events have arrived (or a cancel). */
const events = (n: number) => (a: readonly Record<string, unknown>[]): boolean =>
  a.some((x) => x['canceled']) || a.reduce((s, x) => s + ((x['events'] as unknown[] | undefined)?.length ?? 0), 0) >= n;

// ---- KV through etcdctl (revision 1 is the empty store on both)
ctl('put a 1', ['put', 'a', '1']);
ctl('put b 2 -w json', ['put', 'b', '2', '-w', 'json']);
ctl('put a 3 --prev-kv -w json', ['put', 'a', '3', '--prev-kv', '-w', 'json']);
ctl('get a', ['get', 'a']);
ctl('get a -w json', ['get', 'a', '-w', 'json']);
ctl('get a --rev=2 -w json', ['get', 'a', '--rev=2', '-w', 'json']);
ctl('get a -w fields', ['get', 'a', '-w', 'fields']);
for (let i = 1; i <= 5; i++) ctl(`put c/${i}`, ['put', `c/${i}`, `v${i}`]);
ctl('get c/ --prefix --limit=2 -w json', ['get', 'c/', '--prefix', '--limit=2', '-w', 'json']);
ctl('get c/ --prefix --sort-by=MODIFY --order=DESCEND', ['get', 'c/', '--prefix', '--sort-by=MODIFY', '--order=DESCEND']);
ctl('get c/ --prefix --sort-by=VALUE --order=ASCEND --limit=3', ['get', 'c/', '--prefix', '--sort-by=VALUE', '--order=ASCEND', '--limit=3']);
ctl('get c/ --prefix --keys-only', ['get', 'c/', '--prefix', '--keys-only']);
ctl('get c/ --prefix --count-only -w json', ['get', 'c/', '--prefix', '--count-only', '-w', 'json']);
ctl('get c/ --prefix --print-value-only', ['get', 'c/', '--prefix', '--print-value-only']);
ctl('get c/ --prefix --consistency=s -w json', ['get', 'c/', '--prefix', '--consistency=s', '-w', 'json']);
ctl('get c/ --prefix --min-mod-revision=6', ['get', 'c/', '--prefix', '--min-mod-revision=6']);
ctl('get c/ --prefix --max-create-revision=6', ['get', 'c/', '--prefix', '--max-create-revision=6']);
ctl('get c/2 c/4 (range)', ['get', 'c/2', 'c/4']);
ctl('get c/3 --from-key', ['get', 'c/3', '--from-key']);
ctl('get "" --prefix --keys-only', ['get', '', '--prefix', '--keys-only']);
ctl('get a --rev=1000 (future)', ['get', 'a', '--rev=1000']);
ctl('get missing -w json', ['get', 'missing', '-w', 'json']);
ctl('del c/1 --prev-kv -w json', ['del', 'c/1', '--prev-kv', '-w', 'json']);
ctl('del c/ --prefix', ['del', 'c/', '--prefix']);
ctl('del nothing', ['del', 'nothing']);
ctl('put x --ignore-value (no key)', ['put', 'x', '--ignore-value']);
ctl('put b --ignore-value', ['put', 'b', '--ignore-value']);
ctl('put k v --lease=1234 (not found)', ['put', 'k', 'v', '--lease=1234']);
ctl('put k --ignore-lease (no lease)', ['put', 'k', 'v2', '--ignore-lease']);

// ---- raw KV: what etcdctl cannot say
rpc('empty key', 'KV', 'Put', { key: '', value: b64('v') });
rpc('empty key', 'KV', 'Range', { key: '' });
rpc('keys_only count_only', 'KV', 'Range', { key: b64('a'), range_end: b64('z'), count_only: true });
rpc('limit negative', 'KV', 'Range', { key: b64('a'), limit: '-1' });
rpc('revision negative', 'KV', 'Range', { key: b64('a'), revision: '-5' });
rpc('prev_kv on a missing key', 'KV', 'Put', { key: b64('fresh'), value: b64('1'), prev_kv: true });
rpc('DeleteRange range_end 0x00 (all keys from)', 'KV', 'DeleteRange', { key: b64('zzz'), range_end: b64('\0') });

// ---- Txn
const txnScript = `value("a") = "3"
mod("b") > "0"
create("zz") = "0"

put t/1 one
get a

del b

`;
ctl('txn success -w json', ['txn', '-w', 'json'], txnScript);
ctl('txn failure', ['txn'], txnScript.replace('value("a") = "3"', 'value("a") = "nope"'));
ctl('txn compare version', ['txn'], `version("a") = "2"\n\nget a\n\nget b\n\n`);
rpc('nested', 'KV', 'Txn', {
  compare: [],
  success: [{ request_txn: { compare: [{ key: b64('a'), target: 'VALUE', result: 'EQUAL', value: b64('3') }], success: [{ request_put: { key: b64('n/1'), value: b64('x') } }, { request_range: { key: b64('n/1') } }] } }],
});
rpc('128 puts (the limit)', 'KV', 'Txn', { success: Array.from({ length: 128 }, (_, i) => ({ request_put: { key: b64(`lim/${i}`), value: b64('v') } })) });
rpc('129 puts', 'KV', 'Txn', { success: Array.from({ length: 129 }, (_, i) => ({ request_put: { key: b64(`over/${i}`), value: b64('v') } })) });
rpc('100 puts + nested 100', 'KV', 'Txn', {
  success: [...Array.from({ length: 100 }, (_, i) => ({ request_put: { key: b64(`p/${i}`), value: b64('v') } })), { request_txn: { success: Array.from({ length: 100 }, (_, i) => ({ request_put: { key: b64(`q/${i}`), value: b64('v') } })) } }],
});
rpc('duplicate put', 'KV', 'Txn', { success: [{ request_put: { key: b64('d'), value: b64('1') } }, { request_put: { key: b64('d'), value: b64('2') } }] });
rpc('put and delete overlap', 'KV', 'Txn', { success: [{ request_put: { key: b64('d/1'), value: b64('1') } }, { request_delete_range: { key: b64('d/'), range_end: b64('d0') } }] });
rpc('compare range_end (prefix compare)', 'KV', 'Txn', {
  compare: [{ key: b64('lim/'), range_end: b64('lim0'), target: 'VERSION', result: 'GREATER', version: '0' }],
  success: [{ request_range: { key: b64('lim/1'), count_only: true } }],
  failure: [{ request_range: { key: b64('a') } }],
});
rpc('compare lease', 'KV', 'Txn', { compare: [{ key: b64('a'), target: 'LEASE', result: 'EQUAL', lease: '0' }], success: [{ request_range: { key: b64('a') } }] });
rpc('empty request op', 'KV', 'Txn', { success: [{}] });

rpc('HashKV before any lease (no compaction yet)', 'Maintenance', 'HashKV', { revision: '0' });

// ---- leases
ctl('lease grant 600 -w json', ['lease', 'grant', '600', '-w', 'json']);
ctl('lease grant 300', ['lease', 'grant', '300']);
ctl('put l1 --lease', (t) => ['put', 'l1', 'v', `--lease=${t.lease(0).toString(16)}`]);
ctl('put l2 --lease', (t) => ['put', 'l2', 'v', `--lease=${t.lease(0).toString(16)}`]);
ctl('lease timetolive --keys -w json', (t) => ['lease', 'timetolive', t.lease(0).toString(16), '--keys', '-w', 'json']);
ctl('lease timetolive --keys', (t) => ['lease', 'timetolive', t.lease(0).toString(16), '--keys']);
ctl('lease list', ['lease', 'list']);
ctl('lease keep-alive --once', (t) => ['lease', 'keep-alive', '--once', t.lease(0).toString(16)]);
ctl('get l1 -w json (lease on the kv)', ['get', 'l1', '-w', 'json']);
ctl('lease revoke', (t) => ['lease', 'revoke', t.lease(0).toString(16)]);
ctl('lease revoke again', (t) => ['lease', 'revoke', t.lease(0).toString(16)]);
ctl('lease timetolive (revoked)', (t) => ['lease', 'timetolive', t.lease(0).toString(16)]);
ctl('get l1 (gone with its lease)', ['get', 'l1']);
ctl('lease keep-alive --once (revoked)', (t) => ['lease', 'keep-alive', '--once', t.lease(0).toString(16)]);
rpc('client-chosen ID 2^60', 'Lease', 'LeaseGrant', { ID: String(2n ** 60n), TTL: '600' });
rpc('client-chosen ID 2^53+1', 'Lease', 'LeaseGrant', { ID: String(2n ** 53n + 1n), TTL: '600' });
rpc('TimeToLive 2^53+1', 'Lease', 'LeaseTimeToLive', { ID: String(2n ** 53n + 1n) });
rpc('duplicate ID', 'Lease', 'LeaseGrant', { ID: String(2n ** 60n), TTL: '600' });
rpc('negative ID', 'Lease', 'LeaseGrant', { ID: '-5', TTL: '600' });
rpc('TTL too large', 'Lease', 'LeaseGrant', { TTL: String(9_000_000_001) });
rpc('revoke 2^60', 'Lease', 'LeaseRevoke', { ID: String(2n ** 60n) });
rpc('revoke unknown', 'Lease', 'LeaseRevoke', { ID: '77' });
rpc('TimeToLive unknown', 'Lease', 'LeaseTimeToLive', { ID: '77' });

// ---- watch (revisions are the same on both sides)
watch('a from rev 1 with prev_kv', [{ create_request: { key: b64('a'), start_revision: '1', prev_kv: true } }], events(2));
watch('c/ prefix NOPUT filter', [{ create_request: { key: b64('c/'), range_end: b64('c0'), start_revision: '1', filters: ['NOPUT'] } }], events(5));
watch('progress request', [{ create_request: { key: b64('nothing-here') } }, { progress_request: {} }], (a) => a.length >= 2);
watch('cancel an unknown watch id', [{ cancel_request: { watch_id: '42' } }], (a) => a.length >= 1);
watch('two watchers, chosen ids', [{ create_request: { key: b64('a'), watch_id: '7' } }, { create_request: { key: b64('b'), watch_id: '7' } }], (a) => a.length >= 2);

// ---- compaction, then what it changes
ctl('compaction 3', ['compaction', '3']);
ctl('compaction 3 again', ['compaction', '3']);
ctl('compaction 2 (older)', ['compaction', '2']);
ctl('compaction 100000 (future)', ['compaction', '100000']);
ctl('get a --rev=2 (compacted)', ['get', 'a', '--rev=2']);
rpc('compact 0', 'KV', 'Compact', { revision: '0' });
watch('from a compacted revision', [{ create_request: { key: b64('a'), start_revision: '2' } }], (a) => a.some((x) => x['canceled']) || a.length >= 2);

// ---- cluster and maintenance
ctl('member list -w json', ['member', 'list', '-w', 'json']);
ctl('member list', ['member', 'list'], undefined, { unordered: true });
ctl('member list -w table', ['member', 'list', '-w', 'table'], undefined, { unordered: true });
ctl('member remove unknown', ['member', 'remove', 'abcdef']);
ctl('member promote unknown', ['member', 'promote', 'abcdef']);
ctl('member update unknown', ['member', 'update', 'abcdef', '--peer-urls=http://127.0.0.1:1']);
ctl('member add an existing peer URL', (t) => ['member', 'add', 'dup', `--peer-urls=${t.cluster.members[1]!.peerUrl}`]);
ctl('member add a bad peer URL', ['member', 'add', 'bad', '--peer-urls=not a url']);
// Compact past every key that carried a system-chosen lease ID, then write once more: HashKV of
// the current revision then covers only rows both systems hold byte for byte.
steps.push({
  name: 'compaction at the current revision, then a put',
  run: async (t) => {
    const rev = /"revision":(\d+)/.exec((await t.ctl(['get', 'a', '-w', 'json'])).body)?.[1] ?? '0';
    const c = await t.ctl(['compaction', rev]);
    const p = await t.ctl(['put', 'after-compaction', 'x']);
    return { status: `${c.status} ${p.status}`, body: `${c.body.replace(rev, '<rev>')}\n${p.body}` };
  },
});
ctl('endpoint status -w json', ['endpoint', 'status', '-w', 'json']);
ctl('endpoint hashkv -w json', ['endpoint', 'hashkv', '-w', 'json']);
ctl('endpoint health', ['endpoint', 'health']);
ctl('alarm list', ['alarm', 'list']);
ctl('alarm disarm (none)', ['alarm', 'disarm']);
ctl('defrag', ['defrag']);
ctl('move-leader unknown', ['move-leader', 'abcdef']);
steps.push({ name: 'etcdctl move-leader unknown, all endpoints', run: (t) => t.ctl(['move-leader', 'abcdef'], undefined, t.cluster.endpoints()) });
rpc('Status', 'Maintenance', 'Status', {});
rpc('HashKV revision 0', 'Maintenance', 'HashKV', { revision: '0' });
rpc('HashKV revision 2 (compacted)', 'Maintenance', 'HashKV', { revision: '2' });
// Revision 17 comes before the first key with a lease (each system picks its own lease IDs).
rpc('HashKV revision 17 (after a compaction)', 'Maintenance', 'HashKV', { revision: '17' });
rpc('HashKV revision 3 (the compaction revision)', 'Maintenance', 'HashKV', { revision: '3' });
rpc('Hash', 'Maintenance', 'Hash', {});
rpc('Alarm GET', 'Maintenance', 'Alarm', { action: 'GET' });
rpc('Alarm ACTIVATE NOSPACE for a 64-bit member', 'Maintenance', 'Alarm', { action: 'ACTIVATE', memberID: String(2n ** 63n + 5n), alarm: 'NOSPACE' });
rpc('Alarm GET after', 'Maintenance', 'Alarm', { action: 'GET' });
rpc('Alarm DEACTIVATE it', 'Maintenance', 'Alarm', { action: 'DEACTIVATE', memberID: String(2n ** 63n + 5n), alarm: 'NOSPACE' });
rpc('Defragment', 'Maintenance', 'Defragment', {});
rpc('MoveLeader to 0', 'Maintenance', 'MoveLeader', { targetID: '0' });
rpc('MemberList linearizable', 'Cluster', 'MemberList', { linearizable: true });

// ---- the /v3 JSON gateway
http('POST', '/v3/kv/put', JSON.stringify({ key: b64('gw'), value: b64('1') }));
http('POST', '/v3/kv/range', JSON.stringify({ key: b64('gw') }));
http('POST', '/v3/kv/range', JSON.stringify({ key: b64('gw-missing') }));
http('POST', '/v3/kv/range', JSON.stringify({ key: b64('c/'), range_end: b64('c0'), count_only: true }));
http('POST', '/v3/kv/range', JSON.stringify({}));
http('POST', '/v3/kv/range', '{not json');
http('POST', '/v3/kv/deleterange', JSON.stringify({ key: b64('gw'), prev_kv: true }));
http('POST', '/v3/kv/txn', JSON.stringify({ compare: [{ key: b64('a'), target: 'VALUE', result: 'EQUAL', value: b64('3') }], success: [{ request_range: { key: b64('a') } }] }));
http('POST', '/v3/kv/compaction', JSON.stringify({ revision: '1' }));
http('POST', '/v3/lease/timetolive', JSON.stringify({ ID: '77' }));
http('POST', '/v3/lease/leases', '{}');
http('POST', '/v3/maintenance/alarm', JSON.stringify({ action: 'GET' }));
http('POST', '/v3/cluster/member/list', '{}');
http('POST', '/v3/auth/status', '{}');
http('POST', '/v3/nope', '{}');
http('GET', '/v3/kv/range');
http('POST', '/v3beta/kv/range', JSON.stringify({ key: b64('a') }));
http('POST', '/v3alpha/kv/range', JSON.stringify({ key: b64('a') }));

// ---- health, readiness, version
http('GET', '/health');
http('GET', '/health?serializable=true');
http('GET', '/livez');
http('GET', '/readyz');
// etcd runs the checks from a Go map: their lines come in any order.
http('GET', '/livez?verbose', undefined, { unordered: true });
http('GET', '/readyz?verbose', undefined, { unordered: true });
http('GET', '/readyz?verbose&exclude=data_corruption', undefined, { unordered: true });
http('GET', '/readyz?verbose&exclude=nonexistent', undefined, { unordered: true });
http('GET', '/readyz/serializable_read');
http('GET', '/readyz/non_learner?verbose');
http('GET', '/livez/serializable_read');
http('GET', '/livez/data_corruption');
http('GET', '/readyz/nonexistent');
http('GET', '/version');
http('GET', '/metrics/nothing-here');

// ---- fragmentation: three 700 KiB values are more than --max-request-bytes (1.5 MiB) in one answer
for (let i = 1; i <= 3; i++) rpc(`big/${i} (700 KiB)`, 'KV', 'Put', { key: b64(`big/${i}`), value: Buffer.alloc(700 * 1024, 0x61 + i).toString('base64') });
// Bodies are long; compare what each answer holds, not the bytes (the values are checked by the puts).
const shape = (o: { status: string; body: string }): { status: string; body: string } => ({
  status: o.status,
  body: o.body
    .split('\n')
    .map((l) => {
      const a = JSON.parse(l) as { fragment?: boolean; events?: Array<{ kv: { key: string; mod_revision: string } }> };
      return JSON.stringify({ fragment: a.fragment ?? false, events: (a.events ?? []).map((e) => `${Buffer.from(e.kv.key, 'base64').toString()}@${e.kv.mod_revision}`) });
    })
    .join('\n'),
});
for (const fragment of [true, false]) {
  steps.push({
    name: `grpc Watch big/ from its first put, fragment ${fragment}`,
    run: async (t) => {
      const rev = /"revision":"(\d+)"/.exec((await t.grpc.unary('KV', 'Range', { key: b64('big/1') })).body)?.[1] ?? '0';
      const start = String(Number(rev) - 2);
      return shape(await t.grpc.watch([{ create_request: { key: b64('big/'), range_end: b64('big0'), start_revision: start, fragment } }], events(3)));
    },
  });
}

// ---- a delete at the compact revision: etcd 3.6 keeps it, so a watch from that revision sees it
steps.push({
  name: 'grpc Watch from a compact revision that is a delete',
  run: async (t) => {
    await t.ctl(['put', 'cd/x', '1']);
    const del = await t.ctl(['del', 'cd/x', '-w', 'json']);
    const rev = /"revision":(\d+)/.exec(del.body)?.[1] ?? '0';
    await t.ctl(['compaction', rev]);
    await t.ctl(['put', 'cd/y', '2']);
    return shape(await t.grpc.watch([{ create_request: { key: b64('cd/'), range_end: b64('cd0'), start_revision: rev } }], events(2)));
  },
});

// ---- downgrade, last: enabling one makes etcd's leader lower the cluster version (it checks every
// few seconds), and canceling raises it again; tsetcd keeps its cluster version (allowed.ts says
// why). Each system validates against its own cluster version (etcd 3.6; tsetcd reports 3.5),
// so the answers compare with the cluster version and the one allowed target (its previous minor)
// written as <cluster> and <target>, both taken from /version before the first downgrade step.
interface Versions {
  readonly cluster: string;
  readonly target: string;
}
const clusterVersionOf = async (t: Target): Promise<string> =>
  (JSON.parse((await t.http('GET', '/version')).body) as { etcdcluster: string }).etcdcluster.split('.').slice(0, 2).join('.');
const versionsOf = new WeakMap<Target, Versions>();
async function versions(t: Target): Promise<Versions> {
  let v = versionsOf.get(t);
  if (!v) {
    const [major, minor] = (await clusterVersionOf(t)).split('.').map(Number) as [number, number];
    v = { cluster: `${major}.${minor}`, target: `${major}.${minor - 1}` };
    versionsOf.set(t, v);
  }
  return v;
}
const relative = (o: Observation, v: Versions): Observation => {
  const word = (x: string): RegExp => new RegExp(`(?<![0-9.])${x.replace('.', '\\.')}(?![0-9])`, 'g');
  const rel = (x: string): string => x.replace(word(v.cluster), '<cluster>').replace(word(v.target), '<target>');
  return { ...o, body: rel(o.body), ...(o.stderr !== undefined ? { stderr: rel(o.stderr) } : {}) };
};
const downgrade = (name: string, run: (t: Target, v: Versions) => Promise<Observation>): void => {
  steps.push({
    name,
    run: async (t) => {
      const v = await versions(t);
      return relative(await run(t, v), v);
    },
  });
};
/** Each member's Status.downgradeInfo, read after a linearizable read on that member (so it has applied what came before). */
const downgradeInfoOfEveryMember = async (t: Target): Promise<Observation> => {
  const lines: string[] = [];
  for (const m of t.cluster.members) {
    const ep = `127.0.0.1:${m.clientPort}`;
    await t.ctl(['get', 'barrier'], undefined, ep);
    const o = await t.ctl(['endpoint', 'status', '-w', 'json'], undefined, ep);
    const st = (JSON.parse(o.body) as Array<{ Status: { downgrade_info?: unknown } }>)[0]?.Status;
    lines.push(`${m.name} ${o.status} ${JSON.stringify(st?.downgrade_info ?? null)}`);
  }
  return { status: 'ok', body: lines.join('\n') };
};
/**
 * The cluster version once the leader has acted: etcd's leader moves it to `want` within a few
 * seconds (polled, at most 30 s); tsetcd never moves it, so it is read once.
 */
const settledClusterVersion = async (t: Target, want: string): Promise<Observation> => {
  const deadline = Date.now() + 30_000;
  let cv = await clusterVersionOf(t);
  while (t.system === 'etcd' && cv !== want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    cv = await clusterVersionOf(t);
  }
  return { status: 'ok', body: `cluster version ${cv}` };
};
downgrade('etcdctl downgrade validate abc', (t) => t.ctl(['downgrade', 'validate', 'abc']));
downgrade('etcdctl downgrade validate <cluster>', (t, v) => t.ctl(['downgrade', 'validate', v.cluster]));
downgrade('etcdctl downgrade validate 2.0', (t) => t.ctl(['downgrade', 'validate', '2.0']));
downgrade('etcdctl downgrade validate <target>', (t, v) => t.ctl(['downgrade', 'validate', v.target]));
downgrade('etcdctl downgrade validate <target>.0 -w json', (t, v) => t.ctl(['downgrade', 'validate', `${v.target}.0`, '-w', 'json']));
downgrade('etcdctl downgrade cancel (none in progress)', (t) => t.ctl(['downgrade', 'cancel']));
downgrade('etcdctl downgrade enable (no version)', (t) => t.ctl(['downgrade', 'enable']));
downgrade('grpc Maintenance.Downgrade VALIDATE empty version', (t) => t.grpc.unary('Maintenance', 'Downgrade', { action: 'VALIDATE', version: '' }));
downgrade('grpc Maintenance.Downgrade unknown action', (t, v) => t.grpc.unary('Maintenance', 'Downgrade', { action: 7, version: v.target }));
downgrade('grpc Maintenance.Downgrade VALIDATE <target>', (t, v) => t.grpc.unary('Maintenance', 'Downgrade', { action: 'VALIDATE', version: v.target }));
downgrade('http POST /v3/maintenance/downgrade VALIDATE <target>', (t, v) => t.http('POST', '/v3/maintenance/downgrade', JSON.stringify({ action: 'VALIDATE', version: v.target })));
downgrade('etcdctl downgrade enable <target>', (t, v) => t.ctl(['downgrade', 'enable', v.target]));
downgrade('downgradeInfo of every member after enable', downgradeInfoOfEveryMember);
downgrade('etcdctl downgrade enable <cluster> (in progress)', (t, v) => t.ctl(['downgrade', 'enable', v.cluster]));
downgrade('cluster version once the leader has acted on the downgrade', (t, v) => settledClusterVersion(t, v.target));
downgrade('etcdctl downgrade validate <target> (in progress)', (t, v) => t.ctl(['downgrade', 'validate', v.target]));
downgrade('etcdctl downgrade cancel', (t) => t.ctl(['downgrade', 'cancel']));
downgrade('downgradeInfo of every member after cancel', downgradeInfoOfEveryMember);
downgrade('cluster version once the leader has acted on the cancel', (t, v) => settledClusterVersion(t, v.cluster));
downgrade('http POST /v3/maintenance/downgrade CANCEL (none in progress)', (t) => t.http('POST', '/v3/maintenance/downgrade', JSON.stringify({ action: 'CANCEL' })));

export const SESSION: readonly Step[] = steps;
