// The member's Prometheus metrics, under etcd's names and labels so the etcd-mixin alerts and
// dashboards work unchanged (ETCD-FACTS.md, "Metrics"). main.ts creates one registry and one
// MemberMetrics, and hands it to the runtime (raft/disk/peer figures) and to the servers
// (gRPC figures, /metrics). Gauges named *_total are gauges in etcd too.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { exponentialBuckets } from '../lib/exponential-buckets.js';
import { metricFactory } from '../metric-factory.js';
import { readdirSync, readFileSync } from 'node:fs';
import { CLUSTER_VERSION, SERVER_VERSION } from './version.js';

export { exponentialBuckets };

/** Prometheus' default buckets, which go-grpc-prometheus uses for grpc_server_handling_seconds. */
export const GRPC_HANDLING_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface MemberMetrics {
  readonly registry: Registry;
  // server
  readonly hasLeader: Gauge;
  readonly isLeader: Gauge;
  readonly isLearner: Gauge;
  readonly leaderChangesSeen: Counter;
  readonly heartbeatSendFailures: Counter;
  readonly slowApplies: Counter;
  readonly slowReadIndexes: Counter;
  readonly readIndexesFailed: Counter;
  readonly proposalsCommitted: Gauge;
  readonly proposalsApplied: Gauge;
  readonly proposalsPending: Gauge;
  readonly proposalsFailed: Counter;
  readonly quotaBackendBytes: Gauge;
  readonly serverId: Gauge<'server_id'>;
  readonly serverVersion: Gauge<'server_version'>;
  readonly applyDurationSeconds: Histogram<'version' | 'op' | 'success'>;
  // disk
  readonly walFsyncDurationSeconds: Histogram;
  readonly walWriteBytes: Counter;
  readonly backendCommitDurationSeconds: Histogram;
  readonly snapshotSaveTotalDurationSeconds: Histogram;
  // mvcc
  readonly dbTotalSizeBytes: Gauge;
  readonly dbTotalSizeInUseBytes: Gauge;
  readonly mvccPut: Counter;
  readonly mvccRange: Counter;
  readonly mvccDelete: Counter;
  readonly mvccTxn: Counter;
  readonly watchStreams: Gauge;
  readonly watchers: Gauge;
  readonly mvccEvents: Counter;
  // network
  readonly peerSentBytes: Counter<'To'>;
  readonly peerReceivedBytes: Counter<'From'>;
  readonly peerSentFailures: Counter<'To'>;
  readonly peerRoundTripTimeSeconds: Histogram<'To'>;
  readonly clientGrpcSentBytes: Counter;
  readonly clientGrpcReceivedBytes: Counter;
  readonly clientRequests: Counter<'type' | 'client_api_version'>;
  readonly healthSuccess: Counter;
  readonly healthFailures: Counter;
  /** /livez and /readyz: each check's last result (type: livez or readyz) and a count per status. */
  readonly healthCheck: Gauge<'type' | 'name'>;
  readonly healthChecks: Counter<'type' | 'name' | 'status'>;
  readonly clusterVersion: Gauge<'cluster_version'>;
  readonly backendSnapshotDurationSeconds: Histogram;
  readonly leaseGranted: Counter;
  readonly leaseRevoked: Counter;
  readonly leaseTtl: Histogram;
  readonly scrapes: Counter<'code'>;
  readonly scrapesInFlight: Gauge;
  /** The auth store's revision, read at each scrape (etcd's GaugeFunc of the same name). */
  readonly authRevision: Gauge;
  // grpc (go-grpc-prometheus names)
  readonly grpcStarted: Counter<'grpc_type' | 'grpc_service' | 'grpc_method'>;
  readonly grpcHandled: Counter<'grpc_type' | 'grpc_service' | 'grpc_method' | 'grpc_code'>;
  readonly grpcMsgReceived: Counter<'grpc_type' | 'grpc_service' | 'grpc_method'>;
  readonly grpcMsgSent: Counter<'grpc_type' | 'grpc_service' | 'grpc_method'>;
  /** Only with --metrics=extensive, as etcd (which enables the histogram only then). */
  readonly grpcHandlingSeconds: Histogram<'grpc_type' | 'grpc_service' | 'grpc_method'> | undefined;
}

export interface MemberMetricsOptions {
  /** Adds prom-client's process_* and nodejs_* metrics (event-loop lag included). Default true. */
  readonly defaultMetrics?: boolean;
  /**
   * etcd's --metrics: 'extensive' adds grpc_server_handling_seconds (a histogram observed on
   * every call); anything else is etcd's 'basic', without it. Default 'basic', as etcd.
   */
  readonly level?: string;
}

export function createMemberMetrics(registry: Registry = new Registry(), opts: MemberMetricsOptions = {}): MemberMetrics {
  const { gauge, counter, histogram } = metricFactory(registry);

  const diskBuckets = exponentialBuckets(0.001, 14);
  const grpcLabels = ['grpc_type', 'grpc_service', 'grpc_method'] as const;

  const m: MemberMetrics = {
    registry,
    hasLeader: gauge('etcd_server_has_leader', 'Whether or not a leader exists. 1 is existence, 0 is not.'),
    authRevision: gauge('etcd_debugging_auth_revision', 'The current revision of auth store.'),
    isLeader: gauge('etcd_server_is_leader', 'Whether or not this member is a leader. 1 if is, 0 otherwise.'),
    isLearner: gauge('etcd_server_is_learner', 'Whether or not this member is a learner. 1 if is, 0 otherwise.'),
    leaderChangesSeen: counter('etcd_server_leader_changes_seen_total', 'The number of leader changes seen.'),
    heartbeatSendFailures: counter('etcd_server_heartbeat_send_failures_total', 'The total number of leader heartbeat send failures.'),
    slowApplies: counter('etcd_server_slow_apply_total', 'The total number of slow apply requests.'),
    slowReadIndexes: counter('etcd_server_slow_read_indexes_total', 'The total number of pending read indexes not in sync with leader or timed out.'),
    readIndexesFailed: counter('etcd_server_read_indexes_failed_total', 'The total number of failed read indexes seen.'),
    proposalsCommitted: gauge('etcd_server_proposals_committed_total', 'The total number of consensus proposals committed.'),
    proposalsApplied: gauge('etcd_server_proposals_applied_total', 'The total number of consensus proposals applied.'),
    proposalsPending: gauge('etcd_server_proposals_pending', 'The current number of pending proposals to commit.'),
    proposalsFailed: counter('etcd_server_proposals_failed_total', 'The total number of failed proposals seen.'),
    quotaBackendBytes: gauge('etcd_server_quota_backend_bytes', 'Current backend storage quota size in bytes.'),
    serverId: gauge('etcd_server_id', 'Server or member ID in hexadecimal format. 1 for server_id label with current ID.', ['server_id']),
    serverVersion: gauge('etcd_server_version', 'Which version is running. 1 for server_version label with current version.', ['server_version']),
    applyDurationSeconds: histogram(
      'etcd_server_apply_duration_seconds',
      'The latency distributions of v2 apply called by backend.',
      exponentialBuckets(0.0001, 20),
      ['version', 'op', 'success'],
    ),
    walFsyncDurationSeconds: histogram('etcd_disk_wal_fsync_duration_seconds', 'The latency distributions of fsync called by WAL.', diskBuckets),
    walWriteBytes: counter('etcd_disk_wal_write_bytes_total', 'Total number of bytes written in WAL.'),
    backendCommitDurationSeconds: histogram(
      'etcd_disk_backend_commit_duration_seconds',
      'The latency distributions of commit called by backend.',
      diskBuckets,
    ),
    snapshotSaveTotalDurationSeconds: histogram(
      'etcd_debugging_snap_save_total_duration_seconds',
      'The total latency distributions of save called by snapshot.',
      diskBuckets,
    ),
    dbTotalSizeBytes: gauge('etcd_mvcc_db_total_size_in_bytes', 'Total size of the underlying database physically allocated in bytes.'),
    dbTotalSizeInUseBytes: gauge('etcd_mvcc_db_total_size_in_use_in_bytes', 'Total size of the underlying database logically in use in bytes.'),
    mvccPut: counter('etcd_mvcc_put_total', 'Total number of puts seen by this member.'),
    mvccRange: counter('etcd_mvcc_range_total', 'Total number of ranges seen by this member.'),
    mvccDelete: counter('etcd_mvcc_delete_total', 'Total number of deletes seen by this member.'),
    mvccTxn: counter('etcd_mvcc_txn_total', 'Total number of txns seen by this member.'),
    watchStreams: gauge('etcd_debugging_mvcc_watch_stream_total', 'Total number of watch streams.'),
    watchers: gauge('etcd_debugging_mvcc_watcher_total', 'Total number of watchers.'),
    mvccEvents: counter('etcd_debugging_mvcc_events_total', 'Total number of events sent by this member.'),
    peerSentBytes: counter('etcd_network_peer_sent_bytes_total', 'The total number of bytes sent to peers.', ['To']),
    peerReceivedBytes: counter('etcd_network_peer_received_bytes_total', 'The total number of bytes received from peers.', ['From']),
    peerSentFailures: counter('etcd_network_peer_sent_failures_total', 'The total number of send failures from peers.', ['To']),
    peerRoundTripTimeSeconds: histogram(
      'etcd_network_peer_round_trip_time_seconds',
      'Round-Trip-Time histogram between peers',
      exponentialBuckets(0.0001, 16),
      ['To'],
    ),
    clientGrpcSentBytes: counter('etcd_network_client_grpc_sent_bytes_total', 'The total number of bytes sent to grpc clients.'),
    clientGrpcReceivedBytes: counter('etcd_network_client_grpc_received_bytes_total', 'The total number of bytes received from grpc clients.'),
    clientRequests: counter('etcd_server_client_requests_total', 'The total number of client requests per client version.', [
      'type',
      'client_api_version',
    ]),
    healthSuccess: counter('etcd_server_health_success', 'The total number of successful health checks'),
    healthFailures: counter('etcd_server_health_failures', 'The total number of failed health checks'),
    healthCheck: gauge('etcd_server_healthcheck', 'The result of each kind of healthcheck.', ['type', 'name']),
    healthChecks: counter('etcd_server_healthchecks_total', 'The total number of each kind of healthcheck.', ['type', 'name', 'status']),
    clusterVersion: gauge('etcd_cluster_version', "Which version is running. 1 for 'cluster_version' label with current cluster version", [
      'cluster_version',
    ]),
    backendSnapshotDurationSeconds: histogram(
      'etcd_disk_backend_snapshot_duration_seconds',
      'The latency distribution of backend snapshots.',
      exponentialBuckets(0.01, 17),
    ),
    leaseGranted: counter('etcd_debugging_lease_granted_total', 'The total number of granted leases.'),
    leaseRevoked: counter('etcd_debugging_lease_revoked_total', 'The total number of revoked leases.'),
    leaseTtl: histogram('etcd_debugging_lease_ttl_total', 'Bucketed histogram of lease TTLs.', exponentialBuckets(1, 24)),
    scrapes: counter('promhttp_metric_handler_requests_total', 'Total number of scrapes by HTTP status code.', ['code']),
    scrapesInFlight: gauge('promhttp_metric_handler_requests_in_flight', 'Current number of scrapes being served.'),
    grpcStarted: counter('grpc_server_started_total', 'Total number of RPCs started on the server.', grpcLabels),
    grpcHandled: counter('grpc_server_handled_total', 'Total number of RPCs completed on the server, regardless of success or failure.', [
      ...grpcLabels,
      'grpc_code',
    ]),
    grpcMsgReceived: counter('grpc_server_msg_received_total', 'Total number of RPC stream messages received on the server.', grpcLabels),
    grpcMsgSent: counter('grpc_server_msg_sent_total', 'Total number of gRPC stream messages sent by the server.', grpcLabels),
    grpcHandlingSeconds:
      opts.level === 'extensive'
        ? histogram(
            'grpc_server_handling_seconds',
            'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
            GRPC_HANDLING_BUCKETS,
            grpcLabels,
          )
        : undefined,
  };
  m.serverVersion.set({ server_version: SERVER_VERSION }, 1);
  m.clusterVersion.set({ cluster_version: CLUSTER_VERSION.split('.').slice(0, 2).join('.') }, 1);
  for (const code of ['200', '500', '503']) m.scrapes.inc({ code }, 0); // promhttp shows these from the start
  registerFdGauges(registry);
  registerProcessProcMetrics(registry);
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  return m;
}

/**
 * etcd's os_fd_used and os_fd_limit, read from /proc at each scrape (etcd samples every 10
 * minutes). Left out where /proc is not there: a value we cannot measure is not reported.
 */
function registerFdGauges(registry: Registry): void {
  const used = (): number => readdirSync('/proc/self/fd').length;
  const limit = (): number => {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? Number.NaN : Number(soft);
  };
  try {
    used();
    limit();
  } catch {
    return;
  }
  new Gauge({ name: 'os_fd_used', help: 'The number of used file descriptors.', registers: [registry], collect() { this.set(used()); } });
  new Gauge({ name: 'os_fd_limit', help: 'The file descriptor limit.', registers: [registry], collect() { this.set(limit()); } });
}

/**
 * The process_* families Prometheus' Go client reads from /proc and prom-client does not:
 * process_network_{receive,transmit}_bytes_total (the totals of /proc/self/net/dev: every
 * interface of the process's network namespace, as procfs' NetDev().Total() sums them) and
 * process_virtual_memory_max_bytes (the soft "Max address space" limit; unlimited is 2^64-1, as
 * procfs parses it). Read at each scrape; left out where /proc is not there.
 */
function registerProcessProcMetrics(registry: Registry): void {
  const netTotals = (): { rx: number; tx: number } => {
    let rx = 0;
    let tx = 0;
    for (const line of readFileSync('/proc/self/net/dev', 'utf8').split('\n').slice(2)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const f = line.slice(colon + 1).trim().split(/\s+/);
      rx += Number(f[0]);
      tx += Number(f[8]);
    }
    return { rx, tx };
  };
  const maxAddressSpace = (): number => {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max address space'));
    const soft = line?.split(/\s{2,}/)[1];
    if (soft === undefined) throw new Error('no "Max address space" in /proc/self/limits');
    return soft === 'unlimited' ? 2 ** 64 - 1 : Number(soft);
  };
  try {
    netTotals();
    maxAddressSpace();
  } catch {
    return;
  }
  new Counter({
    name: 'process_network_receive_bytes_total',
    help: 'Number of bytes received by the process over the network.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(netTotals().rx);
    },
  });
  new Counter({
    name: 'process_network_transmit_bytes_total',
    help: 'Number of bytes sent by the process over the network.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(netTotals().tx);
    },
  });
  new Gauge({
    name: 'process_virtual_memory_max_bytes',
    help: 'Maximum amount of virtual memory available in bytes.',
    registers: [registry],
    collect() {
      this.set(maxAddressSpace());
    },
  });
}

/** etcd prints member ids as lower-case hex without leading zeros. */
export function memberIdHex(id: number | bigint): string {
  return id.toString(16);
}

/** grpc-go's code names, as go-grpc-prometheus puts them in grpc_code. */
export const GRPC_CODE_NAMES: readonly string[] = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];
