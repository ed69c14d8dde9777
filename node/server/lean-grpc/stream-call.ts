// A streaming call (bidi: Watch, LeaseKeepAlive; server stream: Snapshot, Health.Watch) on an
// HTTP/2 stream (call-stream.ts), with the surface the handlers use of grpc-js's ServerDuplexStream and
// ServerWritableStream: 'data' per request message (pause/resume hold them), 'end' at the
// client's half-close, write() -> false past the stream's high-water mark with 'drain' after,
// writableLength in bytes, end() for status OK, emit('error', status) to fail the call, and
// 'cancelled' then 'close' once the HTTP/2 stream is gone.

import { EventEmitter } from 'node:events';
import { Code, LeanCall, decompress, sendStatus, statusOfError } from './call-common.js';
import type { Status } from './call-common.js';
import type { CallStream } from './call-stream.js';
import type { MethodCodec } from './unary-call.js';
import { PREFIX_BYTES, TooLargeError } from './wire.js';

export interface StreamMethod extends MethodCodec {
  readonly kind: 'bidi' | 'serverStream';
  readonly handler: (call: unknown) => void;
}

// A streaming call is an EventEmitter (handlers listen and emit on it, as on grpc-js's calls):
// EventEmitter's methods are mixed into the class below, and its constructor runs on each call.
export interface LeanStreamCall extends EventEmitter {}

export class LeanStreamCall extends LeanCall {
  private statusSent = false;
  private gone = false;
  private paused = false;
  private halfClosed = false;
  private endEmitted = false;
  private started = false;
  private readonly pending: unknown[] = [];

  constructor(
    private readonly method: StreamMethod,
    stream: CallStream,
    maxReceiveBytes: number,
  ) {
    super(method.path, stream, maxReceiveBytes);
    EventEmitter.call(this);
    // A handler fails the call by emitting 'error' with a status (grpc-js's contract).
    this.on('error', (err: unknown) => this.finish(statusOfError(err)));
    stream.attach({
      onData: (chunk) => this.onData(chunk),
      onEnd: () => {
        this.halfClosed = true;
        this.flush();
      },
      onDrain: () => this.emit('drain'),
      onClose: () => this.onClose(),
    });
    this.armDeadline();
    if (method.kind === 'bidi') this.start();
  }

  get writableLength(): number {
    return this.stream.writableLength;
  }

  pause(): this {
    this.paused = true;
    this.stream.pause();
    return this;
  }

  resume(): this {
    this.paused = false;
    this.stream.resume();
    this.flush();
    return this;
  }

  /** Sends one response message; false when the send buffer is past its mark ('drain' follows). */
  write(message: unknown): boolean {
    if (this.statusSent || this.gone) return true;
    let body: Buffer;
    try {
      body = this.method.serialize(message);
    } catch {
      this.finish({ code: Code.INTERNAL, details: 'Error serializing response' });
      return true;
    }
    return this.stream.writeMessage(body);
  }

  /** Ends the call with status OK. */
  end(): this {
    this.finish({ code: Code.OK, details: 'OK' });
    return this;
  }

  private start(): void {
    if (this.started || this.statusSent) return;
    this.started = true;
    this.method.handler(this);
  }

  private onData(chunk: Buffer): void {
    if (this.statusSent || this.gone) return;
    try {
      // One whole message in one chunk, nothing before it (nearly every request): no reader.
      const len = this.loneMessage(chunk);
      if (len >= 0) {
        if (this.maxReceiveBytes >= 0 && len > this.maxReceiveBytes) throw new TooLargeError(len, this.maxReceiveBytes);
        if (!this.take(chunk[0] === 1, chunk.subarray(PREFIX_BYTES))) return;
      } else {
        for (const m of this.reader.push(chunk)) if (!this.take(m.compressed, m.bytes)) return;
      }
    } catch (err) {
      if (err instanceof TooLargeError) return this.finish({ code: Code.RESOURCE_EXHAUSTED, details: err.message });
      return this.finish({ code: Code.INTERNAL, details: 'Error deserializing request' });
    }
    this.flush();
  }

  /** Decodes one request message onto the queue; false when the call was failed instead. */
  private take(compressed: boolean, bytes: Buffer): boolean {
    if (compressed) {
      const plain = decompress(bytes, this.headers['grpc-encoding'], this.maxReceiveBytes);
      if (!Buffer.isBuffer(plain)) {
        this.finish(plain);
        return false;
      }
      bytes = plain;
    }
    this.pending.push(this.method.deserialize(bytes));
    return true;
  }

  /** Hands queued messages to the handler (bidi) or starts it (server stream) in order. */
  private flush(): void {
    if (this.method.kind === 'serverStream') return this.startServerStream();
    while (!this.paused && this.pending.length > 0 && !this.statusSent && !this.gone) this.emit('data', this.pending.shift());
    if (this.halfClosed && this.pending.length === 0 && !this.endEmitted && !this.statusSent && !this.gone) {
      this.endEmitted = true;
      this.emit('end');
    }
  }

  /** A server stream runs once its one request message and the half-close are in (grpc-js's texts). */
  private startServerStream(): void {
    if (this.started || this.statusSent || !this.halfClosed) return;
    const path = this.method.path;
    if (this.pending.length > 1) return this.finish({ code: Code.UNIMPLEMENTED, details: `Received a second request message for server streaming method ${path}` });
    if (this.pending.length === 0) return this.finish({ code: Code.UNIMPLEMENTED, details: `Received no request message for server streaming method ${path}` });
    this.request = this.pending.shift();
    this.start();
  }

  expire(s: Status): void {
    this.finish(s);
  }

  private finish(s: Status): void {
    if (this.statusSent) return;
    this.statusSent = true;
    this.clearDeadline();
    if (this.gone) return;
    sendStatus(this.stream, s);
    // Whatever the client still sends is read and dropped, so its flow-control window stays open.
    this.stream.resume();
  }

  private onClose(): void {
    if (this.gone) return;
    this.gone = true;
    this.clearDeadline();
    this.cancelled = !this.statusSent;
    this.statusSent = true;
    this.emit('cancelled', 'cancelled');
    this.emit('close');
  }
}

for (const key of Reflect.ownKeys(EventEmitter.prototype)) {
  if (key === 'constructor' || Object.prototype.hasOwnProperty.call(LeanStreamCall.prototype, key)) continue;
  Object.defineProperty(LeanStreamCall.prototype, key, Object.getOwnPropertyDescriptor(EventEmitter.prototype, key)!);
}
