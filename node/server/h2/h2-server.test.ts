// Our HTTP/2 server (--experimental-grpc-server=h2) on a member's client URL (memory backend):
// the same answers as the lean server on node:http2, byte for byte apart from the date; flow
// control both ways with large messages; the connection-level protocol against a raw socket
// (SETTINGS, PING, GOAWAY codes, RST_STREAM, CONTINUATION, padding); and a seeded fuzzer that
// throws random and mutated frames at it, after which a good client must still be served.
//
//   H2_FUZZ_SEED=7 H2_FUZZ_CONNECTIONS=500 npx vitest run node/server/h2/h2-server.test.ts

import http2 from 'node:http2';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../log.js';
import { TestRng } from '../../mvcc/testing/rng.js';
import { createMemberMetrics, startServers } from '../index.js';
import type { RunningServers } from '../index.js';
import type { GrpcServerKind } from '../lean-grpc/kind.js';
import { frameMessage } from '../lean-grpc/wire.js';
import { loadEtcdProtos } from '../proto-load.js';
import { MemoryBackend } from '../testing/memory-backend.js';
import { rawGrpcCall } from '../testing/raw-grpc-call.js';
import { ErrorCode, Flag, FrameType, PREFACE, Setting, frame, settingsFrame, windowUpdateFrame } from './frames.js';
import { encodeBlock } from './hpack.js';

const MAX_REQUEST_BYTES = 2 * 1024 * 1024;
const kv = loadEtcdProtos()['etcdserverpb.KV'] as unknown as Record<string, { requestSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): unknown }>;
const RANGE = '/etcdserverpb.KV/Range';
const rangeBody = (key: string): Buffer => kv['Range']!.requestSerialize({ key: Buffer.from(key), serializable: true });
const rangeReq = (key: string): Buffer => frameMessage(rangeBody(key));

interface Member {
  readonly backend: MemoryBackend;
  readonly servers: RunningServers;
  readonly port: number;
}

async function startMember(kind: GrpcServerKind): Promise<Member> {
  const backend = new MemoryBackend({ leaseCheckMs: 100 });
  const servers = await startServers({
    config: { listenClientUrls: ['http://127.0.0.1:0'], listenMetricsUrls: [], maxRequestBytes: MAX_REQUEST_BYTES, maxTxnOps: 128, grpcServer: kind },
    backend,
    metrics: createMemberMetrics(undefined, { defaultMetrics: false }),
    logger: createLogger({ component: 'test', level: 'error' }),
  });
  return { backend, servers, port: servers.clientListeners[0]!.port };
}

async function stopMember(m: Member | undefined): Promise<void> {
  await m?.servers.stop();
  m?.backend.close();
}

const call = rawGrpcCall;

function connect(port: number, settings: http2.Settings = {}): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://127.0.0.1:${port}`, { settings });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Headers as the client saw them, the date's value aside. */
function shape(h: http2.IncomingHttpHeaders | undefined): Record<string, unknown> | undefined {
  if (!h) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h)) out[k] = k === 'date' ? typeof v : v;
  return out;
}

describe('h2 server: the same answers as the lean server', () => {
  let lean: Member;
  let h2: Member;
  beforeAll(async () => {
    [lean, h2] = await Promise.all([startMember('lean'), startMember('h2')]);
  });
  afterAll(async () => {
    await stopMember(lean);
    await stopMember(h2);
  });

  it('answers, refusals and statuses match header for header (unary, trailers-only, 415, unknown path)', async () => {
    const cases: Array<[string, Buffer, http2.OutgoingHttpHeaders]> = [
      [RANGE, rangeReq('foo'), {}],
      ['/etcdserverpb.KV/Put', frameMessage(kv['Put']!.requestSerialize({ key: Buffer.from('foo'), value: Buffer.from('bar') })), {}],
      [RANGE, rangeReq('foo'), {}],
      [RANGE, frameMessage(Buffer.from([0xff, 0xff])), {}],
      [RANGE, Buffer.alloc(0), {}],
      [RANGE, rangeReq('foo'), { 'grpc-timeout': 'soon' }],
      [RANGE, rangeReq('foo'), { 'content-type': 'text/plain' }],
      ['/etcdserverpb.KV/Nope', rangeReq('foo'), {}],
      ['/etcdserverpb.Maintenance/Snapshot', Buffer.alloc(0), {}],
      ['/etcdserverpb.KV/Compact', frameMessage(kv['Compact']!.requestSerialize({ revision: 99 })), {}],
    ];
    const [a, b] = await Promise.all([connect(lean.port), connect(h2.port)]);
    try {
      for (const [path, body, extra] of cases) {
        const x = await call(a, path, body, extra);
        const y = await call(b, path, body, extra);
        const what = `${path} ${JSON.stringify(extra)}`;
        expect(shape(y.headers), what).toEqual(shape(x.headers));
        expect(shape(y.trailers), what).toEqual(shape(x.trailers));
        expect(y.body.length > 0, what).toBe(x.body.length > 0);
      }
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('h2 server: protocol', () => {
  let m: Member;
  beforeAll(async () => {
    m = await startMember('h2');
  });
  afterAll(() => stopMember(m));

  it('flow control both ways: a 1.5 MiB value in, and out to a client with a 1 KiB window', async () => {
    const value = Buffer.alloc(1536 * 1024, 7);
    const w = await connect(m.port);
    const put = await call(w, '/etcdserverpb.KV/Put', frameMessage(kv['Put']!.requestSerialize({ key: Buffer.from('big'), value })));
    expect(put.trailers?.['grpc-status']).toBe('0');
    w.close();
    const r = await connect(m.port, { initialWindowSize: 1024 });
    try {
      const a = await call(r, RANGE, rangeReq('big'));
      expect(a.trailers?.['grpc-status']).toBe('0');
      const resp = kv['Range']!.responseDeserialize(a.body.subarray(5)) as { kvs: Array<{ value: Buffer }> };
      expect(resp.kvs[0]!.value.equals(value)).toBe(true);
    } finally {
      r.close();
    }
  });

  it('many concurrent calls on one connection, answered in one write per turn, all correct', async () => {
    const s = await connect(m.port);
    try {
      const answers = await Promise.all(Array.from({ length: 200 }, () => call(s, RANGE, rangeReq('foo'))));
      for (const a of answers) expect(a.trailers?.['grpc-status']).toBe('0');
    } finally {
      s.close();
    }
  });

  it('SETTINGS are acknowledged, PING is answered with its payload, GOAWAY codes for errors', async () => {
    const c = await RawClient.open(m.port);
    await c.until('our SETTINGS acknowledged', (f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0);
    c.send(frame(FrameType.PING, 0, 0, Buffer.from('12345678')));
    const pong = await c.until('PING ACK', (f) => f.type === FrameType.PING);
    expect(pong.flags & Flag.ACK).toBe(Flag.ACK);
    expect(pong.payload.toString()).toBe('12345678');
    // DATA on an idle stream: a connection error, PROTOCOL_ERROR.
    c.send(frame(FrameType.DATA, 0, 5, Buffer.from('x')));
    expect(goawayCode(await c.until('GOAWAY', (f) => f.type === FrameType.GOAWAY))).toBe(ErrorCode.PROTOCOL_ERROR);
    await c.closed;
  });

  it('an invalid preface, an oversized frame, a broken header block: GOAWAY with the right code', async () => {
    const cases: Array<[string, (c: RawClient) => void, number]> = [
      ['oversized frame', (c) => c.send(frame(0x20, 0, 0, Buffer.alloc(16_385))), ErrorCode.FRAME_SIZE_ERROR],
      ['HPACK index 0', (c) => c.send(frame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from([0x80]))), ErrorCode.COMPRESSION_ERROR],
      ['even stream id', (c) => c.send(frame(FrameType.HEADERS, Flag.END_HEADERS, 2, requestBlock())), ErrorCode.PROTOCOL_ERROR],
      ['PING of 7 bytes', (c) => c.send(frame(FrameType.PING, 0, 0, Buffer.alloc(7))), ErrorCode.FRAME_SIZE_ERROR],
      ['window overflow', (c) => c.send(windowUpdateFrame(0, 0x7fffffff)), ErrorCode.FLOW_CONTROL_ERROR],
      ['frame inside a header block', (c) => c.send(Buffer.concat([frame(FrameType.HEADERS, 0, 1, requestBlock()), frame(FrameType.PING, 0, 0, Buffer.alloc(8))])), ErrorCode.PROTOCOL_ERROR],
      ['bad MAX_FRAME_SIZE', (c) => c.send(settingsFrame([[Setting.MAX_FRAME_SIZE, 100]])), ErrorCode.PROTOCOL_ERROR],
    ];
    for (const [what, act, code] of cases) {
      const c = await RawClient.open(m.port);
      act(c);
      expect(goawayCode(await c.until(what, (f) => f.type === FrameType.GOAWAY)), what).toBe(code);
      await c.closed;
    }
    const bad = await RawClient.open(m.port, Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n'));
    expect(goawayCode(await bad.until('GOAWAY', (f) => f.type === FrameType.GOAWAY))).toBe(ErrorCode.PROTOCOL_ERROR);
    await bad.closed;
  });

  it('a request split over CONTINUATION, with padding, is answered; malformed requests get RST_STREAM PROTOCOL_ERROR', async () => {
    const c = await RawClient.open(m.port);
    const block = requestBlock();
    const padded = Buffer.concat([Buffer.from([3]), block.subarray(0, 10), Buffer.alloc(3)]);
    c.send(frame(FrameType.HEADERS, Flag.PADDED, 1, padded));
    c.send(frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, block.subarray(10)));
    const body = rangeReq('foo');
    c.send(frame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, Buffer.concat([Buffer.from([4]), body, Buffer.alloc(4)])));
    const trailers = await c.until('the answer', (f) => f.type === FrameType.HEADERS && f.stream === 1 && (f.flags & Flag.END_STREAM) !== 0);
    expect(trailers.stream).toBe(1);
    const malformed: Array<Array<[string, string]>> = [
      [[':method', 'POST'], [':path', RANGE]],
      [[':method', 'POST'], [':scheme', 'http'], [':path', RANGE], ['Upper', 'x']],
      [[':method', 'POST'], [':scheme', 'http'], [':path', RANGE], ['connection', 'close']],
      [[':method', 'POST'], [':scheme', 'http'], [':path', RANGE], ['te', 'gzip']],
      [[':method', 'POST'], ['x', 'y'], [':scheme', 'http'], [':path', RANGE]],
      [[':method', 'POST'], [':scheme', 'http'], [':path', RANGE], [':bogus', 'x']],
    ];
    let id = 3;
    for (const fields of malformed) {
      c.send(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, encodeBlock(fields)));
      const rst = await c.until(`RST_STREAM ${id}`, (f) => f.type === FrameType.RST_STREAM && f.stream === id);
      expect(rst.payload.readUInt32BE(0), JSON.stringify(fields)).toBe(ErrorCode.PROTOCOL_ERROR);
      id += 2;
    }
    // The connection still serves.
    c.send(frame(FrameType.HEADERS, Flag.END_HEADERS, id, requestBlock()));
    c.send(frame(FrameType.DATA, Flag.END_STREAM, id, body));
    await c.until('the last answer', (f) => f.type === FrameType.HEADERS && f.stream === id && (f.flags & Flag.END_STREAM) !== 0);
    c.end();
    await c.closed;
  });
});

describe('h2 server: large requests in socket chunks cut anywhere', () => {
  let m: Member;
  beforeAll(async () => {
    m = await startMember('h2');
  });
  afterAll(() => stopMember(m));

  it('puts of 100 KiB values in DATA frames of 16 KiB, sent in random slices, store every byte (seeded)', async () => {
    const seed = Number(process.env['H2_SLICE_SEED'] ?? 3);
    console.log(`h2 slices: H2_SLICE_SEED=${seed}`);
    const rng = new TestRng(seed);
    const c = await RawClient.open(m.port);
    const values = new Map<string, Buffer>();
    const parts: Buffer[] = [];
    for (let i = 0; i < 6; i++) {
      const id = 1 + 2 * i;
      const key = `slice-${seed}-${i}`;
      const value = randomBytes(rng, 100 * 1024 + rng.int(1000));
      values.set(key, value);
      const body = frameMessage(kv['Put']!.requestSerialize({ key: Buffer.from(key), value }));
      const block = encodeBlock([[':method', 'POST'], [':scheme', 'http'], [':path', '/etcdserverpb.KV/Put'], [':authority', 'x'], ['content-type', 'application/grpc'], ['te', 'trailers']]);
      parts.push(frame(FrameType.HEADERS, Flag.END_HEADERS, id, block));
      for (let off = 0; off < body.length; off += 16_384) {
        const end = Math.min(body.length, off + 16_384);
        parts.push(frame(FrameType.DATA, end === body.length ? Flag.END_STREAM : 0, id, body.subarray(off, end)));
      }
    }
    const bytes = Buffer.concat(parts);
    for (let off = 0; off < bytes.length; ) {
      const n = 1 + rng.int(rng.int(2) === 0 ? 20 : 40_000);
      c.send(bytes.subarray(off, off + n));
      off += n;
      // A turn between sends, so the server's reads end where the slices do (often, not always).
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (let i = 0; i < values.size; i++) {
      const id = 1 + 2 * i;
      await c.until(`the answer on stream ${id}`, (f) => f.type === FrameType.HEADERS && f.stream === id && (f.flags & Flag.END_STREAM) !== 0);
    }
    c.end();
    const r = await connect(m.port);
    try {
      for (const [key, value] of values) {
        const a = await call(r, RANGE, rangeReq(key));
        expect(a.trailers?.['grpc-status'], `${key} (seed ${seed})`).toBe('0');
        const resp = kv['Range']!.responseDeserialize(a.body.subarray(5)) as { kvs: Array<{ value: Buffer }> };
        expect(resp.kvs[0]?.value.equals(value), `${key} (seed ${seed})`).toBe(true);
      }
    } finally {
      r.close();
    }
  });
});

describe('h2 server: fuzz (random and mutated frames; a good client is served afterwards)', () => {
  const SEED = Number(process.env['H2_FUZZ_SEED'] ?? 1);
  const CONNECTIONS = Number(process.env['H2_FUZZ_CONNECTIONS'] ?? 120);
  let m: Member;
  let errors = 0;
  const onUncaught = (): void => {
    errors++;
  };
  beforeAll(async () => {
    m = await startMember('h2');
    process.on('uncaughtException', onUncaught);
  });
  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    await stopMember(m);
  });

  it(`seed ${SEED}: ${CONNECTIONS} hostile connections`, async () => {
    console.log(`h2 fuzz: H2_FUZZ_SEED=${SEED} H2_FUZZ_CONNECTIONS=${CONNECTIONS}`);
    const rng = new TestRng(SEED);
    const good = await connect(m.port);
    try {
      for (let i = 0; i < CONNECTIONS; i++) {
        const c = await RawClient.open(m.port, rng.int(20) === 0 ? undefined : PREFACE, rng.int(10) !== 0);
        const frames = Array.from({ length: 1 + rng.int(12) }, () => hostileFrame(rng));
        // Sent in random slices, so frame boundaries fall anywhere in the socket's chunks.
        const bytes = Buffer.concat(frames);
        for (let off = 0; off < bytes.length; ) {
          const n = 1 + rng.int(Math.max(1, bytes.length));
          c.send(bytes.subarray(off, off + n));
          off += n;
        }
        c.end();
        await c.closed;
        if (i % 10 === 9) {
          const a = await call(good, RANGE, rangeReq('foo'));
          expect(a.trailers?.['grpc-status'], `after connection ${i} of seed ${SEED}`).toBe('0');
        }
      }
      const fresh = await connect(m.port);
      expect((await call(fresh, RANGE, rangeReq('foo'))).trailers?.['grpc-status']).toBe('0');
      fresh.close();
      expect(errors, `uncaught exceptions (seed ${SEED})`).toBe(0);
    } finally {
      good.close();
    }
  }, 120_000);
});

/** A valid request block for Range. */
function requestBlock(extra: Array<[string, string]> = []): Buffer {
  return encodeBlock([[':method', 'POST'], [':scheme', 'http'], [':path', RANGE], [':authority', 'x'], ['content-type', 'application/grpc'], ['te', 'trailers'], ...extra]);
}

const TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xff];

/** One frame: valid ones (a Range call, SETTINGS, PING, WINDOW_UPDATE, ...), mutated or not, or junk. */
function hostileFrame(rng: TestRng): Buffer {
  const id = 1 + 2 * rng.int(4);
  let f: Buffer;
  switch (rng.int(9)) {
    case 0:
      f = frame(FrameType.HEADERS, Flag.END_HEADERS | (rng.int(2) ? Flag.END_STREAM : 0), id, requestBlock(rng.int(2) ? [['grpc-timeout', `${rng.int(1000)}m`]] : []));
      break;
    case 1:
      f = frame(FrameType.DATA, rng.int(2) ? Flag.END_STREAM : 0, id, rangeReq(`k${rng.int(5)}`));
      break;
    case 2:
      f = settingsFrame([[1 + rng.int(8), rng.int(2) ? rng.int(1 << 20) : 0xffffffff]]);
      break;
    case 3:
      f = windowUpdateFrame(rng.int(2) ? 0 : id, rng.int(2) ? 1 + rng.int(1 << 16) : 0x7fffffff);
      break;
    case 4:
      f = frame(FrameType.RST_STREAM, 0, id, Buffer.from([0, 0, 0, rng.int(14)]));
      break;
    case 5:
      f = frame(TYPES[rng.int(TYPES.length)]!, rng.int(256), rng.int(2) ? id : rng.int(2 ** 31), randomBytes(rng, rng.int(64)));
      break;
    case 6:
      f = frame(FrameType.CONTINUATION, rng.int(2) ? Flag.END_HEADERS : 0, id, requestBlock().subarray(rng.int(10)));
      break;
    case 7:
      f = randomBytes(rng, 1 + rng.int(40));
      break;
    default:
      f = frame(FrameType.HEADERS, Flag.END_HEADERS, id, randomBytes(rng, rng.int(40)));
      break;
  }
  // Mutate a third of them: a few random bytes anywhere, length field included.
  if (rng.int(3) === 0) {
    f = Buffer.from(f);
    for (let k = 1 + rng.int(3); k > 0; k--) f[rng.int(f.length)] = rng.int(256);
  }
  return f;
}

function randomBytes(rng: TestRng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

function goawayCode(f: RawFrame): number {
  return f.payload.readUInt32BE(4);
}

interface RawFrame {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly payload: Buffer;
}

/** A client speaking raw frames: sends bytes, collects the server's frames. */
class RawClient {
  private buf = Buffer.alloc(0);
  private readonly frames: RawFrame[] = [];
  private waiter: (() => void) | undefined;
  readonly closed: Promise<void>;

  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      while (this.buf.length >= 9) {
        const len = this.buf.readUIntBE(0, 3);
        if (this.buf.length < 9 + len) break;
        this.frames.push({ type: this.buf[3]!, flags: this.buf[4]!, stream: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) });
        this.buf = this.buf.subarray(9 + len);
      }
      this.waiter?.();
    });
    sock.on('error', () => {});
    this.closed = new Promise((resolve) => sock.on('close', () => resolve()));
    sock.on('close', () => this.waiter?.());
  }

  /** Connects and sends the preface (or `preface`) and, unless told not to, an empty SETTINGS. */
  static open(port: number, preface: Buffer | undefined = PREFACE, settings = true): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => {
        const c = new RawClient(sock);
        if (preface) sock.write(preface);
        if (settings) sock.write(settingsFrame([]));
        resolve(c);
      });
      sock.once('error', reject);
    });
  }

  send(b: Buffer): void {
    if (!this.sock.destroyed) this.sock.write(b);
  }

  end(): void {
    this.sock.end();
  }

  /** The first frame from the server matching `pred` (waiting for it; fails if the socket closes first). */
  async until(what: string, pred: (f: RawFrame) => boolean): Promise<RawFrame> {
    for (;;) {
      const i = this.frames.findIndex(pred);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      if (this.sock.destroyed || this.sock.readableEnded) throw new Error(`connection closed before ${what}`);
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
}
