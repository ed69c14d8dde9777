// --experimental-grpc-server: which server answers the client API's gRPC calls.

export type GrpcServerKind = 'lean' | 'grpc-js';

export const DEFAULT_GRPC_SERVER: GrpcServerKind = 'lean';

export function isGrpcServerKind(s: string): s is GrpcServerKind {
  return s === 'lean' || s === 'grpc-js';
}
