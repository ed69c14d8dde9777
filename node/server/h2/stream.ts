// One request stream on our HTTP/2 connection, as the call layer's CallStream: the request body
// goes to the attached sink as DATA arrives; answers go out as pre-encoded header blocks and
// DATA frames, queued when the peer's stream or connection window is spent and sent as
// WINDOW_UPDATEs open it. Receive windows are replenished as the call takes the bytes, except
// while the call holds the body (pause()).

import type { IncomingHttpHeaders } from 'node:http2';
import type { AuthContext, CallSink, CallStream, StatusFields } from '../lean-grpc/call-stream.js';
import { OK_TRAILERS, RESPONSE_HEADERS } from '../lean-grpc/call-stream.js';
import { PREFIX_BYTES, frameMessage } from '../lean-grpc/wire.js';
import type { H2Connection } from './connection.js';
import { ErrorCode } from './frames.js';
import { encodeBlock } from './hpack.js';

/** Our SETTINGS_INITIAL_WINDOW_SIZE: what a client may send on a stream before we say more. */
export const STREAM_WINDOW = 1 << 20;

/** Bytes a call may have queued before write() says to wait for drain (node's stream default). */
const HIGH_WATER_MARK = 16 * 1024;

function fieldList(fields: Record<string, string | number | string[]>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [n, v] of Object.entries(fields)) {
    if (Array.isArray(v)) for (const x of v) out.push([n, x]);
    else out.push([n, String(v)]);
  }
  return out;
}

const RESPONSE_FIELDS = fieldList(RESPONSE_HEADERS);
const RESPONSE_BLOCK = encodeBlock(RESPONSE_FIELDS);
const OK_TRAILERS_BLOCK = encodeBlock(fieldList(OK_TRAILERS));

export class H2Stream implements CallStream {
  /** The peer sent END_STREAM. */
  remoteClosed = false;
  /** Gone from the connection (ended both ways, or reset). */
  finalized = false;
  headersSent = false;
  private ending = false;
  private sink: CallSink | undefined;
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private trailers: Buffer | undefined;
  private needDrain = false;
  private paused = false;
  private recvWindow = STREAM_WINDOW;
  private recvUnacked = 0;
  private received = 0;

  constructor(
    private readonly conn: H2Connection,
    readonly id: number,
    readonly headers: IncomingHttpHeaders,
    /** Our send window on this stream. */
    public sendWindow: number,
    private readonly contentLength: number,
  ) {}

  get gone(): boolean {
    return this.finalized || this.ending;
  }

  get writableLength(): number {
    return this.queued;
  }

  attach(sink: CallSink): void {
    this.sink = sink;
  }

  writeMessage(body: Buffer): boolean {
    if (this.gone) return true;
    if (!this.headersSent) this.sendHeaders(RESPONSE_BLOCK, false);
    const dataLen = PREFIX_BYTES + body.length;
    // One DATA frame, built in one buffer (a watch sends many small ones).
    if (this.fitsOneFrame(dataLen)) {
      this.sendWindow -= dataLen;
      this.conn.sendMessage(this.id, body);
      return true;
    }
    this.queue.push(frameMessage(body));
    this.queued += dataLen;
    this.pump();
    if (this.queued <= HIGH_WATER_MARK) return true;
    this.needDrain = true;
    return false;
  }

  respondOk(body: Buffer): void {
    if (this.gone) return;
    const dataLen = PREFIX_BYTES + body.length;
    const c = this.conn;
    if (!this.headersSent && this.fitsOneFrame(dataLen)) {
      this.headersSent = true;
      this.ending = true;
      this.sendWindow -= dataLen;
      c.sendUnary(this.id, RESPONSE_BLOCK, body, OK_TRAILERS_BLOCK);
      return c.localEnded(this);
    }
    if (!this.headersSent) this.sendHeaders(RESPONSE_BLOCK, false);
    this.queue.push(frameMessage(body));
    this.queued += dataLen;
    this.endWith(OK_TRAILERS_BLOCK);
  }

  /** Nothing queued before it, and both windows and the peer's frame size take `dataLen` bytes. */
  private fitsOneFrame(dataLen: number): boolean {
    const c = this.conn;
    return this.queued === 0 && dataLen <= this.sendWindow && dataLen <= c.sendWindow && dataLen <= c.peerMaxFrame;
  }

  sendStatus(fields: StatusFields): void {
    if (this.gone) return;
    const block = fields === OK_TRAILERS ? OK_TRAILERS_BLOCK : encodeBlock(fieldList(fields));
    if (this.headersSent) return this.endWith(block);
    this.ending = true;
    this.sendHeaders(Buffer.concat([RESPONSE_BLOCK, block]), true);
    this.conn.localEnded(this);
  }

  /** An answer that is headers only, with END_STREAM (the refusals grpc-js makes before a call exists). */
  respondHeadersOnly(fields: ReadonlyArray<readonly [string, string]>): void {
    if (this.gone) return;
    this.ending = true;
    this.sendHeaders(encodeBlock(fields), true);
    this.conn.localEnded(this);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.replenish();
  }

  peer(): string {
    return this.conn.peerAddress;
  }

  authContext(): AuthContext {
    return this.conn.authContext();
  }

  /** DATA (or the END_STREAM of trailers) from the peer; frameBytes counts padding too. */
  receive(data: Buffer, frameBytes: number, end: boolean): void {
    const c = this.conn;
    this.recvWindow -= frameBytes;
    if (this.recvWindow < 0) return c.reset(this, ErrorCode.FLOW_CONTROL_ERROR);
    this.received += data.length;
    if (this.contentLength >= 0 && (this.received > this.contentLength || (end && this.received !== this.contentLength))) {
      return c.reset(this, ErrorCode.PROTOCOL_ERROR);
    }
    if (end) this.remoteClosed = true;
    const sink = this.sink;
    if (sink) {
      try {
        if (data.length > 0) sink.onData(data);
        if (end && !this.finalized) sink.onEnd();
      } catch (err) {
        return c.sinkFailed(this, err);
      }
    }
    if (this.finalized || end) return;
    this.recvUnacked += frameBytes;
    this.replenish();
  }

  /** Sends what the windows allow; then the trailers once the queue is empty. */
  pump(): void {
    const c = this.conn;
    while (this.queue.length > 0) {
      const allowed = Math.min(this.sendWindow, c.sendWindow, c.peerMaxFrame);
      if (allowed <= 0) {
        c.blocked.add(this);
        return;
      }
      const b = this.queue[0]!;
      let piece: Buffer;
      if (b.length <= allowed) {
        piece = b;
        this.queue.shift();
      } else {
        piece = b.subarray(0, allowed);
        this.queue[0] = b.subarray(allowed);
      }
      this.queued -= piece.length;
      this.sendWindow -= piece.length;
      c.sendData(this.id, piece);
    }
    c.blocked.delete(this);
    if (this.trailers) {
      const t = this.trailers;
      this.trailers = undefined;
      this.sendHeaders(t, true);
      return c.localEnded(this);
    }
    if (this.needDrain && this.sink?.onDrain) {
      this.needDrain = false;
      try {
        this.sink.onDrain();
      } catch (err) {
        c.sinkFailed(this, err);
      }
    }
  }

  /** Told by the connection once the stream is gone; local: we ended it (the sink hears later). */
  closed(local: boolean): void {
    this.queue.length = 0;
    this.queued = 0;
    const sink = this.sink;
    if (!sink) return;
    if (local) {
      process.nextTick(notifyClosed, sink);
      return;
    }
    try {
      sink.onClose();
    } catch (err) {
      // The stream is already gone; nothing more to reset.
      this.conn.sinkFailedAfterClose(err);
    }
  }

  private sendHeaders(block: Buffer, endStream: boolean): void {
    this.headersSent = true;
    this.conn.sendHeaders(this.id, block, endStream);
  }

  private endWith(trailerBlock: Buffer): void {
    this.ending = true;
    this.trailers = trailerBlock;
    this.pump();
  }

  /** Opens the peer's stream window again for what the call took (not while it holds the body). */
  private replenish(): void {
    if (this.paused || this.remoteClosed || this.finalized || this.recvUnacked < STREAM_WINDOW / 2) return;
    this.conn.windowUpdate(this.id, this.recvUnacked);
    this.recvWindow += this.recvUnacked;
    this.recvUnacked = 0;
  }
}

function notifyClosed(sink: CallSink): void {
  sink.onClose();
}
