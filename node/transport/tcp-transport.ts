// The real peer transport: raw TCP (or TLS when peer certs are given) with length-prefixed
// frames (frames.ts) carrying batches of binary-encoded Raft messages (codec.ts).
//
// Why raw TCP and not HTTP/2: a Raft stream is one long-lived, one-way, ordered pipe per peer;
// HTTP/2 would add framing, flow-control windows and header processing on the hottest path
// without giving us anything we use (no multiplexing need, no proxies in between). Raw sockets
// give us backpressure (socket.write's return value / writableLength), TCP_NODELAY, and one
// write syscall per batch. TLS is the same code over node:tls.
//
// Shape, after etcd's rafthttp:
// - Each member dials one outgoing "stream" connection to every peer and only sends on it;
//   what a peer sends us arrives on the connection that peer dialled. Pipelining is free:
//   appends are written back to back and never wait for a reply.
// - send() queues messages per peer; a microtask later all queued messages leave as one
//   frame (one write) per peer. The queue and the socket's unsent bytes are bounded: past
//   the bound a message is dropped and counted as a send failure (raft retransmits), and
//   raft is told the peer is unreachable so it falls back to probing.
// - While a peer is down, messages to it are dropped (not queued) and the dialler reconnects
//   with exponential backoff (50 ms doubling to 1 s, with jitter). When the peer dials us (it
//   restarted, or its partition healed), we dial it back at once instead of waiting out the
//   backoff: in etcd's rafthttp the receiver dials the streams it reads, so a restarted member
//   hears from its peers as soon as it is up, and ours must not lag that by up to a second.
// - Snapshots ('snap' messages) go over a separate, short-lived connection in 1 MiB chunks,
//   so heartbeats keep flowing on the stream meanwhile; the receiver acks the whole snapshot
//   and we report the outcome to raft (reportSnapshot). The data is a stream on both sides
//   (snapshot-body.ts): the sender reads it from the handler's body (a snapshot file) chunk by
//   chunk, with the socket's drain as back-pressure; a receiver with a spool dir writes it to a
//   file (snapshot-spool.ts), checks the byte count and the CRC-32C sent in snapEnd, and hands
//   the handler a body that reads the file back. Neither side holds the whole snapshot.
// - Every connection starts with a hello naming the cluster id, the sender and the intended
//   receiver; a mismatch is refused with a reason, so two clusters never cross-talk.
// - A ping/pong every pingIntervalMs measures the round trip time per peer.

import * as net from 'node:net';
import * as tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { Message, NodeId } from '../raft/types.js';
import type { Logger } from '../log.js';
import { batchSize, decodeBatch, decodeMessage, encodeMessage, messageSize, writeBatch, type ByReference } from './codec.js';
import { FrameReader, FrameType, frame, frameHeader } from './frames.js';
import { REMOVED_REASON, RpcError, peerJson, type Transport, type TransportHandler, type TransportHooks } from './types.js';
import { bodyFromBytes, bounded, type SnapshotBody } from './snapshot-body.js';
import { clearSpoolDir, SnapshotSpool } from './snapshot-spool.js';
import { crc32c, crc32cUpdate } from '../lib/crc32c.js';

export interface PeerTlsOptions {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
  /** Server side: require and verify client certificates (--peer-client-cert-auth). */
  readonly requestCert: boolean;
}

/** New certificate files for the peer listener and dialer (the client-cert rule does not change). */
export type PeerTlsMaterial = Pick<PeerTlsOptions, 'cert' | 'key' | 'ca'>;

export interface TcpTransportOptions {
  readonly id: NodeId;
  readonly clusterId: bigint;
  /** --listen-peer-urls; http:// or https://, host:port. */
  readonly listenUrls: readonly string[];
  readonly handler: TransportHandler;
  readonly logger: Logger;
  readonly hooks?: TransportHooks;
  readonly tls?: PeerTlsOptions;
  /** Rotated certificate files arrive here (tls/tls-file-reloader.ts); subscribed from start to stop. */
  readonly tlsUpdates?: { subscribe(fn: (m: PeerTlsMaterial) => void): () => void };
  readonly maxQueueMsgs?: number;
  /** Stop accepting messages for a peer while this many bytes are unsent on its socket. */
  readonly maxUnsentBytes?: number;
  readonly maxFrameBytes?: number;
  readonly pingIntervalMs?: number;
  readonly snapshotChunkBytes?: number;
  /**
   * Received snapshots are spooled to files here (leftovers removed at start) and handed to
   * handler.receiveSnapshot; without it (or that method) they are gathered in memory.
   */
  readonly snapshotSpoolDir?: string;
  /** Bytes a receiving spool may hold before the socket is paused; default 8 MiB. */
  readonly snapshotSpoolBufferBytes?: number;
  readonly dialTimeoutMs?: number;
  readonly snapshotTimeoutMs?: number;
  /** Reconnect backoff: the first wait and the ceiling it doubles to (default 50 ms and 1 s). */
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
}

/** Node ids as decimal strings (JSON has no uint64). `wire`: the message codec's version. */
interface Hello {
  clusterId: string;
  from: string;
  to: string;
  kind: 'stream' | 'snapshot' | 'info';
  wire?: number;
}

/**
 * 2: node ids as u64 (codec.ts). A member of the old format (ids as float64) sends no `wire`; its
 * messages would not decode, so its hello is refused with a reason that names the cause.
 */
const WIRE_VERSION = 2;

interface PendingCall {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout;
}

const EMPTY = new Uint8Array(0);
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 1000;

function parseHostPort(u: string): { host: string; port: number; secure: boolean } {
  const url = new URL(u);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port), secure: url.protocol === 'https:' };
}

class Peer {
  urls: string[];
  urlIdx = 0;
  socket: net.Socket | undefined;
  connected = false;
  queue: Message[] = [];
  flushScheduled = false;
  attempts = 0;
  reconnectTimer: NodeJS.Timeout | undefined;
  pingTimer: NodeJS.Timeout | undefined;
  lastUnreachableMs = 0;
  pingSeq = 0;
  stopped = false;
  reader = new FrameReader();
  nextCallId = 1;
  calls = new Map<number, PendingCall>();

  constructor(
    readonly id: NodeId,
    urls: readonly string[],
  ) {
    this.urls = [...urls];
  }
}

export class TcpTransport implements Transport {
  private readonly peersById = new Map<NodeId, Peer>();
  private readonly servers: net.Server[] = [];
  private readonly inbound = new Set<net.Socket>();
  private started = false;
  private stopped = false;
  private readonly maxQueueMsgs: number;
  private readonly maxUnsentBytes: number;
  private readonly maxFrameBytes: number;
  private readonly pingIntervalMs: number;
  private readonly snapshotChunkBytes: number;
  private readonly dialTimeoutMs: number;
  private readonly backoffMinMs: number;
  private readonly backoffMaxMs: number;
  private readonly snapshotTimeoutMs: number;
  private readonly log: Logger;
  /** The current peer certificate files (updateTls replaces them on rotation). */
  private tls: PeerTlsOptions | undefined;
  private unsubscribeTls: (() => void) | undefined;
  private readonly clusterIdText: string;

  constructor(private readonly opts: TcpTransportOptions) {
    this.maxQueueMsgs = opts.maxQueueMsgs ?? 8192;
    this.maxUnsentBytes = opts.maxUnsentBytes ?? 64 * 1024 * 1024;
    this.maxFrameBytes = opts.maxFrameBytes ?? 8 * 1024 * 1024;
    this.pingIntervalMs = opts.pingIntervalMs ?? 2000;
    this.snapshotChunkBytes = opts.snapshotChunkBytes ?? 1024 * 1024;
    this.dialTimeoutMs = opts.dialTimeoutMs ?? 1000;
    this.backoffMinMs = opts.backoffMinMs ?? BACKOFF_MIN_MS;
    this.backoffMaxMs = opts.backoffMaxMs ?? BACKOFF_MAX_MS;
    this.snapshotTimeoutMs = opts.snapshotTimeoutMs ?? 120_000;
    this.log = opts.logger;
    this.clusterIdText = String(opts.clusterId);
    this.tls = opts.tls;
  }

  /**
   * Rotated certificate files: the listeners answer new handshakes with them and new dials present
   * them. Streams already open keep their TLS session (a rotation drops no connection).
   */
  updateTls(m: PeerTlsMaterial): void {
    if (!this.tls) return;
    this.tls = { ...this.tls, cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca } : {}) };
    for (const s of this.servers) {
      if (s instanceof tls.Server) s.setSecureContext({ cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca } : {}) });
    }
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.opts.snapshotSpoolDir !== undefined) {
      const gone = await clearSpoolDir(this.opts.snapshotSpoolDir);
      if (gone.length > 0) this.log.warn('removed unfinished snapshot spool files', { dir: this.opts.snapshotSpoolDir, files: gone });
    }
    for (const u of this.opts.listenUrls) {
      const { host, port, secure } = parseHostPort(u);
      const onConn = (s: net.Socket): void => this.accept(s);
      let server: net.Server;
      if (secure) {
        if (!this.opts.tls) throw new Error(`peer URL ${u} is https but no peer certificate is configured`);
        const t = this.tls ?? this.opts.tls;
        server = tls.createServer({ cert: t.cert, key: t.key, ca: t.ca, requestCert: t.requestCert, rejectUnauthorized: t.requestCert }, onConn);
      } else {
        server = net.createServer(onConn);
      }
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) => this.log.error('peer listener error', { url: u, err }));
      this.servers.push(server);
      this.log.info('listening for peers', { url: u });
    }
    this.unsubscribeTls = this.opts.tlsUpdates?.subscribe((m) => this.updateTls(m));
    for (const p of this.peersById.values()) this.dial(p);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribeTls?.();
    for (const p of this.peersById.values()) this.closePeer(p);
    for (const s of this.inbound) s.destroy();
    this.inbound.clear();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  /** The address the first listener is bound to (tests use port 0). */
  address(): net.AddressInfo | undefined {
    const a = this.servers[0]?.address();
    return a !== null && typeof a === 'object' ? a : undefined;
  }

  setPeer(id: NodeId, urls: readonly string[]): void {
    if (id === this.opts.id) return;
    const existing = this.peersById.get(id);
    if (existing) {
      const same = existing.urls.length === urls.length && existing.urls.every((u, i) => u === urls[i]);
      if (same) return;
      existing.urls = [...urls];
      existing.urlIdx = 0;
      existing.socket?.destroy();
      return;
    }
    const p = new Peer(id, urls);
    this.peersById.set(id, p);
    if (this.started && !this.stopped) this.dial(p);
  }

  removePeer(id: NodeId): void {
    const p = this.peersById.get(id);
    if (!p) return;
    this.peersById.delete(id);
    // What was sent before the removal still leaves: a leader that removes a member sends it the
    // commit of that removal in the same turn, and without it the member never learns it is out
    // (nor answers the client that asked for its removal).
    if (p.connected && p.queue.length > 0) this.flush(p);
    this.closePeer(p, true);
  }

  isActive(id: NodeId): boolean {
    return this.peersById.get(id)?.connected ?? false;
  }

  peers(): NodeId[] {
    return [...this.peersById.keys()];
  }

  send(msgs: readonly Message[]): void {
    for (const m of msgs) {
      const p = this.peersById.get(m.to);
      if (!p) {
        this.opts.hooks?.sendFailed?.(m.to, m);
        continue;
      }
      if (m.type === 'snap') {
        void this.sendSnapshot(p, m);
        continue;
      }
      if (!p.connected || p.queue.length >= this.maxQueueMsgs || (p.socket?.writableLength ?? 0) > this.maxUnsentBytes) {
        this.fail(p, m);
        continue;
      }
      p.queue.push(m);
      if (!p.flushScheduled) {
        p.flushScheduled = true;
        queueMicrotask(() => this.flush(p));
      }
    }
  }

  flushQueued(): void {
    for (const p of this.peersById.values()) if (p.flushScheduled) this.flush(p);
  }

  private fail(p: Peer, m: Message): void {
    this.opts.hooks?.sendFailed?.(p.id, m);
    const now = performance.now();
    if (now - p.lastUnreachableMs > 100) {
      p.lastUnreachableMs = now;
      this.opts.handler.reportUnreachable(p.id);
    }
  }

  private flush(p: Peer): void {
    p.flushScheduled = false;
    const s = p.socket;
    if (!s || !p.connected) {
      for (const m of p.queue) this.fail(p, m);
      p.queue = [];
      return;
    }
    let i = 0;
    const q = p.queue;
    p.queue = [];
    while (i < q.length) {
      // Cut the queue into frames of at most maxFrameBytes (one message may exceed it alone).
      let j = i;
      let bytes = 4;
      while (j < q.length) {
        const sz = messageSize(q[j]!);
        if (j > i && bytes + sz > this.maxFrameBytes) break;
        bytes += sz;
        j++;
      }
      const batch = q.slice(i, j);
      const size = batchSize(batch);
      // Large entry data is not copied into the frame: the socket takes the entries' own
      // buffers between the pieces of the rest (one writev), for every follower alike.
      const buf = Buffer.allocUnsafe(5 + batchSize(batch, true));
      buf.writeUInt32LE(size + 1, 0);
      buf[4] = FrameType.messages;
      const refs: ByReference = { cuts: [], data: [] };
      writeBatch(buf, 5, batch, refs);
      if (refs.data.length === 0) s.write(buf);
      else {
        s.cork();
        let at = 0;
        for (let k = 0; k < refs.data.length; k++) {
          const cut = refs.cuts[k]!;
          if (cut > at) s.write(buf.subarray(at, cut));
          s.write(refs.data[k]!);
          at = cut;
        }
        if (at < buf.byteLength) s.write(buf.subarray(at));
        s.uncork();
      }
      this.opts.hooks?.sentBytes?.(p.id, 5 + size);
      i = j;
    }
  }

  private failCalls(p: Peer, code: string, message: string): void {
    for (const c of p.calls.values()) {
      clearTimeout(c.timer);
      c.reject(new RpcError(code, message));
    }
    p.calls.clear();
  }

  call(to: NodeId, method: string, body: unknown, timeoutMs: number): Promise<unknown> {
    const p = this.peersById.get(to);
    if (!p || !p.connected || !p.socket) return Promise.reject(new RpcError('unreachable', `peer ${to.toString(16)} is not connected`));
    const id = p.nextCallId++ >>> 0;
    const json = Buffer.from(peerJson({ method, body }));
    const payload = Buffer.allocUnsafe(4 + json.byteLength);
    payload.writeUInt32LE(id, 0);
    payload.set(json, 4);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        p.calls.delete(id);
        reject(new RpcError('timeout', `peer request ${method} to ${to.toString(16)} timed out`));
      }, timeoutMs);
      p.calls.set(id, { resolve, reject, timer });
      writeInTurn(p.socket!, frame(FrameType.rpcRequest, payload));
    });
  }

  /** gently: end the stream after the bytes already written (destroy would discard them). */
  private closePeer(p: Peer, gently = false): void {
    this.failCalls(p, 'unreachable', 'peer removed or transport stopped');
    p.stopped = true;
    p.connected = false;
    if (p.reconnectTimer) clearTimeout(p.reconnectTimer);
    if (p.pingTimer) clearInterval(p.pingTimer);
    const s = p.socket;
    if (s && gently) {
      s.end();
      // A peer that never reads must not keep the socket open.
      setTimeout(() => s.destroy(), this.dialTimeoutMs).unref();
    } else {
      s?.destroy();
    }
    p.socket = undefined;
    p.queue = [];
  }

  private connect(url: string, kind: Hello['kind'], to: NodeId): net.Socket {
    const { host, port, secure } = parseHostPort(url);
    let s: net.Socket;
    if (secure) {
      const t = this.tls;
      s = tls.connect({ host, port, cert: t?.cert, key: t?.key, ca: t?.ca, rejectUnauthorized: t?.ca !== undefined, servername: net.isIP(host) ? undefined : host });
    } else {
      s = net.connect({ host, port });
    }
    s.setNoDelay(true);
    const hello: Hello = { clusterId: this.clusterIdText, from: String(this.opts.id), to: String(to), kind, wire: WIRE_VERSION };
    s.write(frame(FrameType.hello, Buffer.from(JSON.stringify(hello))));
    return s;
  }

  private dial(p: Peer): void {
    if (p.stopped || this.stopped) return;
    const url = p.urls[p.urlIdx % Math.max(1, p.urls.length)];
    if (url === undefined) return;
    const s = this.connect(url, 'stream', p.id);
    p.socket = s;
    p.reader = new FrameReader();
    const timer = setTimeout(() => s.destroy(new Error('dial timeout')), this.dialTimeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      if (p.socket !== s) return;
      p.connected = true;
      p.attempts = 0;
      this.log.info('peer stream connected', { peer: p.id.toString(16), url });
      p.pingTimer = setInterval(() => this.ping(p), this.pingIntervalMs);
      p.pingTimer.unref();
      this.ping(p);
    };
    s.once(s instanceof tls.TLSSocket ? 'secureConnect' : 'connect', onReady);
    s.on('data', (chunk: Buffer) => {
      try {
        p.reader.push(chunk, (type, payload) => this.onStreamReply(p, type, payload));
      } catch (err) {
        this.log.warn('bad frame from peer', { peer: p.id.toString(16), err });
        s.destroy();
      }
    });
    s.on('error', (err) => {
      if (p.connected) this.log.warn('peer stream error', { peer: p.id.toString(16), err });
    });
    s.on('close', () => {
      clearTimeout(timer);
      if (p.socket !== s) return;
      const was = p.connected;
      p.connected = false;
      p.socket = undefined;
      if (p.pingTimer) clearInterval(p.pingTimer);
      this.failCalls(p, 'unreachable', 'peer stream lost');
      if (was) {
        this.log.warn('peer stream lost', { peer: p.id.toString(16) });
        this.opts.handler.reportUnreachable(p.id);
      }
      if (p.stopped || this.stopped) return;
      p.urlIdx++;
      const backoff = Math.min(this.backoffMaxMs, this.backoffMinMs * 2 ** p.attempts);
      p.attempts = Math.min(p.attempts + 1, 10);
      p.reconnectTimer = setTimeout(() => {
        p.reconnectTimer = undefined;
        this.dial(p);
      }, backoff / 2 + Math.random() * (backoff / 2));
      p.reconnectTimer.unref();
    });
  }

  /** A peer dialled its stream to us, so it is up: if ours to it waits out a backoff, dial now. */
  private redialNow(id: NodeId): void {
    const p = this.peersById.get(id);
    if (!p || p.stopped || this.stopped || p.connected || p.socket !== undefined || p.reconnectTimer === undefined) return;
    clearTimeout(p.reconnectTimer);
    p.reconnectTimer = undefined;
    p.attempts = 0;
    this.dial(p);
  }

  private ping(p: Peer): void {
    const s = p.socket;
    if (!s || !p.connected) return;
    const b = Buffer.allocUnsafe(12);
    b.writeUInt32LE(++p.pingSeq >>> 0, 0);
    b.writeDoubleLE(performance.now(), 4);
    s.write(frame(FrameType.ping, b));
  }

  private onStreamReply(p: Peer, type: number, payload: Buffer): void {
    switch (type) {
      case FrameType.pong: {
        if (payload.byteLength >= 12) this.opts.hooks?.roundTripSeconds?.(p.id, (performance.now() - payload.readDoubleLE(4)) / 1000);
        return;
      }
      case FrameType.rpcResponse: {
        const id = payload.readUInt32LE(0);
        const c = p.calls.get(id);
        if (!c) return;
        p.calls.delete(id);
        clearTimeout(c.timer);
        const r = JSON.parse(payload.subarray(4).toString('utf8')) as { ok: boolean; result?: unknown; code?: string; message?: string };
        if (r.ok) c.resolve(r.result);
        else c.reject(new RpcError(r.code ?? 'unknown', r.message ?? 'peer request failed'));
        return;
      }
      case FrameType.reject: {
        const reason = payload.toString('utf8');
        if (reason === REMOVED_REASON) {
          this.log.warn('a peer says this member was removed from the cluster', { peer: p.id.toString(16) });
          this.opts.handler.reportRemoved?.();
        }
        this.log.error('peer refused our stream', { peer: p.id.toString(16), reason });
        p.attempts = 10;
        p.socket?.destroy();
        return;
      }
      default:
        return;
    }
  }

  // ---- receiving side ----

  private accept(s: net.Socket): void {
    if (this.stopped) {
      s.destroy();
      return;
    }
    s.setNoDelay(true);
    this.inbound.add(s);
    const reader = new FrameReader();
    let hello: { from: NodeId } | undefined;
    let snapHeader: { m: Message; total: number; startedMs: number } | undefined;
    let snapChunks: Buffer[] = [];
    let snapBytes = 0;
    let snapCrc = 0;
    let spool: SnapshotSpool | undefined;
    let refused = false;
    const refuse = (reason: string): void => {
      if (refused) return;
      refused = true;
      this.log.warn('refusing peer connection', { reason, remote: s.remoteAddress });
      s.end(frame(FrameType.reject, Buffer.from(reason)));
      s.destroySoon();
    };
    const onFrame = (type: number, payload: Buffer, owned: boolean): void => {
      if (refused) return;
      if (!hello) {
        if (type !== FrameType.hello) return refuse('expected hello');
        let h: Hello;
        try {
          h = JSON.parse(payload.toString('utf8')) as Hello;
        } catch {
          return refuse('malformed hello');
        }
        if (h.kind === 'info') {
          const info = this.opts.handler.clusterInfo?.() ?? null;
          s.end(frame(FrameType.info, Buffer.from(peerJson(info))));
          return;
        }
        if (h.clusterId !== this.clusterIdText) return refuse(`cluster id mismatch: ours ${this.clusterIdText}, theirs ${h.clusterId}`);
        if (h.wire !== WIRE_VERSION) return refuse(`peer wire format ${h.wire ?? 1}, ours ${WIRE_VERSION} (64-bit node ids): run one version on every member`);
        let to: NodeId;
        let from: NodeId;
        try {
          to = BigInt(h.to);
          from = BigInt(h.from);
        } catch {
          return refuse('malformed hello');
        }
        if (to !== this.opts.id) return refuse(`member id mismatch: we are ${this.opts.id.toString(16)}, you want ${to.toString(16)}`);
        if (this.opts.handler.isRemoved?.(from)) return refuse(REMOVED_REASON);
        hello = { from };
        if (h.kind === 'stream') this.redialNow(from);
        return;
      }
      const from = hello.from;
      if (type === FrameType.messages && this.opts.handler.isRemoved?.(from)) return refuse(REMOVED_REASON);
      switch (type) {
        case FrameType.messages: {
          this.opts.hooks?.receivedBytes?.(from, payload.byteLength + 5);
          const msgs = decodeBatch(payload, owned);
          for (const m of msgs) {
            if (m.to !== this.opts.id || m.from !== from) continue;
            this.opts.handler.receive(m);
          }
          return;
        }
        case FrameType.ping:
          s.write(frame(FrameType.pong, payload));
          return;
        case FrameType.rpcRequest: {
          const id = payload.readUInt32LE(0);
          const answer = (r: unknown): void => {
            const json = Buffer.from(peerJson(r));
            const out = Buffer.allocUnsafe(4 + json.byteLength);
            out.writeUInt32LE(id, 0);
            out.set(json, 4);
            if (!s.destroyed) writeInTurn(s, frame(FrameType.rpcResponse, out));
          };
          let req: { method: string; body: unknown };
          try {
            req = JSON.parse(payload.subarray(4).toString('utf8')) as { method: string; body: unknown };
          } catch {
            answer({ ok: false, code: 'badRequest', message: 'malformed peer request' });
            return;
          }
          const h = this.opts.handler.handleRpc;
          if (!h) {
            answer({ ok: false, code: 'notSupported', message: 'peer requests not supported' });
            return;
          }
          h.call(this.opts.handler, from, req.method, req.body).then(
            (result) => answer({ ok: true, result }),
            (err: unknown) => {
              const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'unknown';
              answer({ ok: false, code, message: err instanceof Error ? err.message : String(err) });
            },
          );
          return;
        }
        case FrameType.snapHeader: {
          const total = payload.readDoubleLE(payload.byteLength - 8);
          snapHeader = { m: decodeMessage(payload.subarray(0, payload.byteLength - 8)), total, startedMs: performance.now() };
          snapChunks = [];
          snapBytes = 0;
          snapCrc = crc32c(EMPTY);
          if (this.spooling() && Number.isSafeInteger(total) && total >= 0) {
            const tag = `${from.toString(16)}-${snapHeader.m.snapshot?.metadata.index ?? 0}`;
            spool = SnapshotSpool.create(this.opts.snapshotSpoolDir!, tag, total, {
              maxBufferedBytes: this.opts.snapshotSpoolBufferBytes ?? 8 * 1024 * 1024,
              readChunkBytes: this.snapshotChunkBytes,
              backpressure: (pause) => (pause ? s.pause() : s.resume()),
            });
          }
          return;
        }
        case FrameType.snapChunk:
          this.opts.hooks?.receivedBytes?.(from, payload.byteLength + 5);
          snapBytes += payload.byteLength;
          if (spool) spool.write(payload);
          else {
            snapCrc = crc32cUpdate(snapCrc, payload);
            snapChunks.push(Buffer.from(payload));
          }
          return;
        case FrameType.snapEnd: {
          const senderCrc = payload.byteLength >= 4 ? payload.readUInt32LE(0) : undefined;
          const header = snapHeader;
          const sp = spool;
          snapHeader = undefined;
          spool = undefined;
          const chunks = snapChunks;
          snapChunks = [];
          const refuseSnap = (why: string): void => {
            if (header) this.opts.hooks?.snapshotReceived?.(from, false, (performance.now() - header.startedMs) / 1000);
            this.log.warn('refused a snapshot transfer', { from: from.toString(16), reason: why, bytes: snapBytes, announced: header?.total });
            if (!s.destroyed) s.write(frame(FrameType.snapAck, Buffer.from([0])));
          };
          if (!header || !header.m.snapshot) {
            void sp?.abort();
            return refuseSnap('no snapshot header');
          }
          const meta = header.m.snapshot.metadata;
          const deliverable = header.m.to === this.opts.id && header.m.from === from;
          if (sp) {
            sp.finish(senderCrc).then(
              (body) => {
                this.opts.hooks?.snapshotReceived?.(from, true, (performance.now() - header.startedMs) / 1000);
                this.log.info('received snapshot', { from: from.toString(16), index: meta.index, bytes: body.bytes, spooled: true });
                if (deliverable && !this.stopped) this.opts.handler.receiveSnapshot!({ ...header.m, snapshot: { metadata: meta, data: EMPTY } }, body);
                else void body.release?.();
                if (!s.destroyed) s.write(frame(FrameType.snapAck, Buffer.from([1])));
              },
              (err: unknown) => refuseSnap(err instanceof Error ? err.message : String(err)),
            );
            return;
          }
          if (snapBytes !== header.total) return refuseSnap(`snapshot transfer ended after ${snapBytes} of ${header.total} bytes`);
          if (senderCrc !== undefined && senderCrc !== snapCrc) return refuseSnap('snapshot transfer checksum mismatch');
          this.opts.hooks?.snapshotReceived?.(from, true, (performance.now() - header.startedMs) / 1000);
          const data = Buffer.concat(chunks, snapBytes);
          const m: Message = { ...header.m, snapshot: { metadata: meta, data } };
          this.log.info('received snapshot', { from: from.toString(16), index: meta.index, bytes: data.byteLength });
          if (deliverable) this.opts.handler.receive(m);
          s.write(frame(FrameType.snapAck, Buffer.from([1])));
          return;
        }
        default:
          return;
      }
    };
    s.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, onFrame);
      } catch (err) {
        this.log.warn('bad frame on peer connection', { err, remote: s.remoteAddress });
        s.destroy();
      }
    });
    s.on('error', () => {});
    s.on('close', () => {
      this.inbound.delete(s);
      // A transfer that broke off before its end: nothing is handed on, the file goes.
      if (spool) void spool.abort();
      spool = undefined;
    });
  }

  /** Whether received snapshots go to spool files (and the handler takes them as bodies). */
  private spooling(): boolean {
    return this.opts.snapshotSpoolDir !== undefined && this.opts.handler.receiveSnapshot !== undefined;
  }

  // ---- joining ----

  /**
   * Asks a member at one of `urls` for its cluster info (handler.clusterInfo()), without knowing
   * the cluster id yet: how a member started with --initial-cluster-state existing learns its
   * cluster. Tries each URL in turn; resolves with the first answer.
   */
  static async fetchClusterInfo(urls: readonly string[], tlsOpts: PeerTlsOptions | undefined, timeoutMs: number): Promise<unknown> {
    let lastErr: unknown = new Error('no peer URLs to ask');
    for (const url of urls) {
      try {
        return await new Promise<unknown>((resolve, reject) => {
          const { host, port, secure } = parseHostPort(url);
          const s = secure
            ? tls.connect({ host, port, cert: tlsOpts?.cert, key: tlsOpts?.key, ca: tlsOpts?.ca, rejectUnauthorized: tlsOpts?.ca !== undefined })
            : net.connect({ host, port });
          const timer = setTimeout(() => s.destroy(new Error(`cluster info from ${url} timed out`)), timeoutMs);
          const hello: Hello = { clusterId: '', from: '0', to: '0', kind: 'info', wire: WIRE_VERSION };
          s.write(frame(FrameType.hello, Buffer.from(JSON.stringify(hello))));
          const r = new FrameReader();
          s.on('data', (chunk: Buffer) => {
            r.push(chunk, (type, payload) => {
              if (type !== FrameType.info) return;
              clearTimeout(timer);
              s.destroy();
              resolve(JSON.parse(payload.toString('utf8')));
            });
          });
          s.on('error', (err) => {
            clearTimeout(timer);
            reject(err);
          });
          s.on('close', () => {
            clearTimeout(timer);
            reject(new Error(`connection to ${url} closed`));
          });
        });
      } catch (err) {
        lastErr = err;
      }
    }
    throw lastErr;
  }

  // ---- snapshots ----

  private async sendSnapshot(p: Peer, m: Message): Promise<void> {
    const snap = m.snapshot;
    const url = p.urls[p.urlIdx % Math.max(1, p.urls.length)];
    if (!snap || url === undefined) {
      this.opts.handler.reportSnapshot(p.id, false);
      return;
    }
    const started = performance.now();
    let ok = false;
    let sentData = 0;
    this.opts.hooks?.snapshotSendStarted?.(p.id);
    let s: net.Socket | undefined;
    let body: SnapshotBody | undefined;
    try {
      // The data: the handler's stream (a snapshot file), or the bytes inside the message.
      body = (await this.opts.handler.snapshotBody?.(m)) ?? bodyFromBytes(snap.data, this.snapshotChunkBytes);
      const sock = this.connect(url, 'snapshot', p.id);
      s = sock;
      let closed = false;
      sock.once('close', () => {
        closed = true;
      });
      await new Promise<void>((resolve, reject) => {
        sock.once(sock instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => resolve());
        sock.once('error', reject);
      });
      const header = encodeMessage({ ...m, snapshot: { metadata: snap.metadata, data: EMPTY } }, false);
      const h = Buffer.allocUnsafe(header.byteLength + 8);
      h.set(header, 0);
      h.writeDoubleLE(body.bytes, header.byteLength);
      const acked = new Promise<boolean>((resolve, reject) => {
        const r = new FrameReader();
        const timer = setTimeout(() => reject(new Error('snapshot ack timeout')), this.snapshotTimeoutMs);
        sock.on('data', (chunk: Buffer) => {
          r.push(chunk, (type, payload) => {
            if (type === FrameType.snapAck) {
              clearTimeout(timer);
              resolve(payload[0] === 1);
            } else if (type === FrameType.reject) {
              clearTimeout(timer);
              reject(new Error(`peer refused snapshot: ${payload.toString('utf8')}`));
            }
          });
        });
        sock.once('close', () => {
          clearTimeout(timer);
          reject(new Error('snapshot connection closed'));
        });
      });
      acked.catch(() => {});
      sock.write(frame(FrameType.snapHeader, h));
      let crc = crc32c(EMPTY);
      for await (const chunk of bounded(body.chunks(), this.snapshotChunkBytes)) {
        if (closed) throw new Error('snapshot connection closed');
        crc = crc32cUpdate(crc, chunk);
        sentData += chunk.byteLength;
        const more = sock.write(Buffer.concat([frameHeader(FrameType.snapChunk, chunk.byteLength), chunk]));
        this.opts.hooks?.sentBytes?.(p.id, chunk.byteLength + 5);
        if (!more) {
          await new Promise<void>((resolve, reject) => {
            const onClose = (): void => reject(new Error('snapshot connection closed'));
            sock.once('drain', () => {
              sock.off('close', onClose);
              resolve();
            });
            sock.once('close', onClose);
          });
        }
      }
      if (sentData !== body.bytes) throw new Error(`snapshot source gave ${sentData} bytes, announced ${body.bytes}`);
      const end = Buffer.allocUnsafe(4);
      end.writeUInt32LE(crc >>> 0, 0);
      sock.write(frame(FrameType.snapEnd, end));
      ok = await acked;
    } catch (err) {
      this.log.warn('snapshot send failed', { peer: p.id.toString(16), err, bytesSent: sentData });
      this.opts.hooks?.sendFailed?.(p.id, m);
    } finally {
      s?.destroy();
      await body?.release?.();
    }
    this.opts.hooks?.snapshotSendFinished?.(p.id, ok, (performance.now() - started) / 1000);
    this.log.info('snapshot sent', { peer: p.id.toString(16), ok, bytes: body?.bytes ?? 0, ms: Math.round(performance.now() - started) });
    if (!this.stopped) this.opts.handler.reportSnapshot(p.id, ok);
  }
}

/**
 * Peer requests and their answers come in bursts (a follower forwards every keep-alive its
 * clients send; one ReadIndex round answers all of them on the leader): the first frame of a
 * turn corks the socket and the end of the turn uncorks it, so the burst leaves in one write.
 */
function writeInTurn(s: net.Socket, buf: Buffer): void {
  if (s.writableCorked === 0) {
    s.cork();
    process.nextTick(uncork, s);
  }
  s.write(buf);
}

function uncork(s: net.Socket): void {
  s.uncork();
}
