// One unary call on an HTTP/2 stream (call-stream.ts): read the request's one message, run the handler (the
// same grpc-js style handler(call, callback) the grpc-js server runs), and answer with headers,
// one DATA write and trailers, or a trailers-only error. The call object carries what handlers
// read from grpc-js's ServerUnaryCall: request, metadata, getPeer, getDeadline, getAuthContext.
// The call is its stream's sink itself, and a request that arrives as one DATA frame (nearly
// all do) is taken from it without a MessageReader: fewer objects held per call in flight.

import { Code, LeanCall, decompress, sendStatus, statusOfError } from './call-common.js';
import type { Status } from './call-common.js';
import type { CallSink, CallStream } from './call-stream.js';
import { PREFIX_BYTES, TooLargeError } from './wire.js';

/** Messages up to this size are copied out of the read they came in (see take()). */
const MAX_COPIED_MESSAGE = 16 * 1024;

export interface MethodCodec {
  readonly path: string;
  readonly deserialize: (b: Buffer) => unknown;
  readonly serialize: (v: unknown) => Buffer;
}

export interface UnaryMethod extends MethodCodec {
  readonly handler: (call: unknown, callback: (err: unknown, value?: unknown) => void) => void;
}

export class LeanUnaryCall extends LeanCall implements CallSink {
  private finished = false;
  /** The request message's bytes (without its prefix) once whole, and whether it is compressed. */
  private message: Buffer | undefined = undefined;
  private compressed = false;
  private extra = false;

  constructor(
    private readonly method: UnaryMethod,
    stream: CallStream,
    maxReceiveBytes: number,
  ) {
    super(method.path, stream, maxReceiveBytes);
    stream.attach(this);
    this.armDeadline();
  }

  /** grpc-js's unary calls emit 'cancelled'; ours never has, so a listener is accepted and never called. */
  on(): this {
    return this;
  }

  onData(chunk: Buffer): void {
    if (this.finished) return;
    // One whole message in one chunk, nothing before it: no reader needed.
    const len = this.loneMessage(chunk);
    if (len >= 0) {
      if (this.maxReceiveBytes >= 0 && len > this.maxReceiveBytes) return this.finish({ code: Code.RESOURCE_EXHAUSTED, details: new TooLargeError(len, this.maxReceiveBytes).message });
      return this.take(chunk[0] === 1, chunk.subarray(PREFIX_BYTES));
    }
    try {
      for (const m of this.reader.push(chunk)) this.take(m.compressed, m.bytes);
    } catch (err) {
      if (err instanceof TooLargeError) return this.finish({ code: Code.RESOURCE_EXHAUSTED, details: err.message });
      throw err;
    }
  }

  private take(compressed: boolean, bytes: Buffer): void {
    if (this.message) {
      this.extra = true;
      return;
    }
    // A message sliced from a socket read keeps that whole read (up to 64 KiB) alive as long as the
    // request: under 1000 clients requests outlive scavenges, and the reads they pin wait for a
    // full GC. A small message is copied out, so a request held in flight holds only its bytes.
    this.message = bytes.byteLength <= MAX_COPIED_MESSAGE && bytes.buffer.byteLength > 2 * bytes.byteLength ? Buffer.from(bytes) : bytes;
    this.compressed = compressed;
  }

  onEnd(): void {
    if (this.finished) return;
    const path = this.method.path;
    // grpc-js's texts (it says "server streaming" for unary calls too).
    if (this.extra) return this.finish({ code: Code.UNIMPLEMENTED, details: `Received a second request message for server streaming method ${path}` });
    let bytes = this.message;
    if (!bytes) return this.finish({ code: Code.UNIMPLEMENTED, details: `Received no request message for server streaming method ${path}` });
    this.message = undefined;
    if (this.compressed) {
      const plain = decompress(bytes, this.headers['grpc-encoding'], this.maxReceiveBytes);
      if (!Buffer.isBuffer(plain)) return this.finish(plain);
      bytes = plain;
    }
    try {
      this.request = this.method.deserialize(bytes);
    } catch {
      return this.finish({ code: Code.INTERNAL, details: 'Error deserializing request' });
    }
    this.method.handler(this, (err, value) => this.reply(err, value));
    // Handlers read the request before they return (rpc-context.ts unary() hands it on). The call
    // lives until it is answered, and a request it kept would be promoted with it: a put's value
    // and the buffer it is a view of would then wait for a full GC.
    this.request = undefined;
  }

  private reply(err: unknown, value: unknown): void {
    if (this.finished) return;
    if (err) return this.finish(statusOfError(err));
    let body: Buffer;
    try {
      body = this.method.serialize(value);
    } catch {
      return this.finish({ code: Code.INTERNAL, details: 'Error serializing response' });
    }
    if (!this.settle()) return;
    this.stream.respondOk(body);
  }

  expire(s: Status): void {
    this.finish(s);
  }

  private finish(s: Status): void {
    if (this.settle()) sendStatus(this.stream, s);
  }

  /** Marks the call answered; false if it already was. */
  private settle(): boolean {
    if (this.finished) return false;
    this.finished = true;
    this.clearDeadline();
    return true;
  }

  onClose(): void {
    this.clearDeadline();
    if (!this.finished) this.cancelled = true;
    this.finished = true;
  }
}
