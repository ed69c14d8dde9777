import { describe, expect, it } from 'vitest';
import type { CallSink, CallStream } from './call-stream.js';
import { LeanUnaryCall } from './unary-call.js';
import { frameMessage } from './wire.js';

/** A stream that hands one DATA chunk to the call and records the buffer the codec was given. */
function deliver(chunk: Buffer): Buffer {
  let seen: Buffer | undefined;
  let sink: CallSink | undefined;
  const stream = {
    headers: {},
    gone: false,
    headersSent: false,
    writableLength: 0,
    attach: (s: CallSink) => void (sink = s),
    write: () => true,
    respondOk: () => undefined,
    sendStatus: () => undefined,
    pause: () => undefined,
    resume: () => undefined,
    peer: () => 'test',
    authContext: () => ({}),
  } satisfies CallStream;
  const method = {
    path: '/test/Unary',
    deserialize: (b: Buffer) => ((seen = b), {}),
    serialize: () => Buffer.alloc(0),
    handler: (_call: unknown, cb: (err: unknown, v?: unknown) => void) => cb(null, {}),
  };
  new LeanUnaryCall(method, stream, -1);
  sink!.onData(chunk);
  sink!.onEnd();
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
