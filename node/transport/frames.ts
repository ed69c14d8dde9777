// Length-prefixed frames on a byte stream: u32 length (of type + payload) | u8 type | payload.
// FrameReader reassembles frames from arbitrary socket chunks without quadratic copying.

export const FrameType = {
  /** First frame on every connection: JSON {clusterId, from, to, kind: 'stream'|'snapshot'|'info'}. */
  hello: 1,
  /** A batch of Raft messages (codec.ts batch). */
  messages: 2,
  /** Round-trip probe: u32 seq | f64 sender's clock; echoed back as pong. */
  ping: 3,
  pong: 4,
  /** Snapshot stream: header = message without snapshot data + f64 total data bytes. */
  snapHeader: 5,
  snapChunk: 6,
  snapEnd: 7,
  /** Receiver -> sender on a snapshot connection: u8 ok. */
  snapAck: 8,
  /** Receiver refuses the connection: utf-8 reason. */
  reject: 9,
  /** Peer request on a stream: u32 call id | JSON {method, body}. */
  rpcRequest: 10,
  /** Answer, written back on the same socket: u32 call id | JSON {ok, result} or {ok:false, code, message}. */
  rpcResponse: 11,
  /** Answer to an 'info' hello: JSON of handler.clusterInfo(). */
  info: 12,
} as const;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

/** Frames larger than this are a protocol error (a batch is split well below it). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export class FrameError extends Error {
  readonly code = 'ErrPeerFrame';
}

export function frameHeader(type: number, payloadBytes: number): Buffer {
  const h = Buffer.allocUnsafe(5);
  h.writeUInt32LE(payloadBytes + 1, 0);
  h[4] = type;
  return h;
}

export function frame(type: number, payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(5 + payload.byteLength);
  b.writeUInt32LE(payload.byteLength + 1, 0);
  b[4] = type;
  b.set(payload, 5);
  return b;
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /**
   * Feeds bytes; calls onFrame for each complete frame (owned: its payload was assembled for
   * it from several chunks, not a view into a socket read). Throws FrameError on a bad length.
   */
  push(chunk: Buffer, onFrame: (type: number, payload: Buffer, owned: boolean) => void): void {
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    for (;;) {
      if (this.buffered < 5) return;
      const len = this.peekU32();
      if (len < 1 || len > MAX_FRAME_BYTES) throw new FrameError(`bad frame length ${len}`);
      if (this.buffered < 4 + len) return;
      const owned = this.chunks[0]!.byteLength < 4 + len;
      const whole = this.take(4 + len);
      onFrame(whole[4]!, whole.subarray(5), owned);
    }
  }

  private peekU32(): number {
    const first = this.chunks[0]!;
    if (first.byteLength >= 4) return first.readUInt32LE(0);
    const b = Buffer.concat(this.chunks, Math.min(this.buffered, 8));
    return b.readUInt32LE(0);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.byteLength >= n) {
      const out = first.subarray(0, n);
      if (first.byteLength === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0]!;
      const want = n - off;
      if (c.byteLength <= want) {
        out.set(c, off);
        off += c.byteLength;
        this.chunks.shift();
      } else {
        out.set(c.subarray(0, want), off);
        this.chunks[0] = c.subarray(want);
        off += want;
      }
    }
    this.buffered -= n;
    return out;
  }
}
