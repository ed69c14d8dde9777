// One unary call on a raw HTTP/2 stream: read the request's one message, run the handler (the
// same grpc-js style handler(call, callback) the grpc-js server runs), and answer with headers,
// one DATA write and trailers, or a trailers-only error. The call object carries what handlers
// read from grpc-js's ServerUnaryCall: request, metadata, getPeer, getDeadline, getAuthContext.

import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { HeaderMetadata, MessageReader, TooLargeError, encodeGrpcMessage, frameMessage, parseTimeout } from './wire.js';
import type { RawMessage } from './wire.js';

export interface UnaryMethod {
  readonly path: string;
  readonly deserialize: (b: Buffer) => unknown;
  readonly serialize: (v: unknown) => Buffer;
  readonly handler: (call: unknown, callback: (err: unknown, value?: unknown) => void) => void;
}

interface StatusLike {
  readonly code?: number;
  readonly details?: string;
  readonly metadata?: { toHttp2Headers?: () => Record<string, string | string[]> } | null;
}

const UNKNOWN = 2;
const DEADLINE_EXCEEDED = 4;
const RESOURCE_EXHAUSTED = 8;
const UNIMPLEMENTED = 12;
const INTERNAL = 13;

/** grpc-js's response headers, so clients see the same ones from either server. */
const RESPONSE_HEADERS = {
  ':status': 200,
  'content-type': 'application/grpc+proto',
  'grpc-accept-encoding': 'identity,deflate,gzip',
  'grpc-encoding': 'identity',
};
const OK_TRAILERS = { 'grpc-status': '0', 'grpc-message': 'OK' };
const WITH_TRAILERS = { waitForTrailers: true, sendDate: false };
const END_STREAM = { endStream: true, sendDate: false };

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

export class LeanUnaryCall {
  readonly metadata: HeaderMetadata;
  request: unknown = undefined;
  cancelled = false;
  private finished = false;
  private message: RawMessage | undefined;
  private extra = false;
  private readonly reader: MessageReader;
  private timer: NodeJS.Timeout | undefined;
  private deadline = Infinity;

  constructor(
    private readonly method: UnaryMethod,
    private readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
    maxReceiveBytes: number,
  ) {
    this.metadata = new HeaderMetadata(headers);
    this.reader = new MessageReader(maxReceiveBytes);
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('end', () => this.onEnd());
    stream.on('close', () => this.onClose());
    const t = parseTimeout(headers['grpc-timeout']);
    if (t === undefined) return;
    if (Number.isNaN(t)) {
      this.finish(INTERNAL, `Invalid grpc-timeout value "${String(headers['grpc-timeout'])}"`);
      return;
    }
    this.deadline = Date.now() + t;
    this.timer = setTimeout(() => this.finish(DEADLINE_EXCEEDED, 'Deadline exceeded'), t);
  }

  getPath(): string {
    return this.method.path;
  }

  getDeadline(): number {
    return this.deadline;
  }

  getPeer(): string {
    const s = this.stream.session?.socket;
    if (!s?.remoteAddress) return 'unknown';
    return s.remotePort ? `${s.remoteAddress}:${s.remotePort}` : s.remoteAddress;
  }

  /** grpc-js's auth context: over TLS, the peer's certificate. */
  getAuthContext(): { transportSecurityType?: string; sslPeerCertificate?: ReturnType<TLSSocket['getPeerCertificate']> } {
    const s = this.stream.session?.socket as Partial<TLSSocket> | undefined;
    if (typeof s?.getPeerCertificate !== 'function') return {};
    return { transportSecurityType: 'ssl', sslPeerCertificate: s.getPeerCertificate() };
  }

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    let msgs: RawMessage[];
    try {
      msgs = this.reader.push(chunk);
    } catch (err) {
      if (err instanceof TooLargeError) return this.finish(RESOURCE_EXHAUSTED, err.message);
      throw err;
    }
    for (const m of msgs) {
      if (this.message) this.extra = true;
      else this.message = m;
    }
  }

  private onEnd(): void {
    if (this.finished) return;
    if (this.extra) return this.finish(UNIMPLEMENTED, `Received a second request message for server streaming method ${this.method.path}`);
    const m = this.message;
    if (!m) return this.finish(UNIMPLEMENTED, `Received no request message for server streaming method ${this.method.path}`);
    this.message = undefined;
    if (m.compressed) void this.decompressThenRun(m.bytes);
    else this.run(m.bytes);
  }

  private async decompressThenRun(bytes: Buffer): Promise<void> {
    const enc = String(this.headers['grpc-encoding'] ?? 'identity');
    let plain: Buffer;
    try {
      if (enc === 'gzip') plain = await gunzip(bytes);
      else if (enc === 'deflate') plain = await inflate(bytes);
      else return this.finish(UNIMPLEMENTED, `Received message compressed with unsupported encoding "${enc}"`);
    } catch {
      return this.finish(INTERNAL, 'Failed to decompress message');
    }
    this.run(plain);
  }

  private run(bytes: Buffer): void {
    if (this.finished) return;
    try {
      this.request = this.method.deserialize(bytes);
    } catch {
      return this.finish(INTERNAL, 'Error deserializing request');
    }
    this.method.handler(this, (err, value) => this.reply(err, value));
  }

  private reply(err: unknown, value: unknown): void {
    if (this.finished) return;
    if (err) {
      const s = err as StatusLike;
      return this.finish(typeof s.code === 'number' ? s.code : UNKNOWN, s.details ?? String(err), s.metadata?.toHttp2Headers?.());
    }
    let body: Buffer;
    try {
      body = this.method.serialize(value);
    } catch {
      return this.finish(INTERNAL, 'Error serializing response');
    }
    if (!this.settle()) return;
    const stream = this.stream;
    stream.respond(RESPONSE_HEADERS, WITH_TRAILERS);
    stream.once('wantTrailers', () => stream.sendTrailers(OK_TRAILERS));
    stream.end(frameMessage(body));
  }

  /** A status without a message: trailers-only (HEADERS with END_STREAM). */
  private finish(code: number, details: string, extra?: Record<string, string | string[]>): void {
    if (!this.settle()) return;
    const headers: Record<string, string | number | string[]> = {
      ...RESPONSE_HEADERS,
      ...extra,
      'grpc-status': String(code),
      'grpc-message': encodeGrpcMessage(details),
    };
    this.stream.respond(headers, END_STREAM);
  }

  /** Marks the call answered; false if it already was, or the client has gone. */
  private settle(): boolean {
    if (this.finished) return false;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.stream.destroyed || this.stream.closed || this.stream.headersSent) return false;
    return true;
  }

  private onClose(): void {
    if (this.timer) clearTimeout(this.timer);
    if (!this.finished) this.cancelled = true;
    this.finished = true;
  }
}
