// Listening sockets. A client URL serves gRPC and HTTP/1.1 on one port, as etcd does with cmux:
// the first bytes of a connection decide. An HTTP/2 connection (etcdctl, client libraries)
// starts with the preface "PRI * HTTP/2.0"; anything else is HTTP/1.1 (curl, probes, the
// gateway). Over TLS, ALPN decides instead ("h2" -> gRPC).
// The sniffed bytes are put back with unshift() and the socket handed over paused: node's HTTP
// server reads them from the stream buffer, and node's http2 (>= 20) takes bytes already
// buffered on the socket before it starts reading the handle natively, so gRPC keeps node's
// native stream path (no JS stream wrapper; server.test.ts proves etcdctl works through it).

import type { Server as HttpServer } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Logger } from '../log.js';
import type { TlsMaterial, TlsSource } from '../tls/tls-file-reloader.js';

export interface GrpcInjector {
  injectConnection(connection: Duplex): void;
}

export interface TlsFilesOption {
  readonly certFile: string;
  readonly keyFile: string;
  readonly trustedCaFile: string;
  readonly clientCertAuth: boolean;
}

/** A listener's TLS: material that may change (new connections get it), and the fixed client-cert rule. */
export interface ListenerTls {
  readonly source: TlsSource;
  readonly clientCertAuth: boolean;
}

/** How long a new connection may stay silent before the sniffer gives up on it. */
export const SNIFF_TIMEOUT_MS = 10_000;

const PREFACE = Buffer.from('PRI');

export interface UrlParts {
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
}

export function parseListenUrl(u: string): UrlParts {
  const url = new URL(u);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return { tls: url.protocol === 'https:', host, port: Number(url.port) };
}

export interface Listener {
  readonly url: string;
  /** The port actually bound (useful with port 0 in tests). */
  readonly port: number;
  close(): Promise<void>;
}

function listen(server: net.Server, parts: UrlParts): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(parts.port, parts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const s of sockets) s.destroy();
  });
}

function contextOptions(m: TlsMaterial): tls.SecureContextOptions {
  return { cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca } : {}) };
}

/**
 * A TLS server whose certificate follows its source: setSecureContext swaps the context for new
 * handshakes only, so open connections keep theirs. Returns the server and the unsubscribe.
 */
function reloadingTlsServer(t: ListenerTls, alpn: string[], onSocket: (s: tls.TLSSocket) => void): { server: tls.Server; unsubscribe: () => void } {
  const server = tls.createServer(
    { ...contextOptions(t.source.current()), requestCert: t.clientCertAuth, rejectUnauthorized: t.clientCertAuth, ALPNProtocols: alpn },
    onSocket,
  );
  const unsubscribe = t.source.subscribe((m) => server.setSecureContext(contextOptions(m)));
  return { server, unsubscribe };
}

/** A client URL: gRPC and HTTP/1.1 on one port. */
export async function listenClient(
  url: string,
  grpc: GrpcInjector,
  http: HttpServer,
  tlsConfig: ListenerTls | undefined,
  logger: Logger,
): Promise<Listener> {
  const parts = parseListenUrl(url);
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  let server: net.Server;
  let unsubscribe = (): void => {};
  if (parts.tls) {
    if (!tlsConfig) throw new Error(`${url}: https needs --cert-file and --key-file`);
    ({ server, unsubscribe } = reloadingTlsServer(tlsConfig, ['h2', 'http/1.1'], (sock) => {
      track(sock);
      if (sock.alpnProtocol === 'h2') grpc.injectConnection(sock);
      else http.emit('connection', sock);
    }));
    server.on('tlsClientError', (err) => logger.debug('client TLS handshake failed', { err }));
  } else {
    server = net.createServer((sock) => {
      track(sock);
      sock.setTimeout(SNIFF_TIMEOUT_MS, () => sock.destroy());
      sock.once('data', (chunk: Buffer) => {
        sock.setTimeout(0);
        sock.pause();
        sock.unshift(chunk);
        if (chunk.length >= 3 && chunk.subarray(0, 3).equals(PREFACE)) {
          sock.setNoDelay(true);
          grpc.injectConnection(sock);
        } else {
          http.emit('connection', sock);
          sock.resume();
        }
      });
      sock.on('error', () => sock.destroy());
    });
  }
  await listen(server, parts);
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : parts.port;
  return { url, port, close: () => (unsubscribe(), closeServer(server, sockets)) };
}

/** A metrics URL: HTTP/1.1 only. */
export async function listenHttp(url: string, http: HttpServer, tlsConfig: ListenerTls | undefined): Promise<Listener> {
  const parts = parseListenUrl(url);
  const sockets = new Set<net.Socket>();
  const onSock = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    http.emit('connection', s);
  };
  let server: net.Server;
  let unsubscribe = (): void => {};
  if (parts.tls) {
    if (!tlsConfig) throw new Error(`${url}: https needs --cert-file and --key-file`);
    ({ server, unsubscribe } = reloadingTlsServer(tlsConfig, ['http/1.1'], onSock));
  } else {
    server = net.createServer(onSock);
  }
  await listen(server, parts);
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : parts.port;
  return { url, port, close: () => (unsubscribe(), closeServer(server, sockets)) };
}
