// One table: every expected failure, with etcd's gRPC status code and exact message
// (etcd api/v3rpc/rpctypes/error.go). Client libraries match on these strings, so they must
// not drift. toServiceError() turns anything thrown by a handler or the backend into a gRPC
// error; unknown errors become Unknown with their message (as etcd passes through raw errors).

import { GrpcStatus } from './grpc-status.js';
import type { BackendErrorCode } from './backend.js';

/**
 * Failures the server layer itself detects, before the backend is asked. Request validation
 * errors are not here: node/mvcc/validate.ts raises them as MvccError, with their texts in
 * node/mvcc/errors.ts (written once).
 */
export type ServerOnlyErrorCode =
  | 'requestTooLarge'
  | 'watchCanceled'
  | 'requestCanceled'
  | 'unknownMethod'
  | 'wrongDowngradeVersionFormat'
  | 'invalidDowngradeTargetVersion'
  | 'downgradeInProcess';

export type EtcdErrorCode = BackendErrorCode | ServerOnlyErrorCode;

export interface EtcdErrorSpec {
  readonly grpcCode: GrpcStatus;
  readonly message: string;
}

const S = GrpcStatus;

export const ETCD_ERRORS: Readonly<Record<EtcdErrorCode, EtcdErrorSpec>> = Object.freeze({
  // KV request limits
  requestTooLarge: { grpcCode: S.INVALID_ARGUMENT, message: 'etcdserver: request is too large' },
  tooManyRequests: { grpcCode: S.RESOURCE_EXHAUSTED, message: 'etcdserver: too many requests' },
  // MVCC
  compacted: { grpcCode: S.OUT_OF_RANGE, message: 'etcdserver: mvcc: required revision has been compacted' },
  futureRev: { grpcCode: S.OUT_OF_RANGE, message: 'etcdserver: mvcc: required revision is a future revision' },
  noSpace: { grpcCode: S.RESOURCE_EXHAUSTED, message: 'etcdserver: mvcc: database space exceeded' },
  // Lease
  leaseNotFound: { grpcCode: S.NOT_FOUND, message: 'etcdserver: requested lease not found' },
  leaseExist: { grpcCode: S.FAILED_PRECONDITION, message: 'etcdserver: lease already exists' },
  leaseTtlTooLarge: { grpcCode: S.OUT_OF_RANGE, message: 'etcdserver: too large lease TTL' },
  // Watch
  watchCanceled: { grpcCode: S.CANCELLED, message: 'etcdserver: watch canceled' },
  // Membership
  memberExist: { grpcCode: S.FAILED_PRECONDITION, message: 'etcdserver: member ID already exist' },
  peerUrlExist: { grpcCode: S.FAILED_PRECONDITION, message: 'etcdserver: Peer URLs already exists' },
  memberNotEnoughStarted: {
    grpcCode: S.FAILED_PRECONDITION,
    message: 'etcdserver: re-configuration failed due to not enough started members',
  },
  memberBadUrls: { grpcCode: S.INVALID_ARGUMENT, message: 'etcdserver: given member URLs are invalid' },
  memberNotFound: { grpcCode: S.NOT_FOUND, message: 'etcdserver: member not found' },
  memberNotLearner: { grpcCode: S.FAILED_PRECONDITION, message: 'etcdserver: can only promote a learner member' },
  learnerNotReady: {
    grpcCode: S.FAILED_PRECONDITION,
    message: 'etcdserver: can only promote a learner member which is in sync with leader',
  },
  tooManyLearners: { grpcCode: S.FAILED_PRECONDITION, message: 'etcdserver: too many learner members in cluster' },
  // Raft / server state
  noLeader: { grpcCode: S.UNAVAILABLE, message: 'etcdserver: no leader' },
  notLeader: { grpcCode: S.FAILED_PRECONDITION, message: 'etcdserver: not leader' },
  leaderChanged: { grpcCode: S.UNAVAILABLE, message: 'etcdserver: leader changed' },
  notCapable: { grpcCode: S.UNAVAILABLE, message: 'etcdserver: not capable' },
  stopped: { grpcCode: S.UNAVAILABLE, message: 'etcdserver: server stopped' },
  timeout: { grpcCode: S.UNAVAILABLE, message: 'etcdserver: request timed out' },
  timeoutDueToLeaderFail: {
    grpcCode: S.UNAVAILABLE,
    message: 'etcdserver: request timed out, possibly due to previous leader failure',
  },
  timeoutDueToConnectionLost: {
    grpcCode: S.UNAVAILABLE,
    message: 'etcdserver: request timed out, possibly due to connection lost',
  },
  unhealthyCluster: { grpcCode: S.UNAVAILABLE, message: 'etcdserver: unhealthy cluster' },
  corrupt: { grpcCode: S.DATA_LOSS, message: 'etcdserver: corrupt cluster' },
  notSupportedForLearner: { grpcCode: S.UNAVAILABLE, message: 'etcdserver: rpc not supported for learner' },
  badLeaderTransferee: { grpcCode: S.FAILED_PRECONDITION, message: 'etcdserver: bad leader transferee' },
  requestCanceled: { grpcCode: S.CANCELLED, message: 'etcdserver: request canceled' },
  // etcd passes this one through as a raw error: gRPC Unknown.
  unknownMethod: { grpcCode: S.UNKNOWN, message: 'etcdserver: unknown method' },
  // Downgrade (node/server/downgrade.ts)
  wrongDowngradeVersionFormat: { grpcCode: S.INVALID_ARGUMENT, message: 'etcdserver: wrong downgrade target version format' },
  invalidDowngradeTargetVersion: { grpcCode: S.INVALID_ARGUMENT, message: 'etcdserver: invalid downgrade target version' },
  downgradeInProcess: { grpcCode: S.FAILED_PRECONDITION, message: 'etcdserver: cluster has a downgrade job in progress' },
});

/** An expected failure found by the server layer (validation) or rethrown from the backend. */
export class EtcdError extends Error {
  readonly grpcCode: GrpcStatus;
  constructor(readonly code: EtcdErrorCode) {
    const spec = ETCD_ERRORS[code];
    super(spec.message);
    this.name = 'EtcdError';
    this.grpcCode = spec.grpcCode;
  }
}

export function isEtcdErrorCode(code: unknown): code is EtcdErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ETCD_ERRORS, code);
}

/** Finds the etcd error a thrown value stands for, if it is one of ours. */
export function etcdErrorOf(err: unknown): EtcdErrorSpec | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const code = (err as { code?: unknown }).code;
  return isEtcdErrorCode(code) ? ETCD_ERRORS[code] : undefined;
}

/** grpc-go code names (as node/mvcc's errors carry them) to grpc-js status numbers. */
const STATUS_BY_NAME: Readonly<Record<string, GrpcStatus>> = {
  OK: S.OK,
  Canceled: S.CANCELLED,
  Unknown: S.UNKNOWN,
  InvalidArgument: S.INVALID_ARGUMENT,
  DeadlineExceeded: S.DEADLINE_EXCEEDED,
  NotFound: S.NOT_FOUND,
  AlreadyExists: S.ALREADY_EXISTS,
  PermissionDenied: S.PERMISSION_DENIED,
  ResourceExhausted: S.RESOURCE_EXHAUSTED,
  FailedPrecondition: S.FAILED_PRECONDITION,
  Aborted: S.ABORTED,
  OutOfRange: S.OUT_OF_RANGE,
  Unimplemented: S.UNIMPLEMENTED,
  Internal: S.INTERNAL,
  Unavailable: S.UNAVAILABLE,
  DataLoss: S.DATA_LOSS,
  Unauthenticated: S.UNAUTHENTICATED,
};

/**
 * A grpc-js ServiceError for anything thrown. Order: an error carrying its own gRPC mapping
 * (node/mvcc's MvccError: grpcCode name + grpcMessage); then a `code` from our table
 * (BackendError, EtcdError); then an existing gRPC status; else Unknown with the message.
 */
/** A gRPC error status as every server here sends it (grpc-js reads code and details). */
export interface GrpcError {
  readonly code: GrpcStatus;
  readonly details: string;
  readonly message: string;
  readonly name: string;
}

export function toServiceError(err: unknown): GrpcError {
  if (err !== null && typeof err === 'object') {
    const e = err as { grpcCode?: unknown; grpcMessage?: unknown };
    if (typeof e.grpcCode === 'string' && typeof e.grpcMessage === 'string') {
      const code = STATUS_BY_NAME[e.grpcCode];
      if (code !== undefined) return grpcError(code, e.grpcMessage);
    }
  }
  const spec = etcdErrorOf(err);
  if (spec) return grpcError(spec.grpcCode, spec.message);
  if (err !== null && typeof err === 'object') {
    const e = err as { code?: unknown; details?: unknown; message?: unknown };
    // Already a gRPC status (e.g. from a nested call).
    if (typeof e.code === 'number' && typeof e.details === 'string') return grpcError(e.code as GrpcStatus, e.details);
    if (typeof e.message === 'string') return grpcError(S.UNKNOWN, e.message);
  }
  return grpcError(S.UNKNOWN, String(err));
}

export function grpcError(code: GrpcStatus, message: string): GrpcError {
  // No metadata: grpc-js sends empty trailers for an error without it; the other servers ignore it.
  return { code, details: message, message, name: 'Error' };
}

/** grpc-gateway's mapping from gRPC codes to HTTP statuses, for the /v3 JSON gateway. */
export function httpStatusOf(code: GrpcStatus): number {
  switch (code) {
    case S.OK:
      return 200;
    case S.CANCELLED:
      return 499;
    case S.UNKNOWN:
      return 500;
    case S.INVALID_ARGUMENT:
      return 400;
    case S.DEADLINE_EXCEEDED:
      return 504;
    case S.NOT_FOUND:
      return 404;
    case S.ALREADY_EXISTS:
      return 409;
    case S.PERMISSION_DENIED:
      return 403;
    case S.RESOURCE_EXHAUSTED:
      return 429;
    case S.FAILED_PRECONDITION:
      return 400;
    case S.ABORTED:
      return 409;
    case S.OUT_OF_RANGE:
      return 400;
    case S.UNIMPLEMENTED:
      return 501;
    case S.INTERNAL:
      return 500;
    case S.UNAVAILABLE:
      return 503;
    case S.DATA_LOSS:
      return 500;
    case S.UNAUTHENTICATED:
      return 401;
    default:
      return 500;
  }
}
