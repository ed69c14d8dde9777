// The narrow stream a gRPC call runs over, so one call layer (unary-call.ts, stream-call.ts)
// serves both HTTP/2 servers: node:http2's streams (NodeCallStream, below) and our own framer's
// (../h2/stream.ts). A call attaches one sink for what the client sends and answers with
// framed messages and a status; everything HTTP/2 (headers, trailers, flow control) is the
// stream's.

import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { frameMessage } from './wire.js';

/** Header fields of a status (trailers, or a trailers-only answer). */
export type StatusFields = Record<string, string | string[]>;

export type AuthContext = { transportSecurityType?: string; sslPeerCertificate?: ReturnType<TLSSocket['getPeerCertificate']> };

/** What a call hears from its stream. */
export interface CallSink {
  /** Request body bytes (DATA), in order. */
  onData(chunk: Buffer): void;
  /** The client half-closed its side. */
  onEnd(): void;
  /** The stream is gone: answered and closed, reset by the client, or its connection lost. */
  onClose(): void;
  /** The send buffer went below its mark (only set by calls that write streams). */
  onDrain?(): void;
}

export interface CallStream {
  /** The request's header fields (names lower case). */
  readonly headers: IncomingHttpHeaders;
  /** Nothing more can be sent: the stream ended or was reset. */
  readonly gone: boolean;
  readonly headersSent: boolean;
  /** Bytes accepted by writeMessage() and not yet handed to the connection. */
  readonly writableLength: number;
  attach(sink: CallSink): void;
  /** The response headers if not sent yet, then one message (its unframed body); false: wait for onDrain. */
  writeMessage(body: Buffer): boolean;
  /** A whole unary answer: response headers, the message (unframed body) and OK trailers. */
  respondOk(body: Buffer): void;
  /** Ends the call with a status: trailers after headers, or a trailers-only answer. */
  sendStatus(fields: StatusFields): void;
  /** Hold (pause) or let through (resume) the request body. */
  pause(): void;
  resume(): void;
  peer(): string;
  authContext(): AuthContext;
}

/** grpc-js's response headers, so clients see the same ones from every server. */
export const RESPONSE_HEADERS = {
  ':status': 200,
  'content-type': 'application/grpc+proto',
  'grpc-accept-encoding': 'identity,deflate,gzip',
  'grpc-encoding': 'identity',
};

export const OK_TRAILERS: StatusFields = Object.freeze({ 'grpc-status': '0', 'grpc-message': 'OK' });

const WITH_TRAILERS = { waitForTrailers: true, sendDate: false };
const END_STREAM = { endStream: true, sendDate: false };

/** A node:http2 server stream as a CallStream. */
export class NodeCallStream implements CallStream {
  constructor(
    private readonly stream: ServerHttp2Stream,
    readonly headers: IncomingHttpHeaders,
  ) {}

  get gone(): boolean {
    return this.stream.destroyed || this.stream.closed;
  }

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  get writableLength(): number {
    return this.stream.writableLength;
  }

  attach(sink: CallSink): void {
    const s = this.stream;
    s.on('data', (chunk: Buffer) => sink.onData(chunk));
    s.on('end', () => sink.onEnd());
    s.on('close', () => sink.onClose());
    if (sink.onDrain) s.on('drain', () => sink.onDrain!());
  }

  writeMessage(body: Buffer): boolean {
    const s = this.stream;
    if (!s.headersSent) s.respond(RESPONSE_HEADERS, WITH_TRAILERS);
    return s.write(frameMessage(body));
  }

  respondOk(body: Buffer): void {
    const s = this.stream;
    if (this.gone) return;
    s.respond(RESPONSE_HEADERS, WITH_TRAILERS);
    s.once('wantTrailers', () => s.sendTrailers(OK_TRAILERS));
    s.end(frameMessage(body));
  }

  sendStatus(fields: StatusFields): void {
    const s = this.stream;
    if (this.gone) return;
    if (s.headersSent) {
      s.once('wantTrailers', () => s.sendTrailers(fields));
      s.end();
    } else {
      s.respond({ ...RESPONSE_HEADERS, ...fields }, END_STREAM);
    }
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  peer(): string {
    const s = this.stream.session?.socket;
    if (!s?.remoteAddress) return 'unknown';
    return s.remotePort ? `${s.remoteAddress}:${s.remotePort}` : s.remoteAddress;
  }

  authContext(): AuthContext {
    const s = this.stream.session?.socket as Partial<TLSSocket> | undefined;
    if (typeof s?.getPeerCertificate !== 'function') return {};
    return { transportSecurityType: 'ssl', sslPeerCertificate: s.getPeerCertificate() };
  }
}
