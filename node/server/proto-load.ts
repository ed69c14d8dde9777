// Loads node/proto/*.proto with @grpc/proto-loader:
// - for gRPC: camelCase field names, int64 as numbers, enums as numbers, bytes as Buffers, proto3
//   defaults filled in. A decoded request is then exactly node/mvcc's request type, and mvcc's
//   responses serialize as they are. Revisions, counts and TTLs stay numbers (they never near
//   2^53); the id fields of requests (lease ids, alarm member ids; REQUEST_ID_FIELDS) are read
//   exactly as bigints: those requests decode once with longs: BigInt, and their other int64
//   fields are made numbers. Both decodes use the one protobufjs Root (see grpcLoaderOptions).
//   Responses take bigints as they are (protobufjs's fromObject hands them to Long.fromValue).
// - for the /v3 JSON gateway, on its first request: field names as in the .proto (etcd's JSON
//   names), int64 as decimal strings, bytes as base64, enums as names, defaults left out
//   (grpc-gateway's JSON). The gateway converts by encoding with one definition and decoding with
//   the other.
// Each Root with its definitions holds about 0.8 MiB of heap in every member, and loading one
// leaves a few MiB of RSS behind: one Root instead of two and the JSON one on demand took an idle
// member from ~81 to ~76 MiB.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GrpcObject, ServiceClientConstructor } from '@grpc/grpc-js';
import { createRequire } from 'node:module';
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

/**
 * Per service and method: the request fields that hold 64-bit ids, at any depth (a Txn's puts
 * and compares carry `lease` too). etcd's types: lease ids int64, member ids uint64.
 */
export const REQUEST_ID_FIELDS: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  'etcdserverpb.KV': { Put: ['lease'], Txn: ['lease'] },
  'etcdserverpb.Lease': { LeaseGrant: ['ID'], LeaseRevoke: ['ID'], LeaseKeepAlive: ['ID'], LeaseTimeToLive: ['ID'] },
  'etcdserverpb.Maintenance': { Alarm: ['memberID'], MoveLeader: ['targetID'] },
  'etcdserverpb.Cluster': { MemberRemove: ['ID'], MemberUpdate: ['ID'], MemberPromote: ['ID'] },
};

/**
 * Turns every bigint of a request decoded with longs: BigInt into a number, except the fields
 * named in `ids` (at any depth, through nested messages and lists), which stay exact.
 */
function narrowAllBut(v: unknown, ids: ReadonlySet<string>): void {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (typeof x === 'bigint') {
      if (!ids.has(k)) o[k] = Number(x);
    } else if (x !== null && typeof x === 'object') narrowAllBut(x, ids);
  }
}

type Deserialize = (b: Buffer) => unknown;

/** True only while widenRequestIds's decoders run (synchronously). */
let wideLongs = false;

/**
 * LOADER_OPTIONS whose `longs` is BigInt while wideLongs is set. proto-loader hands this one
 * object to every deserializer it makes, and protobufjs's toObject reads `longs` at each int64
 * field, so the gRPC definitions decode both ways from one Root instead of loading a second
 * (proto-load.test.ts checks both ways).
 */
function grpcLoaderOptions(): Options {
  return {
    ...LOADER_OPTIONS,
    get longs() {
      return wideLongs ? BigInt : Number;
    },
    includeDirs: [protoDir()],
  };
}

/**
 * The requests of REQUEST_ID_FIELDS decode once, with bigints, and every int64 but their ids
 * becomes a number (see the file comment): one protobuf decode per request, not two.
 */
function widenRequestIds(def: PackageDefinition): void {
  for (const [service, methods] of Object.entries(REQUEST_ID_FIELDS)) {
    const svc = def[service] as unknown as Record<string, { requestDeserialize: Deserialize }>;
    for (const [method, names] of Object.entries(methods)) {
      const m = svc[method];
      if (!m) throw new Error(`proto-load: ${service}.${method} is not in the proto definitions`);
      const decode = m.requestDeserialize;
      const ids = new Set(names);
      m.requestDeserialize = (b: Buffer) => {
        wideLongs = true;
        let v: unknown;
        try {
          v = decode(b);
        } finally {
          wideLongs = false;
        }
        narrowAllBut(v, ids);
        return v;
      };
    }
  }
}

export function loadEtcdProtos(): PackageDefinition {
  if (!cached) {
    const def = loadSync(['rpc.proto', 'health.proto'], grpcLoaderOptions());
    widenRequestIds(def);
    cached = def;
  }
  return cached;
}

/** The same services with grpc-gateway's JSON conventions (see the file comment); loaded on first use. */
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

/**
 * grpc-js, loaded only where it is used: the member's default server (h2) does without it, and
 * loading it costs about 6 MiB of RSS.
 */
export function loadGrpcJs(): typeof import('@grpc/grpc-js') {
  return createRequire(import.meta.url)('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
}

/** Client constructors for tests. */
export function etcdGrpcObjects(): EtcdGrpcObjects {
  const { loadPackageDefinition } = loadGrpcJs();
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
