// One server-side HTTP/2 connection (RFC 9113) on a raw socket, for gRPC: the preface and
// SETTINGS exchange, frame parsing, HPACK-decoded request headers checked as RFC 9113 8.2-8.3
// asks, flow control both ways, PING, RST_STREAM and GOAWAY. Streams (stream.ts) are plain
// objects handed to the call layer; no per-stream emitter, Duplex or header-object copy.
//
// Errors: anything malformed from the peer ends in a RST_STREAM (stream errors) or a GOAWAY and
// the socket's end (connection errors). Nothing the peer sends can throw out of the socket's
// 'data' handler: an unexpected throw (a bug of ours or a handler's) resets the one stream it
// came from, or failing that the connection, with INTERNAL_ERROR.
//
// Writes: every frame a connection produces in one event-loop turn is queued and written in one
// socket write when the turn's microtasks are done (queueMicrotask), so a batch of answers costs
// one syscall.

import type { IncomingHttpHeaders } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { AuthContext } from '../lean-grpc/call-stream.js';
import { PREFIX_BYTES } from '../lean-grpc/wire.js';
import {
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  ErrorCode,
  FRAME_HEADER_BYTES,
  Flag,
  FrameType,
  MAX_FRAME_LIMIT,
  MAX_WINDOW,
  PREFACE,
  Setting,
  frame,
  goawayFrame,
  rstStreamFrame,
  settingsFrame,
  windowUpdateFrame,
  writeFrameHeader,
} from './frames.js';
import { HpackDecoder, HpackError, TABLE_SIZE_ZERO } from './hpack.js';
import { H2Stream, STREAM_WINDOW } from './stream.js';

/** The connection's receive window, opened with a WINDOW_UPDATE after our SETTINGS. */
export const CONNECTION_WINDOW = 16 << 20;
/** Our SETTINGS_MAX_HEADER_LIST_SIZE (node's default, which the node:http2 servers had). */
export const MAX_HEADER_LIST_SIZE = 65_535;
/** The most compressed header-block bytes (HEADERS and CONTINUATIONs) we collect for one block. */
const MAX_HEADER_BLOCK_BYTES = 1 << 20;
/** A peer that leaves this much unread in our socket's send buffer is cut off. */
const MAX_UNSENT_BYTES = 64 << 20;
/** Stream ids we reset and whose late frames are dropped silently (RFC 9113 5.4.2). */
const RECENT_RESETS = 64;
/** How long a failed connection may take to read our GOAWAY before the socket is destroyed. */
const LINGER_MS = 1000;

export interface H2ConnectionOptions {
  readonly maxConcurrentStreams: number;
  /** A new request stream whose headers passed the checks: attach a call, or answer it. */
  readonly onStream: (stream: H2Stream) => void;
  /** A throw from our own code or a handler (the stream or connection was reset for it). */
  readonly onError: (err: unknown) => void;
  readonly onClose: () => void;
}

class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
/** Headers whose repeats node's toHeaderObject drops (the first wins) rather than joins. */
const SINGLE_VALUE = new Set(['content-type', 'content-length', 'user-agent', 'authorization', 'host', 'grpc-timeout', 'grpc-encoding']);

export class H2Connection {
  readonly streams = new Map<number, H2Stream>();
  /** Streams with DATA waiting for window. */
  readonly blocked = new Set<H2Stream>();
  /** The peer's SETTINGS_MAX_FRAME_SIZE. */
  peerMaxFrame = DEFAULT_MAX_FRAME;
  /** Our send window on the connection. */
  sendWindow = DEFAULT_WINDOW;
  readonly peerAddress: string;

  private pending: Buffer | undefined;
  private prefaceSeen = false;
  private settingsSeen = false;
  private closed = false;
  private goingAway = false;
  private lastStreamId = 0;
  private readonly decoder = new HpackDecoder();
  private peerInitialWindow = DEFAULT_WINDOW;
  private recvWindow = DEFAULT_WINDOW;
  private recvUnacked = 0;
  private readonly recentResets: number[] = [];
  // The header block being collected (HEADERS then CONTINUATIONs); hbStream 0 when none.
  private hbStream = 0;
  private hbEndStream = false;
  private hbSelfDependent = false;
  private hbParts: Buffer[] = [];
  private hbBytes = 0;
  // Output of this turn.
  private out: Buffer[] = [];
  private outBytes = 0;
  private dirty = false;
  private tableSizeSent = false;
  private auth: AuthContext | undefined;
  private doneCalled = false;

  constructor(
    private readonly socket: Duplex,
    private readonly opts: H2ConnectionOptions,
  ) {
    const s = socket as Partial<TLSSocket>;
    this.peerAddress = !s.remoteAddress ? 'unknown' : s.remotePort ? `${s.remoteAddress}:${s.remotePort}` : s.remoteAddress;
    s.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.onSocketGone());
    socket.on('close', () => this.onSocketGone());
    this.push(
      settingsFrame([
        [Setting.MAX_CONCURRENT_STREAMS, Math.min(opts.maxConcurrentStreams, 0xffffffff)],
        [Setting.INITIAL_WINDOW_SIZE, STREAM_WINDOW],
        [Setting.MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST_SIZE],
      ]),
    );
    this.push(windowUpdateFrame(0, CONNECTION_WINDOW - DEFAULT_WINDOW));
    this.recvWindow = CONNECTION_WINDOW;
    socket.resume();
  }

  authContext(): AuthContext {
    if (this.auth) return this.auth;
    const s = this.socket as Partial<TLSSocket>;
    this.auth = typeof s.getPeerCertificate !== 'function' ? {} : { transportSecurityType: 'ssl', sslPeerCertificate: s.getPeerCertificate() };
    return this.auth;
  }

  /** Graceful close (server stop): GOAWAY with NO_ERROR, new streams refused, open ones finish. */
  goaway(): void {
    if (this.closed || this.goingAway) return;
    this.goingAway = true;
    this.push(goawayFrame(this.lastStreamId, ErrorCode.NO_ERROR));
    if (this.streams.size === 0) this.endSocket();
    else this.flush();
  }

  // ---- input ----

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      const pending = this.pending;
      this.pending = undefined;
      if (!pending) return this.parse(chunk);
      if (!this.prefaceSeen) return this.parse(Buffer.concat([pending, chunk]));
      // A frame begun in an earlier chunk: copy that frame's bytes alone (not the whole chunk,
      // ~64 KiB a read, behind it), parse it, then parse the rest of the chunk in place.
      const head = pending.length >= FRAME_HEADER_BYTES ? pending : Buffer.concat([pending, chunk.subarray(0, FRAME_HEADER_BYTES - pending.length)]);
      if (head.length < FRAME_HEADER_BYTES) return this.parse(head);
      const total = FRAME_HEADER_BYTES + ((head[0]! << 16) | (head[1]! << 8) | head[2]!);
      const need = total - pending.length;
      if (total > FRAME_HEADER_BYTES + DEFAULT_MAX_FRAME || chunk.length < need) return this.parse(Buffer.concat([pending, chunk]));
      const whole = Buffer.allocUnsafe(total);
      pending.copy(whole, 0);
      chunk.copy(whole, pending.length, 0, need);
      this.parse(whole);
      if (!this.closed && need < chunk.length) this.parse(chunk.subarray(need));
    } catch (err) {
      if (err instanceof ConnectionError) return this.fail(err.code, err.message);
      this.opts.onError(err);
      this.fail(ErrorCode.INTERNAL_ERROR, 'internal error');
    }
  }

  /** Parses the frames in `data` (after the preface, if not yet seen); keeps a partial frame as pending. */
  private parse(data: Buffer): void {
    let off = 0;
    if (!this.prefaceSeen) {
      const n = Math.min(data.length, PREFACE.length);
      if (!data.subarray(0, n).equals(PREFACE.subarray(0, n))) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'invalid connection preface');
      if (n < PREFACE.length) {
        this.pending = data;
        return;
      }
      this.prefaceSeen = true;
      off = PREFACE.length;
    }
    while (data.length - off >= FRAME_HEADER_BYTES) {
      const len = (data[off]! << 16) | (data[off + 1]! << 8) | data[off + 2]!;
      if (len > DEFAULT_MAX_FRAME) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `frame of ${len} bytes`);
      if (data.length - off - FRAME_HEADER_BYTES < len) break;
      const type = data[off + 3]!;
      const flags = data[off + 4]!;
      const id = data.readUInt32BE(off + 5) & 0x7fffffff;
      const payload = data.subarray(off + FRAME_HEADER_BYTES, off + FRAME_HEADER_BYTES + len);
      off += FRAME_HEADER_BYTES + len;
      this.onFrame(type, flags, id, payload);
      if (this.closed) return;
    }
    if (off < data.length) this.pending = data.subarray(off);
  }

  private onFrame(type: number, flags: number, id: number, p: Buffer): void {
    if (this.hbStream !== 0 && type !== FrameType.CONTINUATION) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'header block interrupted');
    if (!this.settingsSeen && (type !== FrameType.SETTINGS || flags & Flag.ACK)) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'first frame is not SETTINGS');
    switch (type) {
      case FrameType.DATA:
        return this.onDataFrame(flags, id, p);
      case FrameType.HEADERS:
        return this.onHeadersFrame(flags, id, p);
      case FrameType.PRIORITY:
        if (id === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (p.length !== 5) return this.resetId(id, ErrorCode.FRAME_SIZE_ERROR);
        if ((p.readUInt32BE(0) & 0x7fffffff) === id) return this.resetId(id, ErrorCode.PROTOCOL_ERROR);
        return;
      case FrameType.RST_STREAM: {
        if (id === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
        if (p.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM length');
        if (id > this.lastStreamId) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on an idle stream');
        const s = this.streams.get(id);
        if (s) this.finalize(s, false);
        return;
      }
      case FrameType.SETTINGS:
        return this.onSettings(flags, id, p);
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      case FrameType.PING:
        if (id !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
        if (p.length !== 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'PING length');
        if ((flags & Flag.ACK) === 0) this.push(frame(FrameType.PING, Flag.ACK, 0, p));
        return;
      case FrameType.GOAWAY:
        if (id !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
        if (p.length < 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY length');
        this.goingAway = true;
        if (this.streams.size === 0) this.endSocket();
        return;
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(id, p);
      case FrameType.CONTINUATION:
        if (this.hbStream === 0 || id !== this.hbStream) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'unexpected CONTINUATION');
        this.collect(p);
        if (flags & Flag.END_HEADERS) this.endHeaderBlock();
        return;
      default:
        // Unknown frame types are ignored (RFC 9113 5.5).
        return;
    }
  }

  private onDataFrame(flags: number, id: number, p: Buffer): void {
    if (id === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    let data = p;
    if (flags & Flag.PADDED) {
      if (p.length === 0 || p[0]! >= p.length) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA padding');
      data = p.subarray(1, p.length - p[0]!);
    }
    // The whole frame counts against the connection window, whatever becomes of the stream.
    this.recvWindow -= p.length;
    if (this.recvWindow < 0) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window exceeded');
    this.recvUnacked += p.length;
    if (this.recvUnacked >= CONNECTION_WINDOW / 4) {
      this.push(windowUpdateFrame(0, this.recvUnacked));
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
    }
    const s = this.streams.get(id);
    if (!s) {
      if (id > this.lastStreamId) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on an idle stream');
      if (!this.recentResets.includes(id)) this.push(rstStreamFrame(id, ErrorCode.STREAM_CLOSED));
      return;
    }
    if (s.remoteClosed) return this.reset(s, ErrorCode.STREAM_CLOSED);
    s.receive(data, p.length, (flags & Flag.END_STREAM) !== 0);
  }

  private onHeadersFrame(flags: number, id: number, p: Buffer): void {
    if (id === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    let start = 0;
    let end = p.length;
    if (flags & Flag.PADDED) {
      if (p.length === 0 || p[0]! >= p.length) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding');
      start = 1;
      end = p.length - p[0]!;
    }
    this.hbSelfDependent = false;
    if (flags & Flag.PRIORITY) {
      if (end - start < 5) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'HEADERS priority');
      this.hbSelfDependent = (p.readUInt32BE(start) & 0x7fffffff) === id;
      start += 5;
    }
    this.hbStream = id;
    this.hbEndStream = (flags & Flag.END_STREAM) !== 0;
    this.hbParts = [];
    this.hbBytes = 0;
    this.collect(p.subarray(start, end));
    if (flags & Flag.END_HEADERS) this.endHeaderBlock();
  }

  private collect(fragment: Buffer): void {
    this.hbBytes += fragment.length;
    if (this.hbBytes > MAX_HEADER_BLOCK_BYTES) throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'header block too large');
    this.hbParts.push(fragment);
  }

  private endHeaderBlock(): void {
    const id = this.hbStream;
    const endStream = this.hbEndStream;
    const block = this.hbParts.length === 1 ? this.hbParts[0]! : Buffer.concat(this.hbParts);
    this.hbStream = 0;
    this.hbParts = [];
    let decoded;
    try {
      decoded = this.decoder.decode(block, MAX_HEADER_LIST_SIZE);
    } catch (err) {
      if (err instanceof HpackError) throw new ConnectionError(ErrorCode.COMPRESSION_ERROR, err.message);
      throw err;
    }
    const existing = this.streams.get(id);
    if (existing) {
      // Trailers: they end the request, and carry no pseudo-headers.
      if (existing.remoteClosed) return this.reset(existing, ErrorCode.STREAM_CLOSED);
      if (!endStream || decoded.fields.some((n, i) => i % 2 === 0 && n.startsWith(':'))) return this.reset(existing, ErrorCode.PROTOCOL_ERROR);
      existing.receive(EMPTY, 0, true);
      return;
    }
    if (id <= this.lastStreamId) {
      if (this.recentResets.includes(id)) return;
      throw new ConnectionError(ErrorCode.STREAM_CLOSED, 'HEADERS on a closed stream');
    }
    if (id % 2 === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'even stream id from a client');
    this.lastStreamId = id;
    if (this.goingAway) return this.resetId(id, ErrorCode.REFUSED_STREAM);
    if (this.hbSelfDependent) return this.resetId(id, ErrorCode.PROTOCOL_ERROR);
    if (decoded.tooLarge) return this.resetId(id, ErrorCode.PROTOCOL_ERROR);
    if (this.streams.size >= this.opts.maxConcurrentStreams) return this.resetId(id, ErrorCode.REFUSED_STREAM);
    const headers = requestHeaders(decoded.fields);
    if (!headers) return this.resetId(id, ErrorCode.PROTOCOL_ERROR);
    const cl = headers['content-length'];
    const s = new H2Stream(this, id, headers, this.peerInitialWindow, cl === undefined ? -1 : Number(cl));
    this.streams.set(id, s);
    // A request without a body is half-closed before the call sees it, so an answer given at
    // once closes the stream (no RST_STREAM); the call hears the end once attached.
    if (endStream) s.remoteClosed = true;
    try {
      this.opts.onStream(s);
    } catch (err) {
      this.opts.onError(err);
      return this.reset(s, ErrorCode.INTERNAL_ERROR);
    }
    if (endStream && !s.finalized) s.receive(EMPTY, 0, true);
  }

  private onSettings(flags: number, id: number, p: Buffer): void {
    if (id !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & Flag.ACK) {
      if (p.length !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if (p.length % 6 !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS length');
    let grew = false;
    for (let i = 0; i < p.length; i += 6) {
      const key = p.readUInt16BE(i);
      const v = p.readUInt32BE(i + 2);
      switch (key) {
        case Setting.ENABLE_PUSH:
          if (v > 1) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'ENABLE_PUSH');
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          if (v > MAX_WINDOW) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'INITIAL_WINDOW_SIZE');
          const delta = v - this.peerInitialWindow;
          this.peerInitialWindow = v;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'stream window overflow');
          }
          if (delta > 0) grew = true;
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          if (v < DEFAULT_MAX_FRAME || v > MAX_FRAME_LIMIT) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'MAX_FRAME_SIZE');
          this.peerMaxFrame = v;
          break;
        default:
          // HEADER_TABLE_SIZE: our blocks open with a size update to 0 and never index.
          // MAX_CONCURRENT_STREAMS (we open none), MAX_HEADER_LIST_SIZE, unknown ids: nothing to do.
          break;
      }
    }
    this.settingsSeen = true;
    this.push(frame(FrameType.SETTINGS, Flag.ACK, 0));
    if (grew) for (const s of [...this.streams.values()]) s.pump();
  }

  private onWindowUpdate(id: number, p: Buffer): void {
    if (p.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
    const inc = p.readUInt32BE(0) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.sendWindow += inc;
      if (this.sendWindow > MAX_WINDOW) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window overflow');
      for (const s of [...this.blocked]) {
        if (this.sendWindow <= 0) break;
        s.pump();
      }
      return;
    }
    if (id > this.lastStreamId) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE on an idle stream');
    const s = this.streams.get(id);
    if (inc === 0) return this.resetId(id, ErrorCode.PROTOCOL_ERROR);
    if (!s) return;
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) return this.reset(s, ErrorCode.FLOW_CONTROL_ERROR);
    s.pump();
  }

  // ---- output (used by H2Stream) ----

  /** Queues bytes for this turn's write. */
  push(buf: Buffer): void {
    if (this.closed) return;
    this.out.push(buf);
    this.outBytes += buf.length;
    if (!this.dirty) {
      this.dirty = true;
      scheduleFlush(this);
    }
  }

  /** A header block's bytes, opened on the connection's first block by a table size update to 0. */
  private block(b: Buffer): Buffer {
    if (this.tableSizeSent) return b;
    this.tableSizeSent = true;
    return Buffer.concat([TABLE_SIZE_ZERO, b]);
  }

  /** HEADERS (and CONTINUATIONs past the peer's frame size) carrying one block. */
  sendHeaders(id: number, blockBytes: Buffer, endStream: boolean): void {
    const b = this.block(blockBytes);
    const max = this.peerMaxFrame;
    const endFlag = endStream ? Flag.END_STREAM : 0;
    if (b.length <= max) {
      const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + b.length);
      writeFrameHeader(out, 0, b.length, FrameType.HEADERS, Flag.END_HEADERS | endFlag, id);
      b.copy(out, FRAME_HEADER_BYTES);
      return this.push(out);
    }
    for (let off = 0; off < b.length; off += max) {
      const piece = b.subarray(off, Math.min(b.length, off + max));
      const last = off + max >= b.length;
      const type = off === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
      const flags = (last ? Flag.END_HEADERS : 0) | (off === 0 ? endFlag : 0);
      this.push(frame(type, flags, id, piece));
    }
  }

  /**
   * A whole small unary answer in one buffer: HEADERS, one DATA with the framed message, and
   * the trailers' HEADERS with END_STREAM. The caller checked windows and frame size.
   */
  sendUnary(id: number, headerBlock: Buffer, body: Buffer, trailerBlock: Buffer): void {
    const hb = this.block(headerBlock);
    const dataLen = PREFIX_BYTES + body.length;
    const out = Buffer.allocUnsafe(3 * FRAME_HEADER_BYTES + hb.length + dataLen + trailerBlock.length);
    let at = 0;
    writeFrameHeader(out, at, hb.length, FrameType.HEADERS, Flag.END_HEADERS, id);
    at += FRAME_HEADER_BYTES;
    at += hb.copy(out, at);
    at = writeMessageFrame(out, at, id, body);
    writeFrameHeader(out, at, trailerBlock.length, FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id);
    at += FRAME_HEADER_BYTES;
    trailerBlock.copy(out, at);
    this.sendWindow -= dataLen;
    this.push(out);
  }

  /** One gRPC message as one DATA frame, in one buffer (the caller checked the windows and frame size). */
  sendMessage(id: number, body: Buffer): void {
    const dataLen = PREFIX_BYTES + body.length;
    const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + dataLen);
    writeMessageFrame(out, 0, id, body);
    this.sendWindow -= dataLen;
    this.push(out);
  }

  sendData(id: number, piece: Buffer): void {
    const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    writeFrameHeader(h, 0, piece.length, FrameType.DATA, 0, id);
    this.sendWindow -= piece.length;
    this.push(h);
    this.push(piece);
  }

  windowUpdate(id: number, increment: number): void {
    this.push(windowUpdateFrame(id, increment));
  }

  /** We sent END_STREAM: the stream is done, or we ask the client to stop sending (NO_ERROR). */
  localEnded(s: H2Stream): void {
    if (s.remoteClosed) return this.finalize(s, true);
    this.reset(s, ErrorCode.NO_ERROR, true);
  }

  /** Stream error: RST_STREAM, and the stream (if open) is gone. */
  reset(s: H2Stream, code: number, local = false): void {
    if (s.finalized) return;
    this.push(rstStreamFrame(s.id, code));
    this.rememberReset(s.id);
    this.finalize(s, local);
  }

  /** A sink threw while hearing that its stream closed. */
  sinkFailedAfterClose(err: unknown): void {
    this.opts.onError(err);
  }

  /** A stream's sink threw: reset that stream only. */
  sinkFailed(s: H2Stream, err: unknown): void {
    this.opts.onError(err);
    this.reset(s, ErrorCode.INTERNAL_ERROR);
  }

  private resetId(id: number, code: number): void {
    const s = this.streams.get(id);
    if (s) return this.reset(s, code);
    this.push(rstStreamFrame(id, code));
    this.rememberReset(id);
  }

  private rememberReset(id: number): void {
    this.recentResets.push(id);
    if (this.recentResets.length > RECENT_RESETS) this.recentResets.shift();
  }

  /** The stream leaves the connection; its sink hears onClose (later, if we ended it ourselves). */
  private finalize(s: H2Stream, local: boolean): void {
    if (s.finalized) return;
    s.finalized = true;
    this.streams.delete(s.id);
    this.blocked.delete(s);
    s.closed(local);
    if (this.goingAway && this.streams.size === 0) this.endSocket();
  }

  /** Writes this turn's frames: one write (a copy into one buffer when small, else writev). */
  flush(): void {
    this.dirty = false;
    if (this.closed || this.out.length === 0) return;
    const bufs = this.out;
    const n = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    const sock = this.socket;
    if (sock.destroyed || sock.writableEnded) return;
    if (bufs.length === 1) sock.write(bufs[0]!);
    else if (n <= 64 * 1024) sock.write(Buffer.concat(bufs, n));
    else {
      sock.cork();
      for (const b of bufs) sock.write(b);
      sock.uncork();
    }
    if (sock.writableLength > MAX_UNSENT_BYTES) {
      this.opts.onError(new Error(`HTTP/2 peer ${this.peerAddress} is not reading: ${sock.writableLength} bytes unsent; closing the connection`));
      sock.destroy();
    }
  }

  /** Connection error: GOAWAY with the code, every stream gone, the socket ended. */
  private fail(code: number, debug: string): void {
    if (this.closed) return;
    this.push(goawayFrame(this.lastStreamId, code, debug));
    this.flush();
    this.closed = true;
    this.dropStreams();
    this.endSocket();
  }

  private endSocket(): void {
    this.flush();
    const sock = this.socket;
    sock.end();
    setTimeout(() => sock.destroy(), LINGER_MS).unref();
  }

  private onSocketGone(): void {
    if (this.closed && this.streams.size === 0) return this.done();
    this.closed = true;
    this.dropStreams();
    this.done();
  }

  private dropStreams(): void {
    for (const s of [...this.streams.values()]) this.finalize(s, false);
  }

  private done(): void {
    if (this.doneCalled) return;
    this.doneCalled = true;
    this.opts.onClose();
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * A request's header object: nothing inherited (its prototype has none and no prototype of its
 * own), so any header name is a safe key, as on node's null-prototype objects; but unlike an
 * Object.create(null) object, which V8 keeps as a hash table (about 1 KiB for a gRPC request's
 * dozen fields), it is a fast-mode object whose layout requests with the same header names
 * share. It lives as long as its call, so under 1000 clients it is promoted with it.
 */
class HeaderObject {}
Reflect.deleteProperty(HeaderObject.prototype, 'constructor');
Object.setPrototypeOf(HeaderObject.prototype, null);

/**
 * The request's header object (as node's toHeaderObject builds it: repeats joined with ", ",
 * some kept once), or undefined when the request is malformed (RFC 9113 8.2-8.3): upper-case
 * or connection-specific names, pseudo-headers unknown, repeated or after regular ones, a TE
 * other than "trailers", a missing :method, :scheme or :path, a bad content-length.
 */
export function requestHeaders(fields: readonly string[]): IncomingHttpHeaders | undefined {
  const h = new HeaderObject() as Record<string, string>;
  let regular = false;
  for (let i = 0; i < fields.length; i += 2) {
    const n = fields[i]!;
    const v = fields[i + 1]!;
    if (n.length === 0) return undefined;
    if (n.charCodeAt(0) === 58) {
      if (regular || h[n] !== undefined) return undefined;
      if (n !== ':method' && n !== ':scheme' && n !== ':path' && n !== ':authority') return undefined;
      h[n] = v;
      continue;
    }
    regular = true;
    for (let j = 0; j < n.length; j++) {
      const c = n.charCodeAt(j);
      if (c >= 65 && c <= 90) return undefined;
    }
    if (CONNECTION_SPECIFIC.has(n)) return undefined;
    if (n === 'te' && v !== 'trailers') return undefined;
    const prev = h[n];
    if (prev === undefined) h[n] = v;
    else if (!SINGLE_VALUE.has(n)) h[n] = n === 'cookie' ? `${prev}; ${v}` : `${prev}, ${v}`;
  }
  if (!h[':method'] || !h[':scheme'] || !h[':path']) return undefined;
  const cl = h['content-length'];
  if (cl !== undefined && !/^\d{1,15}$/.test(cl)) return undefined;
  return h as IncomingHttpHeaders;
}

let flushQueue: H2Connection[] = [];
let flushScheduled = false;

function scheduleFlush(c: H2Connection): void {
  flushQueue.push(c);
  if (flushScheduled) return;
  flushScheduled = true;
  // At the end of the microtask chain that made the answers (every answer of one apply slice or
  // one socket read is pushed by then), not one event-loop iteration later: a single client's
  // answer no longer waits behind the next poll phase (peer messages, other sockets' reads).
  queueMicrotask(flushAll);
}

function flushAll(): void {
  flushScheduled = false;
  const list = flushQueue;
  flushQueue = [];
  for (const c of list) c.flush();
}

/** A DATA frame holding one gRPC message (5-byte prefix, then the body) written at `at`; returns its end. */
function writeMessageFrame(out: Buffer, at: number, id: number, body: Buffer): number {
  writeFrameHeader(out, at, PREFIX_BYTES + body.length, FrameType.DATA, 0, id);
  at += FRAME_HEADER_BYTES;
  out[at] = 0;
  out.writeUInt32BE(body.length, at + 1);
  return at + PREFIX_BYTES + body.copy(out, at + PREFIX_BYTES);
}
