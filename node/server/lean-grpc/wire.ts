// gRPC over HTTP/2 wire details the lean server needs (grpc/grpc PROTOCOL-HTTP2.md): the 5-byte
// message prefix, the grpc-timeout header, grpc-message percent-encoding, and request metadata
// read straight from the HTTP/2 header object. Pure functions; no I/O.

import type { IncomingHttpHeaders } from 'node:http2';

export const PREFIX_BYTES = 5;

/** A length-prefixed message: flag byte (1 = compressed), 4-byte big-endian length, bytes. */
export function frameMessage(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(PREFIX_BYTES + body.length);
  out[0] = 0;
  out.writeUInt32BE(body.length, 1);
  body.copy(out, PREFIX_BYTES);
  return out;
}

/** The length of the one whole message `chunk` holds (prefix and all, nothing else), or -1. */
export function loneMessageLength(chunk: Buffer): number {
  return chunk.length >= PREFIX_BYTES && chunk.readUInt32BE(1) === chunk.length - PREFIX_BYTES ? chunk.length - PREFIX_BYTES : -1;
}

export interface RawMessage {
  readonly compressed: boolean;
  readonly bytes: Buffer;
}

/**
 * Splits a request body into messages as its DATA frames arrive. A message longer than
 * maxBytes is refused from its prefix, before its bytes are buffered.
 */
export class MessageReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxBytes: number) {}

  /** Returns the messages completed by this chunk; throws TooLargeError past the limit. */
  push(chunk: Buffer): RawMessage[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: RawMessage[] = [];
    while (this.buffered >= PREFIX_BYTES) {
      const head = this.chunks[0]!.length >= PREFIX_BYTES ? this.chunks[0]! : this.take(PREFIX_BYTES, false);
      const len = head.readUInt32BE(1);
      if (this.maxBytes >= 0 && len > this.maxBytes) throw new TooLargeError(len, this.maxBytes);
      if (this.buffered < PREFIX_BYTES + len) break;
      const whole = this.take(PREFIX_BYTES + len, true);
      out.push({ compressed: whole[0] === 1, bytes: whole.subarray(PREFIX_BYTES) });
    }
    return out;
  }

  /** True when a message has started and not finished. */
  partial(): boolean {
    return this.buffered > 0;
  }

  /** The first n bytes (one chunk's view when it holds them all); consume removes them. */
  private take(n: number, consume: boolean): Buffer {
    const first = this.chunks[0]!;
    const out = first.length >= n ? first.subarray(0, n) : Buffer.concat(this.chunks, n);
    if (!consume) return out;
    let left = n;
    while (left > 0) {
      const c = this.chunks[0]!;
      if (c.length <= left) {
        this.chunks.shift();
        left -= c.length;
      } else {
        this.chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    this.buffered -= n;
    return out;
  }
}

/** etcd's (grpc-go's) text for an oversized message, sent with RESOURCE_EXHAUSTED. */
export class TooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly max: number,
  ) {
    super(`grpc: received message larger than max (${size} vs. ${max})`);
  }
}

const TIMEOUT = /^(\d{1,8})\s*([HMSmun])$/;
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** grpc-timeout in ms; undefined if absent; NaN if malformed. */
export function parseTimeout(v: string | string[] | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = TIMEOUT.exec(String(v).trim());
  if (!m) return NaN;
  return Math.ceil(Number(m[1]) * UNIT_MS[m[2]!]!);
}

const PLAIN = /^[\x20-\x24\x26-\x7e]*$/;

/** grpc-message: bytes outside printable ASCII, and '%', percent-encoded (UTF-8 first). */
export function encodeGrpcMessage(text: string): string {
  if (PLAIN.test(text)) return text;
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

type MetaValue = string | Buffer;

/**
 * The subset of grpc-js's Metadata the handlers use (get), read straight from the request's
 * header object: no per-call copy of every header. `-bin` values are base64 as the spec says.
 */
export class HeaderMetadata {
  constructor(private readonly headers: IncomingHttpHeaders) {}

  get(key: string): MetaValue[] {
    const v = this.headers[key.toLowerCase()];
    if (v === undefined) return [];
    const list = Array.isArray(v) ? v : key.endsWith('-bin') ? v.split(',') : [v];
    return key.endsWith('-bin') ? list.map((s) => Buffer.from(s.trim(), 'base64')) : list;
  }

  getMap(): Record<string, MetaValue> {
    const out: Record<string, MetaValue> = {};
    for (const k of Object.keys(this.headers)) {
      if (k.startsWith(':') || RESERVED.has(k)) continue;
      const v = this.get(k);
      if (v.length > 0) out[k] = v[0]!;
    }
    return out;
  }
}

const RESERVED = new Set(['content-type', 'te', 'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding', 'accept-encoding']);
