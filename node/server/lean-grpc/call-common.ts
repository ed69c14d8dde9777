// What unary and streaming calls share, on either HTTP/2 server (call-stream.ts): status
// answers (trailers after a message, or trailers-only), request decompression, and the
// grpc-timeout deadline.

import type { IncomingHttpHeaders } from 'node:http2';
import zlib from 'node:zlib';
import { OK_TRAILERS } from './call-stream.js';
import type { AuthContext, CallStream, StatusFields } from './call-stream.js';
import { MAX_TIMER_MS } from '../../runtime/long-timer.js';
import { HeaderMetadata, MessageReader, encodeGrpcMessage, loneMessageLength, parseTimeout } from './wire.js';

export const Code = {
  OK: 0,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
} as const;

/** A gRPC status in the shape handlers and grpc-js use (ServiceError / StatusObject). */
export interface StatusLike {
  readonly code?: number;
  readonly details?: string;
  readonly metadata?: { toHttp2Headers?: () => Record<string, string | string[]> } | null;
}

export interface Status {
  readonly code: number;
  readonly details: string;
  readonly extra?: Record<string, string | string[]> | undefined;
}

export function statusOfError(err: unknown): Status {
  const s = err as StatusLike;
  return { code: typeof s?.code === 'number' ? s.code : Code.UNKNOWN, details: s?.details ?? String(err), extra: s?.metadata?.toHttp2Headers?.() };
}

export function statusFields(s: Status): StatusFields {
  // Every stream that ends well ends so: the shared fields, which our framer sends pre-encoded.
  if (s.code === Code.OK && s.details === 'OK' && s.extra === undefined) return OK_TRAILERS;
  return { ...s.extra, 'grpc-status': String(s.code), 'grpc-message': encodeGrpcMessage(s.details) };
}

/**
 * Ends the stream with a status: in trailers when headers went out, else trailers-only. False
 * if the stream is already gone.
 */
export function sendStatus(stream: CallStream, s: Status): boolean {
  if (stream.gone) return false;
  stream.sendStatus(statusFields(s));
  return true;
}

/**
 * A compressed message's bytes in the request's grpc-encoding (grpc-js reads gzip and deflate),
 * or the status to fail with. Synchronous (rare, and bounded by the receive limit) so messages
 * stay in order.
 */
export function decompress(bytes: Buffer, encoding: string | string[] | undefined, maxBytes: number): Buffer | Status {
  const enc = String(encoding ?? 'identity');
  const opts = maxBytes >= 0 ? { maxOutputLength: Math.max(1, maxBytes) } : {};
  try {
    if (enc === 'gzip') return zlib.gunzipSync(bytes, opts);
    if (enc === 'deflate') return zlib.inflateSync(bytes, opts);
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      return { code: Code.RESOURCE_EXHAUSTED, details: `Received message that decompresses to a size larger than ${maxBytes}` };
    }
    return { code: Code.INTERNAL, details: 'Failed to decompress message' };
  }
  return { code: Code.UNIMPLEMENTED, details: `Received message compressed with unsupported encoding "${enc}"` };
}

/** A call's deadline timer fired: it ends with DEADLINE_EXCEEDED (a static function, no closure per call). */
function expire(call: LeanCall): void {
  call.expire({ code: Code.DEADLINE_EXCEEDED, details: 'Deadline exceeded' });
}

/** An invalid grpc-timeout header fails the call once it exists (grpc-js's order). */
function expireInvalid(call: LeanCall, raw: unknown): void {
  call.expire({ code: Code.INTERNAL, details: `Invalid grpc-timeout value "${String(raw)}"` });
}

/**
 * What a handler reads of any call, as on grpc-js's calls: the request, its metadata, the
 * peer, its TLS certificate and the deadline. Streaming calls are EventEmitters, as grpc-js's
 * calls are (stream-call.ts); a unary call is not (nothing is emitted on one), which keeps the
 * objects a call holds while it is in flight few: under 1000 clients every one of them outlives
 * two scavenges and is promoted, so each byte here is old-space garbage until a full GC.
 */
export abstract class LeanCall {
  readonly metadata: HeaderMetadata;
  protected readonly headers: IncomingHttpHeaders;
  request: unknown = undefined;
  cancelled = false;
  private messages: MessageReader | undefined = undefined;
  protected deadline = Infinity;
  protected timer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly path: string,
    protected readonly stream: CallStream,
    protected readonly maxReceiveBytes: number,
  ) {
    this.headers = stream.headers;
    this.metadata = new HeaderMetadata(this.headers);
  }

  /** Splits the request body into messages, refusing any past maxReceiveBytes (made on first use). */
  protected get reader(): MessageReader {
    return (this.messages ??= new MessageReader(this.maxReceiveBytes));
  }

  /**
   * The length of the one whole message `chunk` holds when nothing came before it (nearly every
   * request: then no reader is needed), else -1.
   */
  protected loneMessage(chunk: Buffer): number {
    return this.messages !== undefined && this.messages.partial() ? -1 : loneMessageLength(chunk);
  }

  /** Ends the call with this status (the deadline's expiry, or an invalid grpc-timeout). */
  abstract expire(s: Status): void;

  /**
   * Arms the deadline from grpc-timeout (last in a subclass's constructor): the call expires
   * then. Malformed: the call fails with INTERNAL after the constructor, before any DATA (as
   * grpc-js does: the call must exist to answer).
   */
  protected armDeadline(): void {
    const raw = this.headers['grpc-timeout'];
    if (raw === undefined) return;
    const t = parseTimeout(raw);
    if (t === undefined) return;
    if (Number.isNaN(t)) {
      process.nextTick(expireInvalid, this, raw);
      return;
    }
    this.deadline = Date.now() + t;
    // Beyond setTimeout's limit (24.8 days) the timer would fire after 1 ms: such a call has no timer.
    if (t <= MAX_TIMER_MS) this.timer = setTimeout(expire, t, this);
  }

  protected clearDeadline(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  getPath(): string {
    return this.path;
  }

  getDeadline(): number {
    return this.deadline;
  }

  getPeer(): string {
    return this.stream.peer();
  }

  getAuthContext(): AuthContext {
    return this.stream.authContext();
  }
}
