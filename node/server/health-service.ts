// The standard gRPC health service (grpc.health.v1), as etcd serves it: grpc-go's health server
// with one service, "" (all services), set SERVING once the member serves clients. etcd does
// not tie it to having a leader (it turns NOT_SERVING only during a defrag, behind an
// experimental flag tsetcd does not have). Any other service name is unknown: Check fails with
// NotFound "unknown service", Watch sends SERVICE_UNKNOWN. Watch then stays open, as
// grpc-go's does, sending nothing more since the status never changes.

import type { ServerUnaryCall, ServerWritableStream, sendUnaryData, UntypedServiceImplementation } from '@grpc/grpc-js';
import { GrpcStatus } from './grpc-status.js';
import { grpcError } from './errors.js';

/** ServingStatus numbers. */
const SERVING = 1;
const SERVICE_UNKNOWN = 3;
/** etcd's allGRPCServices. */
const ALL_SERVICES = '';

interface HealthCheckRequest {
  service?: string;
}

export function healthService(): UntypedServiceImplementation {
  const known = (req: HealthCheckRequest): boolean => (req.service ?? '') === ALL_SERVICES;
  return {
    Check: (call: ServerUnaryCall<HealthCheckRequest, unknown>, cb: sendUnaryData<unknown>) => {
      if (known(call.request)) cb(null, { status: SERVING });
      else cb(grpcError(GrpcStatus.NOT_FOUND, 'unknown service'), null);
    },
    Watch: (call: ServerWritableStream<HealthCheckRequest, unknown>) => {
      call.write({ status: known(call.request) ? SERVING : SERVICE_UNKNOWN });
    },
  };
}
