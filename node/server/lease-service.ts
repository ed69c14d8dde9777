// The Lease service: Grant, Revoke, the KeepAlive stream, TimeToLive, Leases.
// Lease ids from clients are int64, held exactly as bigints (proto-load.ts decodes them so).

import type { ServerDuplexStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { GrpcStatus } from './grpc-status.js';
import type {
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
} from '../mvcc/types.js';
import { EtcdError } from './errors.js';
import type { ServerContext } from './rpc-context.js';
import { authInfoOf, checkLeaseRead } from './auth-check.js';
import { checkCommand, completeHeader, failStream, makeHeader, openBidiStream, requiresLeader, unary } from './rpc-context.js';

/** Keep-alives a stream may have in flight before it stops reading (bounded work per client). */
export const MAX_INFLIGHT_KEEPALIVES = 64;

/**
 * One keep-alive, as etcd answers it on the stream: the renewed TTL, or TTL 0 for a lease that
 * does not exist (not an error). Other errors are thrown (they end the stream).
 */
export async function keepAliveOnce(ctx: ServerContext, req: LeaseKeepAliveRequest): Promise<LeaseKeepAliveResponse> {
  const gone = (): LeaseKeepAliveResponse => ({ header: makeHeader(ctx), ID: req.ID, TTL: 0 });
  try {
    const resp = await ctx.backend.leaseKeepAlive(req);
    resp.header = completeHeader(ctx, resp.header);
    return resp;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'leaseNotFound') return gone();
    throw err;
  }
}

export function leaseService(ctx: ServerContext): UntypedServiceImplementation {
  const b = ctx.backend;
  const S = 'etcdserverpb.Lease';

  const LeaseKeepAlive = (call: ServerDuplexStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse>): void => {
    const counters = openBidiStream(ctx, call as ServerDuplexStream<unknown, unknown>, S, 'LeaseKeepAlive');
    if (!counters) return;
    let closed = false;
    let inflight = 0;
    let unregister = (): void => {};
    const finish = (code: number): void => {
      if (closed) return;
      closed = true;
      unregister();
      counters.finish(code);
    };
    if (requiresLeader(call.metadata)) {
      unregister = ctx.leaderMonitor.register(() => {
        if (closed) return;
        unregister = () => {};
        failStream(call as ServerDuplexStream<unknown, unknown>, new EtcdError('noLeader'), counters);
        closed = true;
      });
    }
    call.on('data', (req: LeaseKeepAliveRequest) => {
      if (closed) return;
      counters.received();
      inflight++;
      if (inflight >= MAX_INFLIGHT_KEEPALIVES) call.pause();
      keepAliveOnce(ctx, req).then(
        (resp) => {
          inflight--;
          if (inflight < MAX_INFLIGHT_KEEPALIVES) call.resume();
          if (closed) return;
          counters.sent();
          call.write(resp);
        },
        (err: unknown) => {
          inflight--;
          if (closed) return;
          unregister();
          failStream(call as ServerDuplexStream<unknown, unknown>, err, counters);
          closed = true;
        },
      );
    });
    call.on('end', () => {
      finish(GrpcStatus.OK);
      call.end();
    });
    call.on('error', () => finish(GrpcStatus.CANCELLED));
    call.on('cancelled', () => finish(GrpcStatus.CANCELLED));
    call.on('close', () => finish(GrpcStatus.CANCELLED));
  };

  return {
    LeaseGrant: unary<LeaseGrantRequest, LeaseGrantResponse>(
      ctx,
      S,
      'LeaseGrant',
      () => false,
      async (req, call) => {
        checkCommand(ctx, { type: 'leaseGrant', req });
        const resp = await b.leaseGrant(req, authInfoOf(ctx, call));
        ctx.metrics.leaseGranted.inc();
        ctx.metrics.leaseTtl.observe(resp.TTL);
        resp.header = completeHeader(ctx, resp.header);
        return resp;
      },
    ),
    LeaseRevoke: unary<LeaseRevokeRequest, LeaseRevokeResponse>(
      ctx,
      S,
      'LeaseRevoke',
      () => false,
      async (req, call) => {
        checkCommand(ctx, { type: 'leaseRevoke', req });
        // Checked at apply: a write permission on every key of the lease.
        const resp = await b.leaseRevoke(req, authInfoOf(ctx, call));
        ctx.metrics.leaseRevoked.inc();
        resp.header = completeHeader(ctx, resp.header);
        return resp;
      },
    ),
    LeaseKeepAlive,
    LeaseTimeToLive: unary<LeaseTimeToLiveRequest, LeaseTimeToLiveResponse>(
      ctx,
      S,
      'LeaseTimeToLive',
      () => false,
      async (req, call) => {
        checkLeaseRead(ctx, call, req.ID);
        const resp = await b.leaseTimeToLive(req);
        resp.header = completeHeader(ctx, resp.header);
        return resp;
      },
    ),
    LeaseLeases: unary<unknown, LeaseLeasesResponse>(
      ctx,
      S,
      'LeaseLeases',
      () => false,
      async () => {
        const resp = await b.leaseLeases();
        resp.header = completeHeader(ctx, resp.header);
        return resp;
      },
    ),
  };
}
