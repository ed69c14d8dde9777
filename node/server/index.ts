// node/server's entry: startServers() serves the member's client API (gRPC + HTTP on every
// --listen-client-urls, HTTP on every --listen-metrics-urls) over a MemberBackend.
// main.ts calls it once the runtime is up; stop() closes every listener and open call.

import { createServer as createHttpServer } from 'node:http';
import type { Logger } from '../log.js';
import type { MemberBackend } from './backend.js';
import { createGrpcFrontend, createServiceImpls } from './grpc-server.js';
import { DEFAULT_GRPC_SERVER } from './lean-grpc/kind.js';
import type { GrpcServerKind } from './lean-grpc/kind.js';
import { createHttpApp } from './http-app.js';
import type { Listener, ListenerTls, TlsFilesOption } from './listeners.js';
import { TlsFileReloader } from '../tls/tls-file-reloader.js';
import { tlsReloadMetrics } from '../tls/metrics.js';
import { listenClient, listenHttp } from './listeners.js';
import type { MemberMetrics } from './metrics.js';
import { memberIdHex } from './metrics.js';
import { LeaderMonitor } from './rpc-context.js';
import type { ServerContext, ServerLimits } from './rpc-context.js';

export type { MemberBackend, WatchStream, WatchSink, Member, MemberStatus, SnapshotStream, HeaderInfo } from './backend.js';
export { BackendError } from './backend.js';
export type { BackendErrorCode } from './backend.js';
export { createMemberMetrics } from './metrics.js';
export type { MemberMetrics } from './metrics.js';
export { SERVER_VERSION, CLUSTER_VERSION } from './version.js';

/** The part of MemberConfig (node/config.ts) the servers read. */
export interface ServerConfig extends ServerLimits {
  readonly listenClientUrls: readonly string[];
  readonly listenMetricsUrls: readonly string[];
  readonly clientTls?: TlsFilesOption;
  /** --cors origins (default '*'). */
  readonly corsOrigins?: readonly string[];
  /** How often `hasleader` streams check for a leader (etcd: the election timeout). Default 1000. */
  readonly leaderCheckIntervalMs?: number;
  /** --bcrypt-cost (default 10). */
  readonly bcryptCost?: number;
  /** How often the certificate files are re-read (tls/tls-file-reloader.ts). */
  readonly tlsReloadIntervalMs?: number;
  /** --experimental-grpc-server (default: lean-grpc/kind.ts). */
  readonly grpcServer?: GrpcServerKind;
}

export interface StartServersOptions {
  readonly config: ServerConfig;
  readonly backend: MemberBackend;
  readonly metrics: MemberMetrics;
  readonly logger: Logger;
}

export interface RunningServers {
  /** Bound client listeners, in --listen-client-urls order (ports resolved if 0 was given). */
  readonly clientListeners: readonly Listener[];
  readonly metricsListeners: readonly Listener[];
  stop(): Promise<void>;
}

export async function startServers(opts: StartServersOptions): Promise<RunningServers> {
  const { config, backend, metrics } = opts;
  const logger = opts.logger.child('server');
  const ctx: ServerContext = {
    backend,
    metrics,
    logger,
    limits: { maxRequestBytes: config.maxRequestBytes, maxTxnOps: config.maxTxnOps },
    leaderMonitor: new LeaderMonitor(() => backend.hasLeader(), config.leaderCheckIntervalMs ?? 1000),
    auth: { bcryptCost: config.bcryptCost ?? 10, clientCertAuth: config.clientTls?.clientCertAuth === true },
  };
  const impls = createServiceImpls(ctx);
  const grpc = createGrpcFrontend(ctx, impls, config.grpcServer ?? DEFAULT_GRPC_SERVER);

  const clientHttp = createHttpServer(createHttpApp(ctx, impls, { gateway: true, corsOrigins: config.corsOrigins ?? ['*'] }));
  const metricsHttp = createHttpServer(createHttpApp(ctx, impls, { gateway: false, corsOrigins: [] }));
  metrics.serverId.set({ server_id: memberIdHex(backend.header().memberId) }, 1);

  const files = config.clientTls && config.clientTls.certFile !== '' ? config.clientTls : undefined;
  const reloader = files
    ? await TlsFileReloader.open({
        name: 'client',
        files,
        logger: logger.child('tls'),
        metrics: tlsReloadMetrics(metrics.registry),
        ...(config.tlsReloadIntervalMs !== undefined ? { intervalMs: config.tlsReloadIntervalMs } : {}),
      })
    : undefined;
  const tlsFiles: ListenerTls | undefined = reloader && files ? { source: reloader, clientCertAuth: files.clientCertAuth } : undefined;
  const clientListeners: Listener[] = [];
  const metricsListeners: Listener[] = [];
  const stopAll = async (): Promise<void> => {
    ctx.leaderMonitor.stop();
    await Promise.all([...clientListeners, ...metricsListeners].map((l) => l.close()));
    grpc.close();
    clientHttp.close();
    metricsHttp.close();
  };
  try {
    for (const url of config.listenClientUrls) {
      clientListeners.push(await listenClient(url, grpc, clientHttp, tlsFiles, logger));
      logger.info('serving client traffic (gRPC and HTTP)', { url });
    }
    for (const url of config.listenMetricsUrls) {
      metricsListeners.push(await listenHttp(url, metricsHttp, tlsFiles));
      logger.info('serving metrics and health', { url });
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { clientListeners, metricsListeners, stop: stopAll };
}
