// Loads node/proto/*.proto once with @grpc/proto-loader.
// Options: keepCase (field names as in the .proto, which are etcd's JSON names too), int64 as
// decimal strings (exact for any client-chosen id; ids.ts converts them), enums as names,
// bytes as Buffers (no copies), defaults filled in, oneof names set.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition } from '@grpc/grpc-js';
import type { GrpcObject, ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { Options, PackageDefinition } from '@grpc/proto-loader';

export const LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
};

/** node/proto, from the source tree (tsx) or from dist/node/server (the built binary). */
export function protoDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', 'proto'), join(here, '..', '..', '..', 'node', 'proto')];
  for (const c of candidates) if (existsSync(join(c, 'rpc.proto'))) return c;
  throw new Error(`cannot find node/proto/rpc.proto (looked in ${candidates.join(', ')})`);
}

let cached: PackageDefinition | undefined;

export function loadEtcdProtos(): PackageDefinition {
  if (!cached) {
    const dir = protoDir();
    cached = loadSync(['rpc.proto', 'health.proto'], { ...LOADER_OPTIONS, includeDirs: [dir] });
  }
  return cached;
}

export interface EtcdGrpcObjects {
  readonly KV: ServiceClientConstructor;
  readonly Watch: ServiceClientConstructor;
  readonly Lease: ServiceClientConstructor;
  readonly Cluster: ServiceClientConstructor;
  readonly Maintenance: ServiceClientConstructor;
  readonly Auth: ServiceClientConstructor;
  readonly Health: ServiceClientConstructor;
}

export function etcdGrpcObjects(): EtcdGrpcObjects {
  const root = loadPackageDefinition(loadEtcdProtos());
  const pb = root['etcdserverpb'] as GrpcObject;
  const health = ((root['grpc'] as GrpcObject)['health'] as GrpcObject)['v1'] as GrpcObject;
  return {
    KV: pb['KV'] as ServiceClientConstructor,
    Watch: pb['Watch'] as ServiceClientConstructor,
    Lease: pb['Lease'] as ServiceClientConstructor,
    Cluster: pb['Cluster'] as ServiceClientConstructor,
    Maintenance: pb['Maintenance'] as ServiceClientConstructor,
    Auth: pb['Auth'] as ServiceClientConstructor,
    Health: health['Health'] as ServiceClientConstructor,
  };
}
