// The member's client API over an in-process fake backend (node/mvcc store + watch hub, no raft),
// driven by the real clients: the npm etcd3 library, Debian's etcdctl (when installed) and HTTP.
// The acceptance proof against real bin/tsetcd processes lives in test/integration/.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { createMemberMetrics, startServers } from './index.js';
import type { RunningServers } from './index.js';
import { MemoryBackend } from './testing/memory-backend.js';
import { encodeRangeChunked, RANGE_CHUNK_KVS } from './kv-service.js';
import { loadEtcdProtos } from './proto-load.js';
import { splitJsonValues } from './gateway.js';
import { omitProtoDefaults } from './proto-defaults.js';

const run = promisify(execFile);
const ETCDCTL = '/usr/bin/etcdctl';
const haveEtcdctl = existsSync(ETCDCTL);
if (!haveEtcdctl && !process.env['CI']) console.log('etcdctl not installed: skipping the etcdctl cases (CI installs it)');
const itCtl = haveEtcdctl || process.env['CI'] ? it : it.skip;

let backend: MemoryBackend;
let servers: RunningServers;
let endpoint: string;
let metricsUrl: string;
let client: Etcd3;
let dir: string;

async function ctl(...args: string[]): Promise<string> {
  const { stdout } = await run(ETCDCTL, [`--endpoints=${endpoint}`, '--dial-timeout=3s', '--command-timeout=5s', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    timeout: 15_000,
  });
  return stdout;
}

/** stdout and stderr together (etcdctl 3.4 prints some results, e.g. endpoint health, on stderr). */
async function ctlAll(...args: string[]): Promise<string> {
  const { stdout, stderr } = await run(ETCDCTL, [`--endpoints=${endpoint}`, '--dial-timeout=3s', '--command-timeout=5s', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    timeout: 15_000,
  });
  return stdout + stderr;
}


async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsetcd-server-'));
  backend = new MemoryBackend({ leaseCheckMs: 100 });
  servers = await startServers({
    config: {
      listenClientUrls: ['http://127.0.0.1:0'],
      listenMetricsUrls: ['http://127.0.0.1:0'],
      maxRequestBytes: 1.5 * 1024 * 1024,
      maxTxnOps: 128,
      leaderCheckIntervalMs: 50,
    },
    backend,
    metrics: createMemberMetrics(undefined, { level: 'extensive' }),
    logger: createLogger({ component: 'test', level: 'error' }),
  });
  endpoint = `127.0.0.1:${servers.clientListeners[0]!.port}`;
  metricsUrl = `http://127.0.0.1:${servers.metricsListeners[0]!.port}`;
  client = new Etcd3({ hosts: endpoint });
});

afterAll(async () => {
  client?.close();
  await servers?.stop();
  backend?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('etcd3 npm client', () => {
  it('puts, gets, lists by prefix and deletes', async () => {
    await client.put('k/a').value('1');
    await client.put('k/b').value('2');
    expect(await client.get('k/a').string()).toBe('1');
    expect(await client.getAll().prefix('k/').strings()).toEqual({ 'k/a': '1', 'k/b': '2' });
    expect(await client.getAll().prefix('k/').count()).toBe(2);
    await client.delete().key('k/a');
    expect(await client.get('k/a').string()).toBeNull();
  });

  it('watches a prefix and sees a concurrent writer', async () => {
    const w = await client.watch().prefix('w/').create();
    const seen: string[] = [];
    w.on('put', (kv) => seen.push(`put ${kv.key.toString()}=${kv.value.toString()}`));
    w.on('delete', (kv) => seen.push(`del ${kv.key.toString()}`));
    await client.put('w/1').value('x');
    await client.put('other').value('y');
    await client.delete().key('w/1');
    await until('watch events', () => seen.length >= 2);
    expect(seen).toEqual(['put w/1=x', 'del w/1']);
    await w.cancel();
  });

  it('grants a lease, keeps it alive, and the key goes with the revoke', async () => {
    const lease = client.lease(5, { autoKeepAlive: false });
    await lease.put('leased').value('v');
    const ka = await lease.keepaliveOnce();
    expect(Number(ka.TTL)).toBe(5);
    expect(await client.get('leased').string()).toBe('v');
    await lease.revoke();
    expect(await client.get('leased').string()).toBeNull();
  });

  it('runs a lock and an STM transaction over txn', async () => {
    await client.put('stm/n').value('1');
    await client.lock('locks/x').do(async () => {
      await client.stm().transact(async (tx) => {
        const n = Number(await tx.get('stm/n').string());
        await tx.put('stm/n').value(String(n + 1));
      });
    });
    expect(await client.get('stm/n').string()).toBe('2');
  });
});

describe('etcd error texts', () => {
  it('a read of a compacted revision fails with etcd message', async () => {
    const r1 = await client.put('c').value('1').exec();
    await client.put('c').value('2');
    const rev = Number(r1.header.revision);
    await client.put('c').value('3');
    const last = await client.put('c').value('4').exec();
    await backend.compact({ revision: Number(last.header.revision) });
    await expect(client.get('c').revision(rev).string()).rejects.toThrow(/required revision has been compacted/);
  });

  it('a learner refuses writes and linearizable reads, but serves serializable reads', async () => {
    // A fresh client per call: etcd3's circuit breaker shuns a host after an Unavailable answer.
    const fresh = async <T>(fn: (c: Etcd3) => Promise<T>): Promise<T> => {
      const c = new Etcd3({ hosts: endpoint });
      try {
        return await fn(c);
      } finally {
        c.close();
      }
    };
    backend.learner = true;
    try {
      await expect(fresh((c) => c.put('x').value('1').exec())).rejects.toThrow(/rpc not supported for learner/);
      await expect(fresh((c) => c.get('x').string())).rejects.toThrow(/rpc not supported for learner/);
      await expect(fresh((c) => c.get('k/b').serializable(true).string())).resolves.toBe('2');
    } finally {
      backend.learner = false;
    }
  });

  itCtl('too many txn ops and a too large request', async () => {
    const ops = Array.from({ length: 129 }, (_, i) => `put t${i} v`).join('\n');
    const err = await new Promise<string>((resolve) => {
      const p = execFile(ETCDCTL, [`--endpoints=${endpoint}`, 'txn'], { env: { ...process.env, ETCDCTL_API: '3' } }, (_e, _o, stderr) =>
        resolve(stderr),
      );
      p.stdin!.end(`\n${ops}\n\n\n`);
    });
    expect(err).toContain('etcdserver: too many operations in txn request');
    // The value comes on stdin (too big for an argument).
    const bigErr = await new Promise<string>((resolve) => {
      const p = execFile(ETCDCTL, [`--endpoints=${endpoint}`, 'put', 'big'], { env: { ...process.env, ETCDCTL_API: '3' } }, (_e, _o, stderr) =>
        resolve(stderr),
      );
      p.stdin!.end('x'.repeat(1_600_000));
    });
    expect(bigErr).toContain('etcdserver: request is too large');
  });
});

describe('etcdctl 3.4', () => {
  itCtl('put, get (prefix, limit, rev, keys-only, print-value-only), del --prev-kv', async () => {
    expect(await ctl('put', 'p/1', 'a')).toBe('OK\n');
    const put2 = JSON.parse(await ctl('put', 'p/2', 'b', '-w', 'json')) as { header: { revision: number } };
    await ctl('put', 'p/2', 'c');
    expect(await ctl('get', 'p/', '--prefix')).toBe('p/1\na\np/2\nc\n');
    expect(await ctl('get', 'p/', '--prefix', '--limit=1')).toBe('p/1\na\n');
    expect(await ctl('get', 'p/2', `--rev=${put2.header.revision}`)).toBe('p/2\nb\n');
    expect(await ctl('get', 'p/', '--prefix', '--keys-only')).toBe('p/1\n\np/2\n\n');
    expect(await ctl('get', 'p/1', '--print-value-only')).toBe('a\n');
    expect(await ctl('del', 'p/', '--prefix', '--prev-kv')).toBe('2\np/1\na\np/2\nc\n');
  });

  itCtl('txn from stdin', async () => {
    await ctl('put', 'tx', 'old');
    const out = await new Promise<string>((resolve, reject) => {
      const p = execFile(ETCDCTL, [`--endpoints=${endpoint}`, 'txn'], { env: { ...process.env, ETCDCTL_API: '3' } }, (e, stdout, stderr) =>
        e ? reject(new Error(stderr)) : resolve(stdout),
      );
      p.stdin!.end('value("tx") = "old"\n\nput tx new\n\nput tx other\n\n');
    });
    expect(out).toBe('SUCCESS\n\nOK\n');
    expect(await ctl('get', 'tx', '--print-value-only')).toBe('new\n');
  });

  itCtl('endpoint status and health, member list, alarm list, defrag, snapshot save', async () => {
    expect(await ctl('endpoint', 'status')).toMatch(/3\.5\.17/);
    expect(await ctlAll('endpoint', 'health')).toMatch(/is healthy/);
    expect(await ctl('member', 'list')).toMatch(/started, default/);
    expect(await ctl('alarm', 'list')).toBe('');
    expect(await ctl('defrag')).toMatch(/Finished defragmenting etcd member/);
    const file = join(dir, 'snap.db');
    expect(await ctlAll('snapshot', 'save', file)).toMatch(/Snapshot saved at/);
    const size = statSync(file).size;
    expect(size % 512).toBe(32);
  });

  itCtl('with auth off, user and role lists answer (empty), as etcd does', async () => {
    expect(await ctl('user', 'list')).toBe('');
    expect(await ctl('role', 'list')).toBe('');
  });
});

describe('HTTP', () => {
  it('health, livez, readyz, version and metrics', async () => {
    const h = await fetch(`http://${endpoint}/health`);
    expect(h.status).toBe(200);
    expect(h.headers.get('content-type')).toBe('text/plain; charset=utf-8'); // etcd does not set one; Go sniffs text/plain
    expect(await h.text()).toBe('{"health":"true","reason":""}');
    expect(await (await fetch(`http://${endpoint}/livez`)).text()).toBe('ok\n');
    const rz = await fetch(`http://${endpoint}/readyz?exclude=linearizable_read&verbose`);
    const rzText = await rz.text();
    expect(rzText).toContain('[+]non_learner ok');
    expect(rzText).not.toContain('linearizable_read'); // etcd prints no line for an excluded check
    backend.learner = true;
    try {
      const lz = await fetch(`http://${endpoint}/readyz`);
      expect(lz.status).toBe(503);
      expect(await lz.text()).toContain('[-]non_learner failed: etcdserver: rpc not supported for learner');
    } finally {
      backend.learner = false;
    }
    expect(await (await fetch(`http://${endpoint}/version`)).json()).toEqual({ etcdserver: '3.5.17', etcdcluster: '3.5.0' });
    const m = await (await fetch(`${metricsUrl}/metrics`)).text();
    const sentBytes = /^etcd_network_client_grpc_sent_bytes_total (\d+)/m.exec(m)?.[1];
    expect(Number(sentBytes)).toBeGreaterThan(0);
    for (const name of [
      'etcd_server_has_leader',
      'etcd_server_heartbeat_send_failures_total',
      'etcd_server_proposals_committed_total',
      'etcd_mvcc_db_total_size_in_bytes',
      'etcd_server_version{server_version="3.5.17"} 1',
      'grpc_server_handled_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Put",grpc_code="OK"}',
      'grpc_server_handling_seconds_bucket',
      'nodejs_eventloop_lag_seconds',
      'etcd_network_client_grpc_received_bytes_total',
      'process_cpu_seconds_total',
    ]) {
      expect(m).toContain(name);
    }
    backend.leader = false;
    try {
      const bad = await fetch(`http://${endpoint}/health`);
      expect(bad.status).toBe(503);
      expect(bad.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(await bad.text()).toBe('{"health":"false","reason":"RAFT NO LEADER"}\n');
    } finally {
      backend.leader = true;
    }
  });

  it("serves grpc_server_handling_seconds only at --metrics=extensive, as etcd (basic: none)", async () => {
    const basic = await createMemberMetrics(undefined, { defaultMetrics: false }).registry.metrics();
    expect(basic).toContain('grpc_server_handled_total');
    expect(basic).not.toContain('grpc_server_handling_seconds');
    const extensive = await createMemberMetrics(undefined, { defaultMetrics: false, level: 'extensive' }).registry.metrics();
    expect(extensive).toContain('# TYPE grpc_server_handling_seconds histogram');
  });

  it('the /v3 JSON gateway: base64 bytes, int64 as strings', async () => {
    const post = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
      const r = await fetch(`http://${endpoint}/v3${path}`, { method: 'POST', body: JSON.stringify(body) });
      return (await r.json()) as Record<string, unknown>;
    };
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    const put = await post('/kv/put', { key: b64('gw'), value: b64('hello') });
    expect(typeof (put['header'] as { revision: unknown }).revision).toBe('string');
    const got = (await post('/kv/range', { key: b64('gw') })) as { kvs: Array<{ value: string; version: string }> };
    expect(Buffer.from(got.kvs[0]!.value, 'base64').toString()).toBe('hello');
    expect(got.kvs[0]!.version).toBe('1');
    const snap = await (await fetch(`http://${endpoint}/v3/maintenance/snapshot`, { method: 'POST', body: '{}' })).text();
    const parts = snap
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { result: { blob: string; remaining_bytes?: string } });
    const total = parts.reduce((n, p) => n + Buffer.from(p.result.blob, 'base64').length, 0);
    expect(total % 512).toBe(32);
    // etcd's 32 KiB messages on the gateway (one JSON line each), not the gRPC stream's 1 MiB.
    expect(parts.every((p) => Buffer.from(p.result.blob, 'base64').length <= 32 * 1024)).toBe(true);
    const st = await post('/maintenance/status', {});
    expect(st['version']).toBe('3.5.17');
    const err = await fetch(`http://${endpoint}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: '' }) });
    expect(err.status).toBe(400);
    expect(err.headers.get('content-type')).toBe('application/json');
    expect(await err.json()).toEqual({ code: 3, message: 'etcdserver: key is not provided' });
  });

  it("the gateway's JSON is etcd 3.6's: zero values left out, application/json, JSON 404, /v3beta", async () => {
    const post = async (path: string, body: unknown): Promise<Response> =>
      fetch(`http://${endpoint}${path}`, { method: 'POST', body: JSON.stringify(body) });
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    await post('/v3/kv/put', { key: b64('gwz'), value: b64('v') });
    const r = await post('/v3/kv/range', { key: b64('gwz') });
    expect(r.headers.get('content-type')).toBe('application/json');
    const got = (await r.json()) as { kvs: Array<Record<string, unknown>>; count: string; more?: boolean };
    expect(got.count).toBe('1');
    expect('more' in got).toBe(false);
    expect(Object.keys(got.kvs[0]!).sort()).toEqual(['create_revision', 'key', 'mod_revision', 'value', 'version']);
    const none = (await (await post('/v3/kv/range', { key: b64('gw-missing') })).json()) as Record<string, unknown>;
    expect(Object.keys(none)).toEqual(['header']);
    const members = (await (await post('/v3/cluster/member/list', {})).json()) as { members: Array<Record<string, unknown>> };
    expect('isLearner' in members.members[0]!).toBe(false);
    const beta = (await (await post('/v3beta/kv/range', { key: b64('gwz') })).json()) as { count: string };
    expect(beta.count).toBe('1');
    // Inside a txn, etcd's headers carry the revision only; the outer one the member's identity.
    const txn = (await (
      await post('/v3/kv/txn', { success: [{ request_put: { key: b64('gwt'), value: b64('1') } }, { request_txn: {} }] })
    ).json()) as { header: Record<string, string>; responses: Array<Record<string, { header: Record<string, string> }>> };
    expect(Object.keys(txn.header).sort()).toEqual(['cluster_id', 'member_id', 'raft_term', 'revision']);
    expect(txn.responses[0]!['response_put']!.header).toEqual({ revision: txn.header['revision'] });
    expect(txn.responses[1]!['response_txn']!.header).toEqual({});
    const unknown = await post('/v3/kv/nothing', {});
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toBe('application/json');
    expect(await unknown.json()).toEqual({ code: 5, message: 'Not Found' });
    const get = await fetch(`http://${endpoint}/v3/kv/range`);
    expect(get.status).toBe(501);
    expect(await get.json()).toEqual({ code: 12, message: 'Method Not Allowed' });
  });
});

describe('gateway helpers', () => {
  it('splitJsonValues reads a stream of JSON values', () => {
    expect(splitJsonValues('{"a":"}{\\""} \n[1,{"b":2}]{}')).toEqual([{ a: '}{"' }, [1, { b: 2 }], {}]);
    expect(splitJsonValues('  ')).toEqual([]);
    expect(() => splitJsonValues('{"a":1')).toThrow();
    expect(() => splitJsonValues('1')).toThrow();
  });

  it('omitProtoDefaults drops zero scalars and empty lists, keeps empty messages', () => {
    expect(omitProtoDefaults({ a: 0, b: false, c: '', d: Buffer.alloc(0), e: [], f: {}, g: [{ x: 0, y: 1 }], h: 'x' })).toEqual({
      f: {},
      g: [{ y: 1 }],
      h: 'x',
    });
  });
});

describe('chunked Range encoding', () => {
  it('decodes to the same answer as one-shot encoding', async () => {
    const def = loadEtcdProtos()['etcdserverpb.KV'] as unknown as Record<
      string,
      { responseSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown }
    >;
    const m = def['Range']!;
    const kvs = Array.from({ length: RANGE_CHUNK_KVS * 2 + 7 }, (_, i) => ({
      key: Buffer.from(`key-${i}`),
      createRevision: i + 2,
      modRevision: i + 2,
      version: 1,
      value: Buffer.from(`v${i}`),
      lease: i % 3 === 0 ? 0n : 2n ** 63n - BigInt(i),
    }));
    const resp = { header: { clusterId: 2n ** 64n - 1n, memberId: 2n ** 63n + 5n, revision: 99, raftTerm: 3 }, kvs, more: true, count: 12345 };
    const chunked = await encodeRangeChunked(resp, m.responseSerialize);
    expect(m.responseDeserialize(chunked)).toEqual(m.responseDeserialize(m.responseSerialize(resp)));
  });
});

/** One unary call over raw gRPC, decoded with tsetcd's own (gRPC-side) definitions. */
async function unaryCall(service: string, method: string, req: unknown): Promise<Record<string, unknown>> {
  const { Client, credentials, Metadata } = await import('@grpc/grpc-js');
  const def = loadEtcdProtos()[service] as unknown as Record<
    string,
    { path: string; requestSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown }
  >;
  const m = def[method]!;
  const c = new Client(endpoint, credentials.createInsecure());
  try {
    return await new Promise((res, rej) =>
      c.makeUnaryRequest(m.path, m.requestSerialize, (b: Buffer) => b, req, new Metadata(), (e, v) => (e ? rej(e) : res(v as never))),
    ).then((b) => m.responseDeserialize(b as Buffer) as Record<string, unknown>);
  } finally {
    c.close();
  }
}

/** The raw bytes of one unary answer (to see which fields are on the wire at all). */
async function unaryBytes(service: string, method: string, req: unknown): Promise<Buffer> {
  const { Client, credentials, Metadata } = await import('@grpc/grpc-js');
  const m = (loadEtcdProtos()[service] as unknown as Record<string, { path: string; requestSerialize: (v: unknown) => Buffer }>)[method]!;
  const c = new Client(endpoint, credentials.createInsecure());
  try {
    return await new Promise((res, rej) =>
      c.makeUnaryRequest(m.path, m.requestSerialize, (b: Buffer) => b, req, new Metadata(), (e, v) => (e ? rej(e) : res(v as Buffer))),
    );
  } finally {
    c.close();
  }
}

describe('more of the wire', () => {
  it('maintenance as etcd 3.6: Status has storageVersion and downgradeInfo; Defragment answers an empty message', async () => {
    const st = await unaryCall('etcdserverpb.Maintenance', 'Status', {});
    expect(st['storageVersion']).toBe('3.6.0');
    expect(st['downgradeInfo']).toEqual({ enabled: false, targetVersion: '' });
    expect((await unaryBytes('etcdserverpb.Maintenance', 'Defragment', {})).length).toBe(0);
    const json = (await (await fetch(`http://${endpoint}/v3/maintenance/status`, { method: 'POST', body: '{}' })).json()) as Record<string, unknown>;
    expect(json['downgradeInfo']).toEqual({});
    expect(json['storageVersion']).toBe('3.6.0');
    const snap = (await (await fetch(`http://${endpoint}/v3/maintenance/snapshot`, { method: 'POST', body: '{}' })).text())
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { result: Record<string, unknown> }).result);
    expect(snap.every((m) => !('header' in m) && m['version'] === '3.6.0')).toBe(true);
  });

  it("a watch from a compacted revision is canceled as etcd's: compact_revision, no revision in the header, no cancel_reason", async () => {
    const b64 = (x: string): string => Buffer.from(x).toString('base64');
    await client.put('wcomp').value('1');
    const rev = Number((await client.put('wcomp').value('2').exec()).header.revision);
    await client.get('wcomp').exec(); // make sure the store is at rev
    await fetch(`http://${endpoint}/v3/kv/compaction`, { method: 'POST', body: JSON.stringify({ revision: String(rev) }) });
    const res = await fetch(`http://${endpoint}/v3/watch`, {
      method: 'POST',
      body: JSON.stringify({ create_request: { key: b64('wcomp'), start_revision: String(rev - 1) } }),
    });
    const reader = res.body!.getReader();
    let text = '';
    while (text.split('\n').filter((l) => l !== '').length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    await reader.cancel();
    const cancel = (JSON.parse(text.split('\n')[1]!) as { result: Record<string, unknown> }).result;
    expect(cancel['canceled']).toBe(true);
    expect(cancel['compact_revision']).toBe(String(rev));
    expect('cancel_reason' in cancel).toBe(false);
    expect(Object.keys(cancel['header'] as object).sort()).toEqual(['cluster_id', 'member_id', 'raft_term']);
  });

  it('Cluster service headers carry no revision (etcd: these calls do not read the store)', async () => {
    const list = await unaryCall('etcdserverpb.Cluster', 'MemberList', {});
    const h = list['header'] as { revision: number; clusterId: number; memberId: number };
    expect(h.revision).toBe(0);
    expect(h.memberId).not.toBe(0);
    const json = (await (await fetch(`http://${endpoint}/v3/cluster/member/list`, { method: 'POST', body: '{}' })).json()) as {
      header: Record<string, string>;
    };
    expect('revision' in json.header).toBe(false);
  });

  it('gRPC health: "" is SERVING (leader or not, as etcd); any other service is NotFound "unknown service"', async () => {
    expect(await unaryCall('grpc.health.v1.Health', 'Check', { service: '' })).toEqual({ status: 1 });
    backend.leader = false;
    try {
      expect(await unaryCall('grpc.health.v1.Health', 'Check', {})).toEqual({ status: 1 });
    } finally {
      backend.leader = true;
    }
    await expect(unaryCall('grpc.health.v1.Health', 'Check', { service: 'etcdserverpb.KV' })).rejects.toMatchObject({
      code: 5,
      details: 'unknown service',
    });
  });

  it('hasleader metadata: fails at once with "no leader" when there is none', async () => {
    const { Client, credentials, Metadata } = await import('@grpc/grpc-js');
    const def = loadEtcdProtos()['etcdserverpb.KV'] as unknown as Record<
      string,
      { path: string; requestSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown }
    >;
    const m = def['Range']!;
    const c = new Client(endpoint, credentials.createInsecure());
    const call = (md: InstanceType<typeof Metadata>): Promise<unknown> =>
      new Promise((res, rej) =>
        c.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, { key: Buffer.from('x'), serializable: true }, md, (e, v) =>
          e ? rej(e) : res(v),
        ),
      );
    backend.leader = false;
    try {
      const md = new Metadata();
      md.set('hasleader', 'true');
      await expect(call(md)).rejects.toMatchObject({ code: 14, details: 'etcdserver: no leader' });
      await expect(call(new Metadata())).resolves.toBeDefined();
    } finally {
      backend.leader = true;
      c.close();
    }
  });

  it('a watch stream opened with hasleader ends with "no leader" when the leader is lost', async () => {
    const { Client, credentials, Metadata } = await import('@grpc/grpc-js');
    const def = loadEtcdProtos()['etcdserverpb.Watch'] as unknown as Record<
      string,
      { path: string; requestSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown }
    >;
    const m = def['Watch']!;
    const c = new Client(endpoint, credentials.createInsecure());
    const md = new Metadata();
    md.set('hasleader', 'true');
    const stream = c.makeBidiStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, md);
    const got: unknown[] = [];
    stream.on('data', (d: unknown) => got.push(d));
    const ended = new Promise<{ code: number; details: string }>((resolve) => stream.on('error', (e) => resolve(e as never)));
    stream.write({ createRequest: { key: Buffer.from('hl') } });
    await until('created', () => got.length > 0);
    backend.leader = false;
    try {
      await expect(ended).resolves.toMatchObject({ code: 14, details: 'etcdserver: no leader' });
    } finally {
      backend.leader = true;
      c.close();
    }
  });

  it('a progress request is answered with watch_id -1 at the current revision', async () => {
    const { Client, credentials } = await import('@grpc/grpc-js');
    const def = loadEtcdProtos()['etcdserverpb.Watch'] as unknown as Record<
      string,
      { path: string; requestSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown }
    >;
    const m = def['Watch']!;
    const c = new Client(endpoint, credentials.createInsecure());
    const stream = c.makeBidiStreamRequest(m.path, m.requestSerialize, m.responseDeserialize);
    type Resp = { watchId: number; created: boolean; header: { revision: number }; events: unknown[] };
    const got: Resp[] = [];
    stream.on('data', (d: unknown) => got.push(d as Resp));
    stream.on('error', () => {});
    try {
      stream.write({ createRequest: { key: Buffer.from('prog'), progressNotify: true } });
      await until('created', () => got.some((r) => r.created));
      const put = await client.put('prog').value('1').exec();
      await until('event', () => got.some((r) => r.events.length > 0));
      stream.write({ progressRequest: {} });
      await until('progress', () => got.some((r) => r.watchId === -1));
      const p = got.find((r) => r.watchId === -1)!;
      expect(p.events).toEqual([]);
      expect(p.header.revision).toBeGreaterThanOrEqual(Number(put.header.revision));
      // Header revisions on a stream never go backwards.
      const revs = got.map((r) => r.header.revision);
      expect([...revs].sort((a, b) => a - b)).toEqual(revs);
    } finally {
      stream.end();
      c.close();
    }
  });

  it('the gateway streams a watch and answers a keep-alive', async () => {
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    const ac = new AbortController();
    // Two requests in one body: etcd's gateway serves both (watch ids 0 and 1).
    const res = await fetch(`http://${endpoint}/v3/watch`, {
      method: 'POST',
      body: JSON.stringify({ create_request: { key: b64('gwatch') } }) + JSON.stringify({ create_request: { key: b64('gwatch2') } }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    let text = '';
    const readUntil = async (n: number): Promise<void> => {
      while (text.split('\n').filter((l) => l !== '').length < n) {
        const { value, done } = await reader.read();
        if (done) throw new Error('watch stream ended');
        text += Buffer.from(value).toString();
      }
    };
    await readUntil(2);
    const created = text.split('\n').slice(0, 2).map((l) => (JSON.parse(l) as { result: { created: boolean; watch_id?: string } }).result);
    expect(created.map((c) => [c.created, c.watch_id])).toEqual([[true, undefined], [true, '1']]);
    await client.put('gwatch').value('1');
    await readUntil(3);
    const ev = JSON.parse(text.split('\n')[2]!) as { result: { events: Array<{ type?: string; kv: { key: string; value: string } }> } };
    expect(Buffer.from(ev.result.events[0]!.kv.value, 'base64').toString()).toBe('1');
    expect('type' in ev.result.events[0]!).toBe(false); // PUT is the zero value
    ac.abort();

    const lease = (await (await fetch(`http://${endpoint}/v3/lease/grant`, { method: 'POST', body: '{"TTL":"30"}' })).json()) as { ID: string };
    const ka = (await (await fetch(`http://${endpoint}/v3/lease/keepalive`, { method: 'POST', body: JSON.stringify({ ID: lease.ID }) })).json()) as {
      result: { ID: string; TTL: string };
    };
    expect(ka.result).toMatchObject({ ID: lease.ID, TTL: '30' });
    // Several keep-alives in one body: one line each; an unknown lease gets TTL 0 (left out), not an error.
    const two = await fetch(`http://${endpoint}/v3/lease/keepalive`, {
      method: 'POST',
      body: JSON.stringify({ ID: lease.ID }) + JSON.stringify({ ID: '777' }),
    });
    expect(two.headers.get('content-type')).toBe('application/json');
    const lines = (await two.text())
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { result: { ID: string; TTL?: string } }).result);
    expect(lines.map((r) => [r.ID, r.TTL])).toEqual([
      [lease.ID, '30'],
      ['777', undefined],
    ]);
  });
});

describe('malformed requests are refused before the backend is asked (issue 17/18)', () => {
  it('enum out of range, empty RequestOp, nested op limit, unknown alarm action', async () => {
    const { etcdGrpcObjects } = await import('./proto-load.js');
    const { credentials } = await import('@grpc/grpc-js');
    const { vi } = await import('vitest');
    const { KV, Maintenance } = etcdGrpcObjects();
    const kv = new KV(endpoint, credentials.createInsecure());
    const mt = new Maintenance(endpoint, credentials.createInsecure());
    type Answer = { code: number; details: string };
    const ask = (c: InstanceType<typeof KV>, method: string, req: unknown): Promise<Answer> =>
      new Promise((res) =>
        (c as unknown as Record<string, (r: unknown, cb: (e: Answer | null) => void) => void>)[method]!(req, (e) => res(e ? { code: e.code, details: e.details } : { code: 0, details: '' })),
      );
    const txn = vi.spyOn(backend, 'txn');
    const alarm = vi.spyOn(backend, 'alarm');
    const put = (k: string) => ({ requestPut: { key: Buffer.from(k), value: Buffer.from('v') } });
    const k = Buffer.from('k');
    try {
      expect(await ask(kv, 'Txn', { compare: [{ key: k, result: 9, target: 0 }], success: [put('k')] })).toEqual({
        code: 3,
        details: 'etcdserver: invalid request: compare result 9 is not one of EQUAL, GREATER, LESS, NOT_EQUAL',
      });
      expect((await ask(kv, 'Txn', { compare: [{ key: k, result: 0, target: 9 }] })).code).toBe(3);
      expect(await ask(kv, 'Txn', { success: [{}] })).toEqual({ code: 3, details: 'etcdserver: key not found' });
      const outer = Array.from({ length: 100 }, (_, i) => put(`o${i}`));
      const inner = Array.from({ length: 100 }, (_, i) => put(`i${i}`));
      expect(await ask(kv, 'Txn', { success: [...outer, { requestTxn: { success: inner } }] })).toEqual({
        code: 3,
        details: 'etcdserver: too many operations in txn request',
      });
      expect((await ask(mt, 'Alarm', { action: 9, memberID: 0, alarm: 1 })).code).toBe(3);
      expect(txn).not.toHaveBeenCalled();
      expect(alarm).not.toHaveBeenCalled();
    } finally {
      txn.mockRestore();
      alarm.mockRestore();
      kv.close();
      mt.close();
    }
  });
});

/** A member's client servers over one https URL (port 0) on a memory backend. */
function startTlsServers(b: MemoryBackend, clientTls: { certFile: string; keyFile: string; trustedCaFile: string; clientCertAuth: boolean }): Promise<RunningServers> {
  return startServers({
    config: { listenClientUrls: ['https://127.0.0.1:0'], listenMetricsUrls: [], maxRequestBytes: 1024 * 1024, maxTxnOps: 128, clientTls, bcryptCost: 4 },
    backend: b,
    metrics: createMemberMetrics(undefined, { defaultMetrics: false }),
    logger: createLogger({ component: 'tls', level: 'error' }),
  });
}

describe('TLS on the client URL', () => {
  itCtl('etcdctl over https (ALPN h2) and HTTP/1.1 over TLS on the same port', async () => {
    const tdir = mkdtempSync(join(tmpdir(), 'tsetcd-tls-'));
    const key = join(tdir, 'key.pem');
    const cert = join(tdir, 'cert.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    const b = new MemoryBackend({ leaseCheckMs: 0 });
    const s = await startTlsServers(b, { certFile: cert, keyFile: key, trustedCaFile: '', clientCertAuth: false });
    try {
      const ep = `https://127.0.0.1:${s.clientListeners[0]!.port}`;
      const { stdout } = await run(ETCDCTL, [`--endpoints=${ep}`, `--cacert=${cert}`, 'put', 'secure', 'yes'], {
        env: { ...process.env, ETCDCTL_API: '3' },
      });
      expect(stdout).toBe('OK\n');
      const https = await import('node:https');
      const { readFileSync } = await import('node:fs');
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get(`${ep}/version`, { ca: readFileSync(cert) }, (r) => {
            let t = '';
            r.on('data', (c: Buffer) => (t += c.toString()));
            r.on('end', () => resolve(t));
          })
          .on('error', reject);
      });
      expect(JSON.parse(body)).toEqual({ etcdserver: '3.5.17', etcdcluster: '3.5.0' });
    } finally {
      await s.stop();
      b.close();
      rmSync(tdir, { recursive: true, force: true });
    }
  });
});

describe('--client-cert-auth: the verified certificate names the user (etcd AuthInfoFromTLS)', () => {
  itCtl('a client certificate with CN=root administers, CN=alice reads only what her role allows; a token still wins', async () => {
    const tdir = mkdtempSync(join(tmpdir(), 'tsetcd-cn-'));
    const f = (n: string): string => join(tdir, n);
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    await run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=test-ca']);
    const issue = async (name: string, cn: string, ext: string): Promise<void> => {
      await run('openssl', ['req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`]);
      const extFile = f(`${name}.ext`);
      (await import('node:fs')).writeFileSync(extFile, ext);
      await run('openssl', ['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '1', '-extfile', extFile]);
    };
    await issue('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    await issue('root', 'root', 'extendedKeyUsage=clientAuth\n');
    await issue('alice', 'alice', 'extendedKeyUsage=clientAuth\n');
    const b = new MemoryBackend({ leaseCheckMs: 0 });
    const s = await startTlsServers(b, { certFile: f('server.pem'), keyFile: f('server.key'), trustedCaFile: f('ca.pem'), clientCertAuth: true });
    const ep = `https://127.0.0.1:${s.clientListeners[0]!.port}`;
    const as = async (who: string, ...args: string[]): Promise<string> => {
      try {
        const { stdout } = await run(ETCDCTL, [`--endpoints=${ep}`, `--cacert=${f('ca.pem')}`, `--cert=${f(`${who}.pem`)}`, `--key=${f(`${who}.key`)}`, ...args], {
          env: { ...process.env, ETCDCTL_API: '3' },
        });
        return stdout;
      } catch (e) {
        return String((e as { stderr?: string }).stderr ?? e).split('\n').filter((l) => l.startsWith('Error:')).join('\n');
      }
    };
    try {
      expect(await as('root', 'user', 'add', 'root:rootpw')).toBe('User root created\n');
      expect(await as('root', 'user', 'grant-role', 'root', 'root')).toBe('Role root is granted to user root\n');
      expect(await as('root', 'user', 'add', 'alice:alicepw')).toBe('User alice created\n');
      expect(await as('root', 'role', 'add', 'r')).toBe('Role r created\n');
      expect(await as('root', 'role', 'grant-permission', 'r', 'read', 'a/', '--prefix')).toBe('Role r updated\n');
      expect(await as('root', 'user', 'grant-role', 'alice', 'r')).toBe('Role r is granted to user alice\n');
      expect(await as('root', 'put', 'a/1', 'x')).toBe('OK\n');
      expect(await as('root', 'auth', 'enable')).toBe('Authentication Enabled\n');
      // No token: the certificate's CN is the user.
      expect(await as('root', 'put', 'b', 'y')).toBe('OK\n');
      expect(await as('alice', 'get', 'a/1')).toBe('a/1\nx\n');
      expect(await as('alice', 'put', 'a/1', 'z')).toBe('Error: etcdserver: permission denied');
      expect(await as('alice', 'user', 'list')).toBe('Error: etcdserver: permission denied');
      // A password login wins over the certificate (etcd looks at the token first).
      expect(await as('alice', '--user=root:rootpw', 'put', 'a/1', 'z')).toBe('OK\n');
    } finally {
      await s.stop();
      b.close();
      rmSync(tdir, { recursive: true, force: true });
    }
  });
});
