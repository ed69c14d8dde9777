// Loads node/proto/*.proto with @grpc/proto-loader, twice:
// - for gRPC: camelCase field names, int64 as numbers, enums as numbers, bytes as Buffers, proto3
//   defaults filled in. A decoded request is then exactly node/mvcc's request type, and mvcc's
//   responses serialize as they are. int64 -> number: ids at or above 2^53 cannot be exact, and
//   ids.ts refuses them (they decode to a number that is not a safe integer, so this is detectable).
// - for the /v3 JSON gateway: field names as in the .proto (etcd's JSON names), int64 as decimal
//   strings, bytes as base64, enums as names, defaults left out (grpc-gateway's JSON). The gateway
//   converts by encoding with one definition and decoding with the other.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition } from '@grpc/grpc-js';
import type { GrpcObject, ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { Options, PackageDefinition } from '@grpc/proto-loader';

export const LOADER_OPTIONS: Options = {
  keepCase: false,
  longs: Number,
  enums: Number,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
};

export const JSON_LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  oneofs: false,
};

/** node/proto, from the source tree (tsx) or from dist/node/server (the built binary). */
export function protoDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', 'proto'), join(here, '..', '..', '..', 'node', 'proto')];
  for (const c of candidates) if (existsSync(join(c, 'rpc.proto'))) return c;
  throw new Error(`cannot find node/proto/rpc.proto (looked in ${candidates.join(', ')})`);
}

let cached: PackageDefinition | undefined;
let cachedJson: PackageDefinition | undefined;

export function loadEtcdProtos(): PackageDefinition {
  if (!cached) cached = loadSync(['rpc.proto', 'health.proto'], { ...LOADER_OPTIONS, includeDirs: [protoDir()] });
  return cached;
}

/** The same services with grpc-gateway's JSON conventions (see the file comment). */
export function loadEtcdProtosForJson(): PackageDefinition {
  if (!cachedJson) cachedJson = loadSync(['rpc.proto'], { ...JSON_LOADER_OPTIONS, includeDirs: [protoDir()] });
  return cachedJson;
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
