// --experimental-grpc-server: which server answers the client API's gRPC calls. 'lean': our
// call layer on node:http2; 'h2': the same call layer on our own HTTP/2 framer (../h2/);
// 'grpc-js': grpc-js for every call.

export type GrpcServerKind = 'lean' | 'h2' | 'grpc-js';

// h2 by default: at equal proof (every wire suite, h2spec 130/144 as node:http2) it cut member CPU
// per serializable range by two thirds (docs/benchmarks/member.md).
export const DEFAULT_GRPC_SERVER: GrpcServerKind = 'h2';

export function isGrpcServerKind(s: string): s is GrpcServerKind {
  return s === 'lean' || s === 'h2' || s === 'grpc-js';
}
