// The Watch service: one bidirectional stream carrying create, cancel and progress requests.
// The backend's hub emits complete WatchResponses (created first, then events, cancels and
// progress); this layer fills the header identity and writes them out. Backpressure: when the
// gRPC send buffer is above its high-water mark the sink answers false, the hub holds further
// responses (bounded) and marks slow watchers unsynced; on 'drain' we call resume(). As a last
// guard, a stream whose buffer still grows beyond MAX_PENDING_BYTES is failed.

import type { ServerDuplexStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { GrpcStatus } from './grpc-status.js';
import type { WatchCreateRequest, WatchResponse } from '../mvcc/types.js';
import type { WatchStream } from './backend.js';
import { watchRefusal, type Caller } from './auth-check.js';
import { EtcdError, toServiceError } from './errors.js';
import type { ServerContext } from './rpc-context.js';
import { fragmentWatchResponse } from './watch-fragment.js';
import { completeHeader, makeHeader, openBidiStream, requiresLeader } from './rpc-context.js';

/** Bytes a stream may have waiting in its send buffer before the server gives up on the client. */
export const MAX_PENDING_BYTES = 64 * 1024 * 1024;

export interface WatchRequestWire {
  createRequest?: WatchCreateRequest;
  cancelRequest?: { watchId: number };
  progressRequest?: Record<string, never>;
  requestUnion?: string;
}

/** One request on a watch stream (gRPC or the JSON gateway). */
export function handleWatchRequest(ctx: ServerContext, ws: WatchStream, req: WatchRequestWire, send: (r: WatchResponse) => boolean, caller: Caller): void {
  if (req.createRequest) {
    // With auth on, a watcher needs read permission on its range when it is created (etcd
    // checks only then: a permission revoked later leaves an open watcher running).
    const refused = ctx.backend.auth.store.enabled ? watchRefusal(ctx, caller, req.createRequest.key, req.createRequest.rangeEnd) : undefined;
    if (refused !== undefined) {
      send({ header: makeHeader(ctx), watchId: -1, created: true, canceled: true, compactRevision: 0, cancelReason: refused, fragment: false, events: [] });
      return;
    }
    try {
      ws.create(req.createRequest);
    } catch (err) {
      // etcd answers a refused create on the stream rather than failing the stream.
      send({
        header: makeHeader(ctx),
        watchId: -1,
        created: true,
        canceled: true,
        compactRevision: 0,
        cancelReason: toServiceError(err).details,
        fragment: false,
        events: [],
      });
    }
  } else if (req.cancelRequest) {
    ws.cancel(req.cancelRequest.watchId);
  } else if (req.progressRequest) {
    ws.requestProgress();
  }
}

/** `serialize` is the stream's own (codec/method-codec.ts): it measures answers to fragment them. */
export function watchService(ctx: ServerContext, serialize: (r: WatchResponse) => Buffer): UntypedServiceImplementation {
  const encodedSize = (r: WatchResponse): number => serialize(r).length;
  const Watch = (call: ServerDuplexStream<WatchRequestWire, WatchResponse>): void => {
    const counters = openBidiStream(ctx, call as ServerDuplexStream<unknown, unknown>, 'etcdserverpb.Watch', 'Watch');
    if (!counters) return;
    let closed = false;
    let ws: WatchStream | undefined;
    let unregister = (): void => {};
    const finish = (code: number): void => {
      if (closed) return;
      closed = true;
      unregister();
      ctx.metrics.watchStreams.dec();
      ws?.close();
      counters.finish(code);
    };
    if (requiresLeader(call.metadata)) {
      unregister = ctx.leaderMonitor.register(() => {
        if (closed) return;
        const err = new EtcdError('noLeader');
        finish(err.grpcCode);
        call.emit('error', toServiceError(err));
      });
    }
    // Watchers created with `fragment: true`; creates are answered in order, so each `created`
    // answer takes the next flag.
    const fragmentFlags: boolean[] = [];
    const fragmented = new Set<number>();
    const send = (resp: WatchResponse): boolean => {
      if (closed) return true;
      resp.header = completeHeader(ctx, resp.header);
      if (resp.created && fragmentFlags.shift() === true && resp.watchId >= 0 && !resp.canceled) fragmented.add(resp.watchId);
      if (resp.canceled) fragmented.delete(resp.watchId);
      if (resp.events.length > 0) ctx.metrics.mvccEvents.inc(resp.events.length);
      let ok = true;
      const pieces = fragmented.has(resp.watchId) ? fragmentWatchResponse(resp, ctx.limits.maxRequestBytes, encodedSize) : [resp];
      for (const piece of pieces) {
        counters.sent();
        ok = call.write(piece);
      }
      if (call.writableLength > MAX_PENDING_BYTES) {
        ctx.logger.warn('watch stream send buffer full; closing it', { pendingBytes: call.writableLength });
        const err = new EtcdError('tooManyRequests');
        finish(err.grpcCode);
        call.emit('error', toServiceError(err));
        return true;
      }
      return ok;
    };
    ctx.metrics.watchStreams.inc();
    ws = ctx.backend.openWatchStream(send);
    call.on('drain', () => {
      if (!closed) ws?.resume();
    });
    call.on('data', (req: WatchRequestWire) => {
      if (closed || !ws) return;
      counters.received();
      if (req.createRequest) fragmentFlags.push(req.createRequest.fragment === true);
      handleWatchRequest(ctx, ws, req, send, call);
    });
    call.on('end', () => {
      finish(GrpcStatus.OK);
      call.end();
    });
    call.on('error', () => finish(GrpcStatus.CANCELLED));
    call.on('cancelled', () => finish(GrpcStatus.CANCELLED));
    call.on('close', () => finish(GrpcStatus.CANCELLED));
  };
  return { Watch };
}
