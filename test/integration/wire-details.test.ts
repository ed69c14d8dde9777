// The smaller wire differences of issue 18, end to end on one real bin/tsetcd process driven by
// etcdctl 3.4 and plain HTTP: what etcd 3.6 sends is what tsetcd sends (the unit tests beside
// each fix pin the details; this proves the path through raft, apply and the real server).
import { describe, expect, it } from 'vitest';
import { clusterForSuite, ctlOk, requireTools } from './harness.js';

const tools = requireTools();
const d = tools.ok ? describe.sequential : describe.skip;

d("etcd 3.6's wire details on a real member", () => {
  const cluster = clusterForSuite({ size: 1, label: 'wire' }, 60_000);
  const ep = (): string => cluster().endpoints();

  const ctl = (...args: string[]): Promise<string> => ctlOk(ep(), args);
  const post = async (path: string, body: unknown): Promise<Response> =>
    fetch(`${cluster().members[0]!.clientUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });

  it('before any compaction: HashKV says compact_revision -1, and compacting to 0 is a no-op', async () => {
    await ctl('put', 'w/a', '1');
    const hash = JSON.parse(await ctl('endpoint', 'hashkv', '-w', 'json')) as Array<{ HashKV: { compact_revision: number } }>;
    expect(hash[0]!.HashKV.compact_revision).toBe(-1);
    const zero = await post('/v3/kv/compaction', { revision: '0' });
    expect(zero.status).toBe(200);
    expect(((await zero.json()) as { header: { revision: string } }).header.revision).toBeDefined();
    expect(await ctl('get', 'w/a', '--print-value-only')).toBe('1\n');
  });

  it('etcdctl txn -w json: the headers inside the txn carry the revision only', async () => {
    // No compares; success: one put; failure: nothing.
    const out = await ctlOk(ep(), ['txn', '-w', 'json'], { stdin: '\nput w/t 1\n\n\n' });
    const txn = JSON.parse(out) as {
      header: Record<string, number>;
      responses: Array<{ Response: { ResponsePut: { header: Record<string, number> } } }>;
    };
    expect(Object.keys(txn.header).sort()).toEqual(['cluster_id', 'member_id', 'raft_term', 'revision']);
    expect(txn.responses[0]!.Response.ResponsePut.header).toEqual({ revision: txn.header['revision'] });
  });

  it('the gateway leaves zero values out and answers errors as google.rpc.Status', async () => {
    const range = (await (await post('/v3/kv/range', { key: Buffer.from('w/a').toString('base64') })).json()) as {
      kvs: Array<Record<string, unknown>>;
      more?: boolean;
    };
    expect('lease' in range.kvs[0]!).toBe(false);
    expect('more' in range).toBe(false);
    const bad = await post('/v3/kv/put', { key: '' });
    expect(bad.headers.get('content-type')).toBe('application/json');
    expect(await bad.json()).toEqual({ code: 3, message: 'etcdserver: key is not provided' });
  });

  it('etcdctl member list -w json: the header has no revision', async () => {
    const list = JSON.parse(await ctl('member', 'list', '-w', 'json')) as { header: Record<string, number> };
    expect(Object.keys(list.header).sort()).toEqual(['cluster_id', 'member_id', 'raft_term']);
  });

  it('/health answers text/plain; /readyz has the non_learner check and drops excluded ones', async () => {
    const base = cluster().members[0]!.clientUrl;
    const h = await fetch(`${base}/health`);
    expect(h.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await h.text()).toBe('{"health":"true","reason":""}');
    const rz = await (await fetch(`${base}/readyz?verbose&exclude=serializable_read`)).text();
    expect(rz).toContain('[+]non_learner ok');
    expect(rz).not.toContain('serializable_read');
  });
});
