// A gRPC server written on node:http2 for the member's client API: the stream's headers pick
// the method by :path, the request is read and answered on the raw stream (unary-call.ts,
// stream-call.ts), with none of grpc-js's per-call interceptor chain, Metadata copy, Duplex
// wrapper or decoder objects. Unknown paths and bad content types go to grpc-js's own stream
// handler on the same HTTP/2 session, so they are refused exactly as before.
// Session options are grpc-js's: no header-block or session-memory limits, unbounded streams.

import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import { NodeCallStream } from './call-stream.js';
import type { CallStream } from './call-stream.js';
import { LeanStreamCall } from './stream-call.js';
import type { StreamMethod } from './stream-call.js';
import { LeanUnaryCall } from './unary-call.js';
import type { UnaryMethod } from './unary-call.js';

/** Handles one stream the lean server does not serve itself. */
export type StreamFallback = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;

export interface LeanGrpcOptions {
  /** Largest request message accepted (etcd: max-request-bytes plus gRPC overhead). */
  readonly maxReceiveBytes: number;
  readonly maxConcurrentStreams: number;
  readonly fallback: StreamFallback;
}

export class LeanGrpcServer {
  private readonly h2: http2.Http2Server;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly methods = new Map<string, UnaryMethod | StreamMethod>();

  constructor(
    methods: Iterable<UnaryMethod | StreamMethod>,
    private readonly opts: LeanGrpcOptions,
  ) {
    for (const m of methods) this.methods.set(m.path, m);
    this.h2 = http2.createServer({
      maxSendHeaderBlockLength: Number.MAX_SAFE_INTEGER,
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
      settings: { maxConcurrentStreams: opts.maxConcurrentStreams },
    });
    this.h2.setTimeout(0);
    this.h2.on('session', (s: http2.ServerHttp2Session) => {
      this.sessions.add(s);
      s.on('close', () => this.sessions.delete(s));
      s.on('error', () => s.destroy());
    });
    this.h2.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => this.onStream(stream, headers));
  }

  injectConnection(connection: Duplex): void {
    this.h2.emit('connection', connection);
  }

  /** Sends GOAWAY on every session and stops taking connections. */
  close(): void {
    for (const s of this.sessions) s.close();
    this.h2.close();
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const m = methodFor(this.methods, headers);
    if (!m) return this.opts.fallback(stream, headers);
    // Errors on the stream end it; the 'close' that follows tells the call.
    stream.on('error', () => {});
    startCall(m, new NodeCallStream(stream, headers), this.opts.maxReceiveBytes);
  }
}

/** The method a request's headers name, if we serve it and the content type is gRPC's. */
export function methodFor(methods: ReadonlyMap<string, UnaryMethod | StreamMethod>, headers: http2.IncomingHttpHeaders): UnaryMethod | StreamMethod | undefined {
  const m = methods.get(headers[':path'] ?? '');
  const ct = headers['content-type'];
  if (!m || typeof ct !== 'string' || !ct.startsWith('application/grpc')) return undefined;
  return m;
}

/** Runs a call of `m` on the stream (either server's). */
export function startCall(m: UnaryMethod | StreamMethod, stream: CallStream, maxReceiveBytes: number): void {
  if ('kind' in m) new LeanStreamCall(m, stream, maxReceiveBytes);
  else new LeanUnaryCall(m, stream, maxReceiveBytes);
}
