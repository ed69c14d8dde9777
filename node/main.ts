// tsetcd: one etcd-compatible member. Parses flags/env (config.ts), starts the runtime
// (raft + storage + transport + mvcc) and the client servers (gRPC + HTTP), and stops
// gracefully on SIGTERM/SIGINT. The only file that may use console.

import './gc-policy.js';
import { parseConfig, ConfigError } from './config.js';
import { createLogger } from './log.js';
import { createMemberMetrics } from './server/metrics.js';
import { startServers } from './server/index.js';
import { SERVER_VERSION, TSETCD_VERSION } from './server/version.js';
import { startMember } from './runtime/bootstrap.js';
import { handOverLeadership } from './runtime/hand-over.js';
import { restoreEtcdSnapshot } from './runtime/etcd-snapshot-import.js';
import { lowerV8HelperThreads } from './thread-priority.js';

const SNAPSHOT_USAGE = `Usage: tsetcd snapshot restore <file> [--skip-hash-check] --data-dir DIR --name NAME
         --initial-cluster NAME=PEER_URL,... --initial-cluster-token TOKEN --initial-advertise-peer-urls URL
Seeds a new member's data dir from an etcd (or tsetcd) snapshot file, as etcdutl snapshot restore does.
Run it for every member with the same file, --initial-cluster and token; then start tsetcd with the same flags.
`;

/** tsetcd snapshot restore: see node/runtime/etcd-snapshot-import.ts and docs/snapshots.md. */
async function snapshotCommand(args: readonly string[]): Promise<number> {
  const [sub, file, ...rest] = args;
  if (sub !== 'restore' || file === undefined || file.startsWith('-')) {
    console.error(SNAPSHOT_USAGE);
    return sub === '--help' || sub === '-h' ? 0 : 2;
  }
  const skipHashCheck = rest.includes('--skip-hash-check');
  let parsed;
  try {
    parsed = parseConfig(
      rest.filter((a) => a !== '--skip-hash-check'),
      process.env,
    );
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`tsetcd snapshot restore: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (parsed.kind !== 'run') {
    console.error(SNAPSHOT_USAGE);
    return 2;
  }
  const cfg = parsed.config;
  const logger = createLogger({ component: 'snapshot', level: cfg.logLevel, fields: { name: cfg.name } });
  try {
    const r = await restoreEtcdSnapshot(file, cfg, logger, { skipHashCheck });
    console.log(
      `restored ${file} into ${cfg.dataDir}: member ${r.memberId.toString(16)} of new cluster ${r.clusterId.toString(16)}, ` +
        `revision ${r.revision}, compacted ${r.compactRevision}, ${r.keys} keys`,
    );
    return 0;
  } catch (err) {
    console.error(`tsetcd snapshot restore: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

async function main(): Promise<number> {
  if (process.argv[2] === 'snapshot') return snapshotCommand(process.argv.slice(3));
  let parsed;
  try {
    parsed = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`tsetcd: ${err.message}`);
      console.error('Try "tsetcd --help" for the list of flags.');
      return 2;
    }
    throw err;
  }
  switch (parsed.kind) {
    case 'version':
      console.log(`etcd Version: ${SERVER_VERSION}\ntsetcd Version: ${TSETCD_VERSION}\nNode Version: ${process.version}\nNode OS/Arch: ${process.platform}/${process.arch}`);
      return 0;
    case 'help':
      process.stdout.write(parsed.text);
      return 0;
    case 'run':
      break;
    default: {
      const never: never = parsed;
      throw new Error(`unexpected parse result ${String(never)}`);
    }
  }
  const cfg = parsed.config;
  const logger = createLogger({ component: 'main', level: cfg.logLevel, fields: { name: cfg.name } });
  for (const w of cfg.warnings) logger.warn(w);
  if (cfg.ignoredFlags.length > 0) logger.info('accepted flags that have no effect in tsetcd', { flags: cfg.ignoredFlags });
  logger.info('starting tsetcd', {
    version: TSETCD_VERSION,
    etcdVersion: SERVER_VERSION,
    dataDir: cfg.dataDir,
    listenClientUrls: cfg.listenClientUrls,
    listenPeerUrls: cfg.listenPeerUrls,
    initialClusterState: cfg.initialClusterState,
    heartbeatIntervalMs: cfg.heartbeatIntervalMs,
    electionTimeoutMs: cfg.electionTimeoutMs,
    snapshotCount: cfg.snapshotCount,
  });
  // Before the member starts a thread of its own: the threads are still only node's.
  lowerV8HelperThreads(logger);

  const metrics = createMemberMetrics(undefined, { level: cfg.metrics });
  let stopping: Promise<void> | undefined;
  let exitCode = 0;
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => {
    finish = resolve;
  });
  let stopAll: () => Promise<void> = async () => {};
  const shutdown = (why: string, code: number): void => {
    if (stopping) return;
    exitCode = code;
    logger.info('stopping', { why });
    stopping = stopAll()
      .catch((err: unknown) => logger.error('error while stopping', { err }))
      .finally(() => finish(exitCode));
    // Never hang on the way out.
    setTimeout(() => finish(exitCode), 10_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM', 0));
  process.on('SIGINT', () => shutdown('SIGINT', 0));

  const member = await startMember({
    config: cfg,
    logger,
    metrics,
    onFatal: (reason, err) => {
      logger.error('fatal: stopping the member', { reason, err });
      shutdown(reason, 1);
    },
  });
  let servers: Awaited<ReturnType<typeof startServers>> | undefined;
  stopAll = async () => {
    // Like etcd: a stopping leader hands over first (bounded well inside the 10 s exit guard).
    await handOverLeadership(member, logger, 2 * cfg.electionTimeoutMs);
    await servers?.stop();
    await member.stop();
  };
  try {
    servers = await startServers({
      config: {
        listenClientUrls: cfg.listenClientUrls,
        listenMetricsUrls: cfg.listenMetricsUrls,
        clientTls: cfg.clientTls,
        corsOrigins: cfg.corsOrigins,
        maxRequestBytes: cfg.maxRequestBytes,
        maxTxnOps: cfg.maxTxnOps,
        bcryptCost: cfg.bcryptCost,
        grpcServer: cfg.grpcServer,
      },
      backend: member,
      metrics,
      logger,
    });
  } catch (err) {
    logger.error('cannot start the client servers', { err });
    await member.stop();
    return 1;
  }
  logger.info('ready to serve client requests', { advertiseClientUrls: cfg.advertiseClientUrls });
  return done;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`tsetcd: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
