// Typed, expected errors of the MVCC state machine. Each carries:
// - `code`: a stable name to switch on;
// - `message`: etcd's bare text (what etcd's mvcc/lease/etcdserver packages return);
// - `grpcMessage`: the exact text etcd's gRPC layer sends (api/v3rpc/rpctypes/error.go);
// - `grpcCode`: the gRPC status code name etcd uses.
// The server maps with `err.grpcCode` / `err.grpcMessage`; nothing else needs a table.

export type MvccErrorCode =
  | 'compacted'
  | 'futureRev'
  | 'emptyKey'
  | 'keyNotFound'
  | 'valueProvided'
  | 'leaseProvided'
  | 'tooManyOps'
  | 'duplicateKey'
  | 'invalidSortOption'
  | 'invalidRequest'
  | 'noSpace'
  | 'leaseNotFound'
  | 'leaseExists'
  | 'leaseTtlTooLarge'
  | 'corrupt'
  | 'emptyWatcherRange'
  | 'duplicateWatchId'
  | 'watchStreamNotFound'
  | 'snapshotInvalid';

export type GrpcCodeName =
  | 'OK'
  | 'InvalidArgument'
  | 'NotFound'
  | 'FailedPrecondition'
  | 'OutOfRange'
  | 'ResourceExhausted'
  | 'DataLoss'
  | 'Internal'
  | 'PermissionDenied'
  | 'Unauthenticated'
  | 'Unknown';

interface ErrorSpec {
  readonly message: string;
  readonly grpcMessage: string;
  readonly grpcCode: GrpcCodeName;
  /** The detail given to the constructor is part of the gRPC text too (checks etcd does not make). */
  readonly detailOnWire?: boolean;
}

/** The one table: bare text, etcd's gRPC text and gRPC code per error. */
export const ERROR_SPECS: { readonly [C in MvccErrorCode]: ErrorSpec } = {
  compacted: {
    message: 'mvcc: required revision has been compacted',
    grpcMessage: 'etcdserver: mvcc: required revision has been compacted',
    grpcCode: 'OutOfRange',
  },
  futureRev: {
    message: 'mvcc: required revision is a future revision',
    grpcMessage: 'etcdserver: mvcc: required revision is a future revision',
    grpcCode: 'OutOfRange',
  },
  emptyKey: { message: 'key is not provided', grpcMessage: 'etcdserver: key is not provided', grpcCode: 'InvalidArgument' },
  keyNotFound: { message: 'key not found', grpcMessage: 'etcdserver: key not found', grpcCode: 'InvalidArgument' },
  valueProvided: { message: 'value is provided', grpcMessage: 'etcdserver: value is provided', grpcCode: 'InvalidArgument' },
  leaseProvided: { message: 'lease is provided', grpcMessage: 'etcdserver: lease is provided', grpcCode: 'InvalidArgument' },
  tooManyOps: {
    message: 'too many operations in txn request',
    grpcMessage: 'etcdserver: too many operations in txn request',
    grpcCode: 'InvalidArgument',
  },
  duplicateKey: {
    message: 'duplicate key given in txn request',
    grpcMessage: 'etcdserver: duplicate key given in txn request',
    grpcCode: 'InvalidArgument',
  },
  invalidSortOption: { message: 'invalid sort option', grpcMessage: 'etcdserver: invalid sort option', grpcCode: 'InvalidArgument' },
  // A field etcd leaves unchecked (an enum out of range, a oneof set twice): "etcdserver: invalid request: <what>".
  invalidRequest: { message: 'invalid request', grpcMessage: 'etcdserver: invalid request', grpcCode: 'InvalidArgument', detailOnWire: true },
  noSpace: {
    message: 'mvcc: database space exceeded',
    grpcMessage: 'etcdserver: mvcc: database space exceeded',
    grpcCode: 'ResourceExhausted',
  },
  leaseNotFound: { message: 'lease not found', grpcMessage: 'etcdserver: requested lease not found', grpcCode: 'NotFound' },
  leaseExists: { message: 'lease already exists', grpcMessage: 'etcdserver: lease already exists', grpcCode: 'FailedPrecondition' },
  leaseTtlTooLarge: { message: 'too large lease TTL', grpcMessage: 'etcdserver: too large lease TTL', grpcCode: 'OutOfRange' },
  corrupt: { message: 'corrupt cluster', grpcMessage: 'etcdserver: corrupt cluster', grpcCode: 'DataLoss' },
  // Watch create failures travel as cancel_reason on a created+canceled response (etcd's mvcc texts).
  emptyWatcherRange: { message: 'mvcc: watcher range is empty', grpcMessage: 'mvcc: watcher range is empty', grpcCode: 'InvalidArgument' },
  duplicateWatchId: {
    message: 'mvcc: duplicate watch ID provided on the WatchStream',
    grpcMessage: 'mvcc: duplicate watch ID provided on the WatchStream',
    grpcCode: 'InvalidArgument',
  },
  watchStreamNotFound: { message: 'watch stream not found', grpcMessage: 'watch stream not found', grpcCode: 'NotFound' },
  snapshotInvalid: { message: 'mvcc: invalid snapshot', grpcMessage: 'etcdserver: invalid snapshot', grpcCode: 'DataLoss' },
};

export class MvccError extends Error {
  readonly code: MvccErrorCode;
  readonly grpcMessage: string;
  readonly grpcCode: GrpcCodeName;
  constructor(code: MvccErrorCode, detail?: string) {
    const spec = ERROR_SPECS[code];
    super(detail === undefined ? spec.message : `${spec.message}: ${detail}`);
    this.name = 'MvccError';
    this.code = code;
    this.grpcMessage = spec.detailOnWire && detail !== undefined ? `${spec.grpcMessage}: ${detail}` : spec.grpcMessage;
    this.grpcCode = spec.grpcCode;
  }
}

export class CompactedError extends MvccError {
  /** The store's compact revision when the error was raised. */
  readonly compactRevision: number;
  constructor(compactRevision: number) {
    super('compacted');
    this.name = 'CompactedError';
    this.compactRevision = compactRevision;
  }
}

export class FutureRevError extends MvccError {
  constructor() {
    super('futureRev');
    this.name = 'FutureRevError';
  }
}

export class NoSpaceError extends MvccError {
  constructor() {
    super('noSpace');
    this.name = 'NoSpaceError';
  }
}

export class LeaseNotFoundError extends MvccError {
  constructor() {
    super('leaseNotFound');
    this.name = 'LeaseNotFoundError';
  }
}

export function isMvccError(e: unknown): e is MvccError {
  return e instanceof MvccError;
}

/** A broken invariant: a bug, not an expected condition. Stops the process. */
export function assert(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(`mvcc invariant broken: ${what}`);
}

export function assertNever(x: never): never {
  throw new Error(`mvcc: unexpected value ${JSON.stringify(x)}`);
}
