// Listening sockets. A client URL serves gRPC and HTTP/1.1 on one port, as etcd does with cmux:
// the first bytes of a connection decide. An HTTP/2 connection (etcdctl, client libraries)
// starts with the preface "PRI * HTTP/2.0"; anything else is HTTP/1.1 (curl, probes, the
// gateway). Over TLS, ALPN decides instead ("h2" -> gRPC).
// An HTTP/1.1 socket goes to the HTTP server as it is (unshift of the sniffed bytes works for
// it); an HTTP/2 socket is wrapped in a small Duplex that replays the sniffed bytes, because
// node's http2 reads the raw handle and would miss bytes already read.

import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Logger } from '../log.js';

export interface GrpcInjector {
  injectConnection(connection: Duplex): void;
}

export interface TlsFilesOption {
  readonly certFile: string;
  readonly keyFile: string;
  readonly trustedCaFile: string;
  readonly clientCertAuth: boolean;
}

/** How long a new connection may stay silent before the sniffer gives up on it. */
export const SNIFF_TIMEOUT_MS = 10_000;

const PREFACE = Buffer.from('PRI');

/** Wraps a socket whose first chunk was already read, so the reader sees that chunk first. */
export function replaySocket(sock: net.Socket, first: Buffer): Duplex {
  const d = new Duplex({
    read() {
      sock.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      sock.write(chunk, cb);
    },
    final(cb) {
      sock.end();
      cb();
    },
    destroy(err, cb) {
      sock.destroy(err ?? undefined);
      cb(err);
    },
  });
  d.push(first);
  sock.on('data', (c: Buffer) => {
    if (!d.push(c)) sock.pause();
  });
  sock.on('end', () => d.push(null));
  sock.on('error', (e) => d.destroy(e));
  sock.on('close', () => d.destroy());
  sock.setNoDelay(true);
  return d;
}

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

function tlsOptions(files: TlsFilesOption, alpn: string[]): tls.TlsOptions {
  return {
    cert: readFileSync(files.certFile),
    key: readFileSync(files.keyFile),
    ...(files.trustedCaFile !== '' ? { ca: readFileSync(files.trustedCaFile) } : {}),
    requestCert: files.clientCertAuth,
    rejectUnauthorized: files.clientCertAuth,
    ALPNProtocols: alpn,
  };
}

/** A client URL: gRPC and HTTP/1.1 on one port. */
export async function listenClient(
  url: string,
  grpc: GrpcInjector,
  http: HttpServer,
  tlsFiles: TlsFilesOption | undefined,
  logger: Logger,
): Promise<Listener> {
  const parts = parseListenUrl(url);
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  let server: net.Server;
  if (parts.tls) {
    if (!tlsFiles || tlsFiles.certFile === '') throw new Error(`${url}: https needs --cert-file and --key-file`);
    server = tls.createServer(tlsOptions(tlsFiles, ['h2', 'http/1.1']), (sock) => {
      track(sock);
      if (sock.alpnProtocol === 'h2') grpc.injectConnection(sock);
      else http.emit('connection', sock);
    });
    server.on('tlsClientError', (err) => logger.debug('client TLS handshake failed', { err }));
  } else {
    server = net.createServer((sock) => {
      track(sock);
      sock.setTimeout(SNIFF_TIMEOUT_MS, () => sock.destroy());
      sock.once('data', (chunk: Buffer) => {
        sock.setTimeout(0);
        sock.pause();
        if (chunk.length >= 3 && chunk.subarray(0, 3).equals(PREFACE)) {
          grpc.injectConnection(replaySocket(sock, chunk));
        } else {
          sock.unshift(chunk);
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
  return { url, port, close: () => closeServer(server, sockets) };
}

/** A metrics URL: HTTP/1.1 only. */
export async function listenHttp(url: string, http: HttpServer, tlsFiles: TlsFilesOption | undefined): Promise<Listener> {
  const parts = parseListenUrl(url);
  const sockets = new Set<net.Socket>();
  const onSock = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    http.emit('connection', s);
  };
  let server: net.Server;
  if (parts.tls) {
    if (!tlsFiles || tlsFiles.certFile === '') throw new Error(`${url}: https needs --cert-file and --key-file`);
    server = tls.createServer(tlsOptions(tlsFiles, ['http/1.1']), onSock);
  } else {
    server = net.createServer(onSock);
  }
  await listen(server, parts);
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : parts.port;
  return { url, port, close: () => closeServer(server, sockets) };
}
