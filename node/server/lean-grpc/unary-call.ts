// One unary call on an HTTP/2 stream (call-stream.ts): read the request's one message, run the handler (the
// same grpc-js style handler(call, callback) the grpc-js server runs), and answer with headers,
// one DATA write and trailers, or a trailers-only error. The call object carries what handlers
// read from grpc-js's ServerUnaryCall: request, metadata, getPeer, getDeadline, getAuthContext.

import { Code, LeanCall, decompress, sendStatus, statusOfError } from './call-common.js';
import type { Status } from './call-common.js';
import type { CallStream } from './call-stream.js';
import { TooLargeError } from './wire.js';
import type { RawMessage } from './wire.js';

export interface MethodCodec {
  readonly path: string;
  readonly deserialize: (b: Buffer) => unknown;
  readonly serialize: (v: unknown) => Buffer;
}

export interface UnaryMethod extends MethodCodec {
  readonly handler: (call: unknown, callback: (err: unknown, value?: unknown) => void) => void;
}

export class LeanUnaryCall extends LeanCall {
  private finished = false;
  private message: RawMessage | undefined;
  private extra = false;

  constructor(
    private readonly method: UnaryMethod,
    stream: CallStream,
    maxReceiveBytes: number,
  ) {
    super(method.path, stream, maxReceiveBytes);
    stream.attach({ onData: (chunk) => this.onData(chunk), onEnd: () => this.onEnd(), onClose: () => this.onClose() });
    this.armDeadline((s) => this.finish(s));
  }

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    let msgs: RawMessage[];
    try {
      msgs = this.reader.push(chunk);
    } catch (err) {
      if (err instanceof TooLargeError) return this.finish({ code: Code.RESOURCE_EXHAUSTED, details: err.message });
      throw err;
    }
    for (const m of msgs) {
      if (this.message) this.extra = true;
      else this.message = m;
    }
  }

  private onEnd(): void {
    if (this.finished) return;
    const path = this.method.path;
    // grpc-js's texts (it says "server streaming" for unary calls too).
    if (this.extra) return this.finish({ code: Code.UNIMPLEMENTED, details: `Received a second request message for server streaming method ${path}` });
    const m = this.message;
    if (!m) return this.finish({ code: Code.UNIMPLEMENTED, details: `Received no request message for server streaming method ${path}` });
    this.message = undefined;
    let bytes = m.bytes;
    if (m.compressed) {
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

  private onClose(): void {
    this.clearDeadline();
    if (!this.finished) this.cancelled = true;
    this.finished = true;
  }
}
