// The lean gRPC server's entry points: the server, and the glue to the services grpc-js serves.

import type { Server, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { StreamFallback } from './lean-server.js';
import type { UnaryMethod } from './unary-call.js';

export { LeanGrpcServer } from './lean-server.js';
export type { LeanGrpcOptions, StreamFallback } from './lean-server.js';

interface MethodDef {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly requestDeserialize: (b: Buffer) => unknown;
  readonly responseSerialize: (v: unknown) => Buffer;
}

/** Every unary method of the services, with the implementation grpc-js would run. */
export function unaryMethodsOf(services: Map<string, ServiceDefinition>, impls: Map<string, UntypedServiceImplementation>): UnaryMethod[] {
  const out: UnaryMethod[] = [];
  for (const [name, svc] of services) {
    const impl = impls.get(name) as Record<string, UnaryMethod['handler'] | undefined> | undefined;
    for (const [method, d] of Object.entries(svc as unknown as Record<string, MethodDef>)) {
      const handler = impl?.[method];
      if (d.requestStream || d.responseStream || !handler) continue;
      out.push({ path: d.path, deserialize: d.requestDeserialize, serialize: d.responseSerialize, handler });
    }
  }
  return out;
}

/**
 * grpc-js's own per-stream entry (Server#_streamHandler, what its HTTP/2 servers run on each
 * 'stream' event): streams it gets behave exactly as on a grpc-js server. Private API of the
 * pinned grpc-js; checked here so an upgrade that renames it fails at start, not per call.
 */
export function grpcJsStreamHandler(server: Server): StreamFallback {
  const s = server as unknown as { _streamHandler?: (interceptors: unknown[], stream: unknown, headers: unknown) => void };
  const handle = s._streamHandler;
  if (typeof handle !== 'function') throw new Error('grpc-js has no _streamHandler: the lean gRPC server needs the pinned @grpc/grpc-js');
  return (stream, headers) => handle.call(server, [], stream, headers);
}
