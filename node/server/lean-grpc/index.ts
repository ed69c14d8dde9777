// The lean gRPC server's entry points: the server, and the glue to the services grpc-js serves.

import type { Server, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { StreamFallback } from './lean-server.js';
import type { StreamMethod } from './stream-call.js';
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

/**
 * Every method of the services with the implementation grpc-js would run: unary, bidi and
 * server-streaming (etcd has no client-streaming method; such a method would go to grpc-js).
 */
export function methodsOf(services: Map<string, ServiceDefinition>, impls: Map<string, UntypedServiceImplementation>): Array<UnaryMethod | StreamMethod> {
  const out: Array<UnaryMethod | StreamMethod> = [];
  for (const [name, svc] of services) {
    const impl = impls.get(name) as Record<string, ((...args: never[]) => void) | undefined> | undefined;
    for (const [method, d] of Object.entries(svc as unknown as Record<string, MethodDef>)) {
      const handler = impl?.[method];
      if (!handler) continue;
      const codec = { path: d.path, deserialize: d.requestDeserialize, serialize: d.responseSerialize };
      if (!d.requestStream && !d.responseStream) out.push({ ...codec, handler: handler as UnaryMethod['handler'] });
      else if (d.responseStream) out.push({ ...codec, kind: d.requestStream ? 'bidi' : 'serverStream', handler: handler as StreamMethod['handler'] });
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
