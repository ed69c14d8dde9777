// Builds the gRPC front of the member's client API: the lean server on node:http2 (lean-grpc/),
// the same call layer on our own HTTP/2 framer (h2/, --experimental-grpc-server=h2), or grpc-js
// for every call (--experimental-grpc-server=grpc-js); lean-grpc/kind.ts has the default. All
// run the same service implementations with the same (de)serializers. grpc-js is loaded only for
// the kinds that use it (the lean server hands it unknown paths): it costs about 6 MiB of RSS.
// Each method's response serializer passes pre-encoded Buffers through untouched, so a handler
// may encode a large answer itself in chunks (kv-service's Range). The hottest methods (KV Range,
// Put and Txn, and Watch's answers) use hand-written codecs (codec/method-codec.ts) that give the
// same objects and bytes as every other method's path: proto-loader, responses through
// omitProtoDefaults.
// Message size: etcd lets gRPC receive max-request-bytes plus 512 KiB of overhead, then
// refuses oversized writes itself with "etcdserver: request is too large".

import type { Server, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Duplex } from 'node:stream';
import type { MethodDefinition, PackageDefinition } from '@grpc/proto-loader';
import { authService } from './auth-service.js';
import { clusterService } from './cluster-service.js';
import { hotMethodCodec } from './codec/method-codec.js';
import { CounterTally } from './counter-tally.js';
import { healthService } from './health-service.js';
import { kvService } from './kv-service.js';
import { H2GrpcServer } from './h2/server.js';
import { LeanGrpcServer, methodsOf, grpcJsStreamHandler } from './lean-grpc/index.js';
import type { GrpcServerKind } from './lean-grpc/kind.js';
import type { Serialize } from './kv-service.js';
import { leaseService } from './lease-service.js';
import { maintenanceService } from './maintenance-service.js';
import { GRPC_CODE_NAMES } from './metrics.js';
import type { MemberMetrics } from './metrics.js';
import { loadEtcdProtos, loadGrpcJs } from './proto-load.js';
import { omitProtoDefaults } from './proto-defaults.js';
import type { ServerContext } from './rpc-context.js';
import { watchService } from './watch-service.js';

export const GRPC_OVERHEAD_BYTES = 512 * 1024;
/** etcd's server-side keepalive enforcement: clients may ping every 5 s. */
const KEEPALIVE_MIN_TIME_MS = 5000;

type AnyMethod = MethodDefinition<unknown, unknown>;

/** Counts message bytes in and out (etcd_network_client_grpc_{received,sent}_bytes_total). */
export interface ByteCounters {
  received(bytes: number): void;
  sent(bytes: number): void;
}

/**
 * A copy of a proto-loader service whose response serializer lets Buffers through, and whose
 * (de)serializers count the message bytes: they are the one place that sees every message's size.
 */
export function passThroughService(def: PackageDefinition, name: string, bytes?: ByteCounters): ServiceDefinition {
  const svc = def[name] as unknown as Record<string, AnyMethod> | undefined;
  if (!svc) throw new Error(`service ${name} not in the proto definitions`);
  const out: Record<string, AnyMethod> = {};
  for (const [method, m] of Object.entries(svc)) {
    const hot = hotMethodCodec(name, method, m);
    const ser = hot ? hot.serialize : (v: unknown) => m.responseSerialize(omitProtoDefaults(v));
    const de = hot ? hot.deserialize : m.requestDeserialize;
    out[method] = {
      ...m,
      responseSerialize: (v: unknown) => {
        const b = Buffer.isBuffer(v) ? v : ser(v);
        bytes?.sent(b.length);
        return b;
      },
      requestDeserialize: (b: Buffer) => {
        bytes?.received(b.length);
        return de(b);
      },
    };
  }
  return out as unknown as ServiceDefinition;
}

/** Every service implementation, by full service name (the gateway calls these too). */
export function createServiceImpls(ctx: ServerContext): Map<string, UntypedServiceImplementation> {
  const def = loadEtcdProtos();
  const hotSerializer = (service: string, method: string): Serialize =>
    hotMethodCodec(service, method, (def[service] as unknown as Record<string, AnyMethod>)[method]!)!.serialize;
  return new Map<string, UntypedServiceImplementation>([
    ['etcdserverpb.KV', kvService(ctx, hotSerializer('etcdserverpb.KV', 'Range'))],
    ['etcdserverpb.Watch', watchService(ctx, hotSerializer('etcdserverpb.Watch', 'Watch'))],
    ['etcdserverpb.Lease', leaseService(ctx)],
    ['etcdserverpb.Cluster', clusterService(ctx)],
    ['etcdserverpb.Maintenance', maintenanceService(ctx)],
    ['etcdserverpb.Auth', authService(ctx)],
    ['grpc.health.v1.Health', healthService()],
  ]);
}


/** What the listeners hand connections to, and how the servers stop. */
export interface GrpcFrontend {
  injectConnection(connection: Duplex): void;
  close(): void;
}

export function createGrpcFrontend(ctx: ServerContext, impls: Map<string, UntypedServiceImplementation>, kind: GrpcServerKind): GrpcFrontend {
  const services = serviceDefinitions(ctx, impls);
  if (kind === 'h2') {
    const h2 = new H2GrpcServer(methodsOf(services, impls), {
      maxReceiveBytes: ctx.limits.maxRequestBytes + GRPC_OVERHEAD_BYTES,
      maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
      logger: ctx.logger,
    });
    return { injectConnection: (c) => h2.injectConnection(c), close: () => h2.close() };
  }
  const grpcJs = loadGrpcJs();
  const server = grpcJsServer(grpcJs, ctx, services, impls);
  if (kind === 'grpc-js') {
    const injector = server.createConnectionInjector(grpcJs.ServerCredentials.createInsecure());
    return { injectConnection: (c) => injector.injectConnection(c), close: () => (injector.destroy(), server.forceShutdown()) };
  }
  const lean = new LeanGrpcServer(methodsOf(services, impls), {
    maxReceiveBytes: ctx.limits.maxRequestBytes + GRPC_OVERHEAD_BYTES,
    maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
    fallback: grpcJsStreamHandler(server),
  });
  return { injectConnection: (c) => lean.injectConnection(c), close: () => (lean.close(), server.forceShutdown()) };
}

const MAX_CONCURRENT_STREAMS = 2 ** 31 - 1;

type GrpcJs = ReturnType<typeof loadGrpcJs>;

/** Every service's method table (with the byte counters) and its grpc_server_* series at 0. */
function serviceDefinitions(ctx: ServerContext, impls: Map<string, UntypedServiceImplementation>): Map<string, ServiceDefinition> {
  const def = loadEtcdProtos();
  const receivedBytes = new CounterTally(ctx.metrics.clientGrpcReceivedBytes, {});
  const sentBytes = new CounterTally(ctx.metrics.clientGrpcSentBytes, {});
  const bytes: ByteCounters = {
    received: (n) => receivedBytes.inc(n),
    sent: (n) => sentBytes.inc(n),
  };
  const services = new Map<string, ServiceDefinition>();
  for (const name of impls.keys()) {
    services.set(name, passThroughService(def, name, bytes));
    preRegisterGrpcMetrics(ctx.metrics, def, name);
  }
  return services;
}

function grpcJsServer(
  grpcJs: GrpcJs,
  ctx: ServerContext,
  services: Map<string, ServiceDefinition>,
  impls: Map<string, UntypedServiceImplementation>,
): Server {
  const server = new grpcJs.Server({
    'grpc.max_receive_message_length': ctx.limits.maxRequestBytes + GRPC_OVERHEAD_BYTES,
    'grpc.max_send_message_length': -1,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': KEEPALIVE_MIN_TIME_MS,
    'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS,
    // Channelz (grpc-js's per-call and per-session tracking for its debug service) costs a
    // Date and several counters per call on the hot path; nothing here serves channelz.
    'grpc.enable_channelz': 0,
  });
  for (const [name, svc] of services) server.addService(svc, impls.get(name)!);
  return server;
}

/**
 * etcd's `serverMetrics.InitializeMetrics(grpcServer)` (go-grpc-middleware's prometheus
 * provider): every method of every registered service shows grpc_server_started_total,
 * grpc_server_msg_{received,sent}_total and grpc_server_handled_total for every code at 0 from
 * the start. Queries that subtract or divide these series (the etcd mixin's "Active Streams" and
 * "RPC failed rate" panels) then have an answer before the first stream ends or the first call fails.
 */
export function preRegisterGrpcMetrics(metrics: MemberMetrics, def: PackageDefinition, service: string): void {
  const svc = def[service] as unknown as Record<string, AnyMethod>;
  for (const [method, m] of Object.entries(svc)) {
    const type = m.requestStream ? (m.responseStream ? 'bidi_stream' : 'client_stream') : m.responseStream ? 'server_stream' : 'unary';
    const l = { grpc_type: type, grpc_service: service, grpc_method: method };
    metrics.grpcStarted.inc(l, 0);
    metrics.grpcMsgReceived.inc(l, 0);
    metrics.grpcMsgSent.inc(l, 0);
    for (const code of GRPC_CODE_NAMES) metrics.grpcHandled.inc({ ...l, grpc_code: code }, 0);
  }
}
