// What unary and streaming calls share, on either HTTP/2 server (call-stream.ts): status
// answers (trailers after a message, or trailers-only), request decompression, and the
// grpc-timeout deadline.

import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http2';
import zlib from 'node:zlib';
import type { AuthContext, CallStream, StatusFields } from './call-stream.js';
import { HeaderMetadata, MessageReader, encodeGrpcMessage, parseTimeout } from './wire.js';

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

/**
 * Arms the call's deadline from grpc-timeout: `onExpiry` runs with the status to send. Returns
 * the deadline (ms since the epoch, Infinity without one) and the timer to clear.
 */
function armDeadline(headers: IncomingHttpHeaders, onExpiry: (s: Status) => void): { deadline: number; timer?: NodeJS.Timeout } {
  const raw = headers['grpc-timeout'];
  const t = parseTimeout(raw);
  if (t === undefined) return { deadline: Infinity };
  if (Number.isNaN(t)) {
    const s = { code: Code.INTERNAL, details: `Invalid grpc-timeout value "${String(raw)}"` };
    // After the constructor, before any DATA (as grpc-js does): the call must exist to answer.
    process.nextTick(() => onExpiry(s));
    return { deadline: Infinity };
  }
  return { deadline: Date.now() + t, timer: setTimeout(() => onExpiry({ code: Code.DEADLINE_EXCEEDED, details: 'Deadline exceeded' }), t) };
}

/**
 * What a handler reads of any call, as on grpc-js's calls: the request, its metadata, the
 * peer, its TLS certificate and the deadline. An EventEmitter, as grpc-js's calls are.
 */
export abstract class LeanCall extends EventEmitter {
  readonly metadata: HeaderMetadata;
  protected readonly headers: IncomingHttpHeaders;
  request: unknown = undefined;
  cancelled = false;
  /** Splits the request body into messages, refusing any past maxReceiveBytes. */
  protected readonly reader: MessageReader;

  constructor(
    readonly path: string,
    protected readonly stream: CallStream,
    protected readonly maxReceiveBytes: number,
  ) {
    super();
    this.headers = stream.headers;
    this.metadata = new HeaderMetadata(this.headers);
    this.reader = new MessageReader(maxReceiveBytes);
  }

  protected deadline = Infinity;
  protected timer: NodeJS.Timeout | undefined;

  /** Arms the grpc-timeout deadline (last in a subclass's constructor). */
  protected armDeadline(onExpiry: (s: Status) => void): void {
    ({ deadline: this.deadline, timer: this.timer } = armDeadline(this.headers, onExpiry));
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
