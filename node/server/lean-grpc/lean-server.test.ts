// The lean gRPC server, on node:http2 and on our own HTTP/2 framer, on a member's client URL
// (memory backend), driven by a raw HTTP/2 client:
// what a gRPC client sees on the wire for answers and every kind of refusal, and that grpc-js
// clients (the npm etcd3 library) and streaming calls work through it.

import http2 from 'node:http2';
import { gzipSync } from 'node:zlib';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../log.js';
import { createMemberMetrics, startServers } from '../index.js';
import type { RunningServers } from '../index.js';
import { loadEtcdProtos } from '../proto-load.js';
import { MemoryBackend } from '../testing/memory-backend.js';
import { rawGrpcCall } from '../testing/raw-grpc-call.js';
import type { RawAnswer as Answer } from '../testing/raw-grpc-call.js';
import { frameMessage } from './wire.js';

const MAX_REQUEST_BYTES = 64 * 1024;
const MAX_RECEIVE = MAX_REQUEST_BYTES + 512 * 1024;

let backend: MemoryBackend;
let servers: RunningServers;
let metrics: ReturnType<typeof createMemberMetrics>;
let session: http2.ClientHttp2Session;
let endpoint: string;

const call = (path: string, body: Buffer, extra: http2.OutgoingHttpHeaders = {}): Promise<Answer> => rawGrpcCall(session, path, body, extra);

/** Waits (bounded) for a condition the server brings about. */
async function until(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + 5000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** grpc-status and grpc-message wherever they came: trailers, or the headers of a trailers-only answer. */
function statusOf(a: Answer): { code: string; message: string } {
  const from = a.trailers ?? a.headers;
  return { code: String(from['grpc-status']), message: decodeURIComponent(String(from['grpc-message'] ?? '')) };
}

const kv = loadEtcdProtos()['etcdserverpb.KV'] as unknown as Record<string, { requestSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): unknown }>;
const rangeReq = (key: string): Buffer => frameMessage(kv['Range']!.requestSerialize({ key: Buffer.from(key), serializable: true }));
const RANGE = '/etcdserverpb.KV/Range';
const watch = loadEtcdProtos()['etcdserverpb.Watch'] as unknown as Record<string, { requestSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): unknown }>;

// Both servers that run our call layer: on node:http2 (lean) and on our own framer (h2).
describe.each(['lean', 'h2'] as const)('%s gRPC server', (kind) => {
  beforeAll(async () => {
    metrics = createMemberMetrics(undefined, { defaultMetrics: false });
    backend = new MemoryBackend({ leaseCheckMs: 100 });
    servers = await startServers({
      config: { listenClientUrls: ['http://127.0.0.1:0'], listenMetricsUrls: [], maxRequestBytes: MAX_REQUEST_BYTES, maxTxnOps: 128, grpcServer: kind },
      backend,
      metrics,
      logger: createLogger({ component: 'test', level: 'error' }),
    });
    endpoint = `127.0.0.1:${servers.clientListeners[0]!.port}`;
    session = http2.connect(`http://${endpoint}`);
    const c = new Etcd3({ hosts: endpoint });
    await c.put('foo').value('bar');
    c.close();
  });

  afterAll(async () => {
    session?.close();
    await servers?.stop();
    backend?.close();
  });

  describe('answers', () => {
    it('a unary answer is grpc-js-shaped: 200, application/grpc+proto, one message, grpc-status 0 in trailers', async () => {
      const a = await call(RANGE, rangeReq('foo'));
      expect(a.headers[':status']).toBe(200);
      expect(a.headers['content-type']).toBe('application/grpc+proto');
      expect(a.headers['grpc-encoding']).toBe('identity');
      expect(a.trailers?.['grpc-status']).toBe('0');
      expect(a.body[0]).toBe(0);
      expect(a.body.readUInt32BE(1)).toBe(a.body.length - 5);
      const resp = kv['Range']!.responseDeserialize(a.body.subarray(5)) as { kvs: Array<{ value: Buffer }>; count: string | number };
      expect(resp.kvs[0]!.value.toString()).toBe('bar');
    });

    it('a gzip-compressed request is read (grpc-js accepts identity, deflate, gzip)', async () => {
      const plain = kv['Range']!.requestSerialize({ key: Buffer.from('foo'), serializable: true });
      const z = frameMessage(gzipSync(plain));
      z[0] = 1;
      const a = await call(RANGE, z, { 'grpc-encoding': 'gzip' });
      expect(statusOf(a).code).toBe('0');
      expect(a.body.length).toBeGreaterThan(5);
    });

    it('the npm etcd3 client (grpc-js) works, watches and lease keep-alives included', async () => {
      const c = new Etcd3({ hosts: endpoint });
      try {
        const w = await c.watch().key('w').create();
        const seen = new Promise<string>((resolve) => w.on('put', (kv) => resolve(kv.value.toString())));
        await c.put('w').value('1');
        expect(await seen).toBe('1');
        await w.cancel();
        const lease = c.lease(10);
        await lease.put('l').value('v');
        expect(await lease.keepaliveOnce()).toBeDefined();
        await lease.revoke();
        expect(await c.get('l').string()).toBeNull();
        expect(await c.get('foo').string()).toBe('bar');
      } finally {
        c.close();
      }
    });
  });

  describe('streams', () => {

    it('a watch: messages as they come, in order; the half-close ends it with grpc-status 0 and grpc-message OK in trailers', async () => {
      const req = session.request({ ':method': 'POST', ':path': '/etcdserverpb.Watch/Watch', 'content-type': 'application/grpc', te: 'trailers' });
      const got: Array<{ created?: boolean; events?: Array<{ kv: { value: Buffer } }> }> = [];
      let buf = Buffer.alloc(0);
      let trailers: http2.IncomingHttpHeaders | undefined;
      const ended = new Promise<void>((resolve) => req.on('end', resolve));
      req.on('trailers', (t) => (trailers = t));
      req.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
          const n = buf.readUInt32BE(1);
          got.push(watch['Watch']!.responseDeserialize(buf.subarray(5, 5 + n)) as (typeof got)[number]);
          buf = buf.subarray(5 + n);
        }
      });
      req.write(frameMessage(watch['Watch']!.requestSerialize({ createRequest: { key: Buffer.from('ws') } })));
      await until('the created answer', () => got.length >= 1);
      expect(got[0]!.created).toBe(true);
      const c = new Etcd3({ hosts: endpoint });
      await c.put('ws').value('1');
      await c.put('ws').value('2');
      c.close();
      await until('two events', () => got.length >= 3);
      expect(got.slice(1).map((r) => r.events![0]!.kv.value.toString())).toEqual(['1', '2']);
      req.end();
      await ended;
      // The shared pre-encoded OK trailers: grpc-js's status and text.
      expect({ status: trailers?.['grpc-status'], message: trailers?.['grpc-message'] }).toEqual({ status: '0', message: 'OK' });
    });

    it('a server stream without its request message: UNIMPLEMENTED, as grpc-js says it', async () => {
      const path = '/etcdserverpb.Maintenance/Snapshot';
      expect(statusOf(await call(path, Buffer.alloc(0)))).toEqual({ code: '12', message: `Received no request message for server streaming method ${path}` });
    });

    it('an oversized message on a watch stream: RESOURCE_EXHAUSTED', async () => {
      const a = await call('/etcdserverpb.Watch/Watch', frameMessage(Buffer.alloc(MAX_RECEIVE + 1)));
      expect(statusOf(a)).toEqual({ code: '8', message: `grpc: received message larger than max (${MAX_RECEIVE + 1} vs. ${MAX_RECEIVE})` });
    });

    it('a watch stream the client resets is closed on the server (etcd_debugging_mvcc_watch_stream_total back down)', async () => {
      const gauge = async (): Promise<number> => (await metrics.watchStreams.get()).values[0]?.value ?? 0;
      // The etcd3 client of an earlier case closes its watch stream when it closes its channel.
      await until('no watch stream open', async () => (await gauge()) === 0);
      const req = session.request({ ':method': 'POST', ':path': '/etcdserverpb.Watch/Watch', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => {});
      const first = new Promise<void>((resolve) => req.once('data', () => resolve()));
      req.write(frameMessage(watch['Watch']!.requestSerialize({ createRequest: { key: Buffer.from('r') } })));
      await first;
      expect(await gauge()).toBe(1);
      req.close(http2.constants.NGHTTP2_CANCEL);
      await until('the reset watch stream released', async () => (await gauge()) === 0);
    });
  });

  describe('refusals', () => {
    it("an oversized request: RESOURCE_EXHAUSTED with grpc-go's text, trailers-only", async () => {
      const big = Buffer.alloc(MAX_RECEIVE + 1);
      const a = await call(RANGE, frameMessage(big));
      expect(a.trailers).toBeUndefined();
      expect(statusOf(a)).toEqual({ code: '8', message: `grpc: received message larger than max (${MAX_RECEIVE + 1} vs. ${MAX_RECEIVE})` });
    });

    it('a write past max-request-bytes but inside the gRPC limit gets etcd\'s "request is too large"', async () => {
      const put = frameMessage(kv['Put']!.requestSerialize({ key: Buffer.from('k'), value: Buffer.alloc(MAX_REQUEST_BYTES + 1) }));
      expect(statusOf(await call('/etcdserverpb.KV/Put', put))).toEqual({ code: '3', message: 'etcdserver: request is too large' });
    });

    it('an etcd error from the handler: its code and text (a read below the compacted revision)', async () => {
      const c = new Etcd3({ hosts: endpoint });
      await c.put('c').value('1');
      await c.put('c').value('2');
      c.close();
      const rev = await call('/etcdserverpb.KV/Compact', frameMessage(kv['Compact']!.requestSerialize({ revision: 2 })));
      expect(statusOf(rev).code).toBe('0');
      const old = frameMessage(kv['Range']!.requestSerialize({ key: Buffer.from('c'), revision: 1, serializable: true }));
      expect(statusOf(await call(RANGE, old))).toEqual({ code: '11', message: 'etcdserver: mvcc: required revision has been compacted' });
    });

    it('bytes that are not a RangeRequest: INTERNAL "Error deserializing request"', async () => {
      const a = await call(RANGE, frameMessage(Buffer.from([0xff, 0xff, 0xff])));
      expect(statusOf(a)).toEqual({ code: '13', message: 'Error deserializing request' });
    });

    it('no message, or two, for a unary method: UNIMPLEMENTED as grpc-js says it', async () => {
      expect(statusOf(await call(RANGE, Buffer.alloc(0)))).toEqual({ code: '12', message: `Received no request message for server streaming method ${RANGE}` });
      const two = Buffer.concat([rangeReq('foo'), rangeReq('foo')]);
      expect(statusOf(await call(RANGE, two))).toEqual({ code: '12', message: `Received a second request message for server streaming method ${RANGE}` });
    });

    it('a compressed message in an encoding the server lacks: UNIMPLEMENTED', async () => {
      const m = rangeReq('foo');
      m[0] = 1;
      expect(statusOf(await call(RANGE, m, { 'grpc-encoding': 'br' }))).toEqual({ code: '12', message: 'Received message compressed with unsupported encoding "br"' });
    });

    it('a malformed grpc-timeout: INTERNAL; a generous one is no obstacle', async () => {
      expect(statusOf(await call(RANGE, rangeReq('foo'), { 'grpc-timeout': 'soon' }))).toEqual({ code: '13', message: 'Invalid grpc-timeout value "soon"' });
      expect(statusOf(await call(RANGE, rangeReq('foo'), { 'grpc-timeout': '10S' })).code).toBe('0');
    });

    it('a grpc-timeout past 24.8 days (setTimeout\'s limit) does not end the call early', async () => {
      const req = session.request({ ':method': 'POST', ':path': '/etcdserverpb.Watch/Watch', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '99999999H' });
      let bytes = 0;
      let trailers: http2.IncomingHttpHeaders | undefined;
      const ended = new Promise<void>((resolve) => req.on('end', resolve));
      req.on('trailers', (t) => (trailers = t));
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.write(frameMessage(watch['Watch']!.requestSerialize({ createRequest: { key: Buffer.from('wt') } })));
      await until('the created answer', () => bytes > 0);
      // The server armed its deadline before it answered: an overflowed 1 ms timer fires before this one.
      await new Promise((r) => setTimeout(r, 20));
      expect(trailers).toBeUndefined();
      req.end();
      await ended;
      // The shared pre-encoded OK trailers: grpc-js's status and text.
      expect({ status: trailers?.['grpc-status'], message: trailers?.['grpc-message'] }).toEqual({ status: '0', message: 'OK' });
    });

    it('an unknown method: UNIMPLEMENTED; a non-gRPC content type: HTTP 415', async () => {
      expect(statusOf(await call('/etcdserverpb.KV/Nope', rangeReq('foo')))).toEqual({ code: '12', message: 'The server does not implement the method /etcdserverpb.KV/Nope' });
      const a = await call(RANGE, rangeReq('foo'), { 'content-type': 'text/plain' });
      expect(a.headers[':status']).toBe(415);
    });

    it('the session survives a client that resets its stream before the answer', async () => {
      const req = session.request({ ':method': 'POST', ':path': RANGE, 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => {});
      req.write(rangeReq('foo'));
      req.close(http2.constants.NGHTTP2_CANCEL);
      expect(statusOf(await call(RANGE, rangeReq('foo'))).code).toBe('0');
    });
  });
});

describe('--experimental-grpc-server=grpc-js', () => {
  it('still serves the client API through grpc-js', async () => {
    const b = new MemoryBackend({ leaseCheckMs: 100 });
    const s = await startServers({
      config: { listenClientUrls: ['http://127.0.0.1:0'], listenMetricsUrls: [], maxRequestBytes: MAX_REQUEST_BYTES, maxTxnOps: 128, grpcServer: 'grpc-js' },
      backend: b,
      metrics: createMemberMetrics(undefined, { defaultMetrics: false }),
      logger: createLogger({ component: 'test', level: 'error' }),
    });
    const c = new Etcd3({ hosts: `127.0.0.1:${s.clientListeners[0]!.port}` });
    try {
      await c.put('g').value('js');
      expect(await c.get('g').string()).toBe('js');
    } finally {
      c.close();
      await s.stop();
      b.close();
    }
  });
});
