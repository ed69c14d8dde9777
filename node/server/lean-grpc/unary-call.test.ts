import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { CallSink, CallStream } from './call-stream.js';
import { LeanUnaryCall } from './unary-call.js';
import { frameMessage } from './wire.js';

/** A stream that hands one DATA chunk to the call and records the buffer the codec was given. */
/** A stream stub: the sink the call attaches, and the answers it sends. */
function testStream(): { stream: CallStream; sink: () => CallSink; sent: Buffer[] } {
  let sink: CallSink | undefined;
  const sent: Buffer[] = [];
  const stream = {
    headers: {},
    gone: false,
    headersSent: false,
    writableLength: 0,
    attach: (s: CallSink) => void (sink = s),
    writeMessage: () => true,
    respondOk: (b: Buffer) => void sent.push(b),
    sendStatus: () => undefined,
    pause: () => undefined,
    resume: () => undefined,
    peer: () => 'test',
    authContext: () => ({}),
  } satisfies CallStream;
  return { stream, sink: () => sink!, sent };
}

function deliver(chunk: Buffer): Buffer {
  let seen: Buffer | undefined;
  const { stream, sink } = testStream();
  const method = {
    path: '/test/Unary',
    deserialize: (b: Buffer) => ((seen = b), {}),
    serialize: () => Buffer.alloc(0),
    handler: (_call: unknown, cb: (err: unknown, v?: unknown) => void) => cb(null, {}),
  };
  new LeanUnaryCall(method, stream, -1);
  sink().onData(chunk);
  sink().onEnd();
  return seen!;
}

/** A framed message at the end of a 64 KiB buffer, as a DATA frame sliced from a socket read. */
function slicedFromRead(messageBytes: number): { chunk: Buffer; read: ArrayBufferLike } {
  const framed = frameMessage(Buffer.alloc(messageBytes, 7));
  const read = Buffer.allocUnsafeSlow(64 * 1024);
  framed.copy(read, read.length - framed.length);
  return { chunk: read.subarray(read.length - framed.length), read: read.buffer };
}

describe('LeanUnaryCall request bytes', () => {
  it('copies a small message out of the read it came in, so the request does not hold the whole read', () => {
    const { chunk, read } = slicedFromRead(1024);
    const got = deliver(chunk);
    expect(got.equals(Buffer.alloc(1024, 7))).toBe(true);
    expect(got.buffer).not.toBe(read);
  });

  it('takes a large message, or one that is most of its buffer, as it is (no copy)', () => {
    const big = slicedFromRead(32 * 1024);
    expect(deliver(big.chunk).buffer).toBe(big.read);
    const whole = frameMessage(Buffer.alloc(1024, 7));
    const own = Buffer.allocUnsafeSlow(whole.length);
    whole.copy(own);
    expect(deliver(own).buffer).toBe(own.buffer);
  });
});

describe('LeanUnaryCall in flight', () => {
  it('does not keep the request once the handler has it, and answers with what the handler gave', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { stream, sink, sent } = testStream();
    let request: WeakRef<object> | undefined;
    let answer: ((err: unknown, v?: unknown) => void) | undefined;
    let key = '';
    const method = {
      path: '/test/Unary',
      deserialize: (b: Buffer) => {
        const r = { key: b.subarray(0, 3) };
        request = new WeakRef(r);
        return r;
      },
      serialize: (v: unknown) => Buffer.from(String(v)),
      // Like rpc-context.ts unary(): reads the request now, answers later.
      handler: (call: unknown, cb: (err: unknown, v?: unknown) => void) => {
        key = (call as { request: { key: Buffer } }).request.key.toString();
        answer = cb;
      },
    };
    const call = new LeanUnaryCall(method, stream, -1);
    sink().onData(frameMessage(Buffer.from('abcdef')));
    sink().onEnd();
    expect(key).toBe('abc');
    // A WeakRef holds its target until the current task ends: look in the next one.
    await new Promise<void>((r) => setImmediate(r));
    gc();
    expect(request!.deref()).toBeUndefined();
    answer!(null, 'done');
    expect(sent.map((b) => b.toString())).toEqual(['done']);
    expect(call.cancelled).toBe(false);
  });
});
