// The client API's gRPC server on our own HTTP/2 connections (--experimental-grpc-server=h2):
// sockets from the listeners (plaintext after the preface sniff, or TLS with ALPN h2) become
// H2Connections; each request stream runs the same call layer as the lean server
// (lean-grpc/unary-call.ts, stream-call.ts). Requests it does not serve get grpc-js's answers,
// byte for byte what its Server#_streamHandler sends: a content type that is not gRPC's gets
// HTTP 415, an unknown path a trailers-only UNIMPLEMENTED; both with node's date header.

import type { Duplex } from 'node:stream';
import type { Logger } from '../../log.js';
import { methodFor, startCall } from '../lean-grpc/lean-server.js';
import type { StreamMethod } from '../lean-grpc/stream-call.js';
import type { UnaryMethod } from '../lean-grpc/unary-call.js';
import { H2Connection } from './connection.js';
import type { H2Stream } from './stream.js';

export interface H2GrpcOptions {
  /** Largest request message accepted (etcd: max-request-bytes plus gRPC overhead). */
  readonly maxReceiveBytes: number;
  readonly maxConcurrentStreams: number;
  readonly logger?: Logger;
}

const UNIMPLEMENTED = '12';
const PRINTABLE = /^[\x20-\x7e]*$/;

export class H2GrpcServer {
  private readonly connections = new Set<H2Connection>();
  private readonly methods = new Map<string, UnaryMethod | StreamMethod>();
  private closing = false;

  constructor(
    methods: Iterable<UnaryMethod | StreamMethod>,
    private readonly opts: H2GrpcOptions,
  ) {
    for (const m of methods) this.methods.set(m.path, m);
  }

  injectConnection(socket: Duplex): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const c: H2Connection = new H2Connection(socket, {
      maxConcurrentStreams: this.opts.maxConcurrentStreams,
      onStream: (s) => this.onStream(s),
      onError: (err) => this.opts.logger?.warn('gRPC connection error', { err, peer: c.peerAddress }),
      onClose: () => this.connections.delete(c),
    });
    this.connections.add(c);
  }

  /** Sends GOAWAY on every connection and takes no new ones. */
  close(): void {
    this.closing = true;
    for (const c of this.connections) c.goaway();
  }

  private onStream(s: H2Stream): void {
    const m = methodFor(this.methods, s.headers);
    if (m) return startCall(m, s, this.opts.maxReceiveBytes);
    const ct = s.headers['content-type'];
    if (typeof ct !== 'string' || !ct.startsWith('application/grpc')) {
      return s.respondHeadersOnly([
        [':status', '415'],
        ['date', httpDate()],
      ]);
    }
    const path = String(s.headers[':path']);
    // grpc-js sends the path as it came; a byte outside printable ASCII is percent-encoded here.
    const text = `The server does not implement the method ${PRINTABLE.test(path) ? path : encodeURIComponent(path)}`;
    s.respondHeadersOnly([
      [':status', '200'],
      ['grpc-status', UNIMPLEMENTED],
      ['grpc-message', text],
      ['content-type', 'application/grpc+proto'],
      ['date', httpDate()],
    ]);
  }
}

let dateSecond = -1;
let dateText = '';

/** node's `date` header: the current time in RFC 7231 form, made once a second. */
function httpDate(): string {
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  if (sec !== dateSecond) {
    dateSecond = sec;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}
