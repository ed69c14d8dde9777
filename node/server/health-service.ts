// The standard gRPC health service (grpc.health.v1). SERVING while the member has a leader.
// Watch sends the current status, then a new one whenever it changes (polled every second).

import type { ServerUnaryCall, ServerWritableStream, sendUnaryData, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { ServerContext } from './rpc-context.js';

/** ServingStatus numbers. */
const SERVING = 1;
const NOT_SERVING = 2;
const HEALTH_WATCH_POLL_MS = 1000;

export function healthService(ctx: ServerContext): UntypedServiceImplementation {
  const current = (): number => (ctx.backend.hasLeader() ? SERVING : NOT_SERVING);
  return {
    Check: (_call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => cb(null, { status: current() }),
    Watch: (call: ServerWritableStream<unknown, unknown>) => {
      let last = current();
      call.write({ status: last });
      const timer = setInterval(() => {
        const now = current();
        if (now !== last) {
          last = now;
          call.write({ status: now });
        }
      }, HEALTH_WATCH_POLL_MS);
      timer.unref();
      const stop = (): void => clearInterval(timer);
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
    },
  };
}
