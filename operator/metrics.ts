// The operator's Prometheus metrics (prom-client) and its HTTP endpoints (express): /metrics, /healthz, /readyz.
// Per-cluster series come from what each reconcile pass observed (each member's Status, and the
// members' own /metrics for heartbeat failures).
import type { Server } from 'node:http';
import express from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ClusterSnapshot {
  voters: number;
  learners: number;
  unhealthy: number;
  hasLeader: boolean;
  leaderID: string | null;
  /** Healthy voters beyond quorum; negative when quorum is lost. */
  quorumMargin: number;
  /** Per member name: leader raft index minus the member's. */
  raftIndexLag: Array<{ member: string; lag: number }>;
  /** Per member name: its etcd_server_heartbeat_send_failures_total, when scraped. */
  heartbeatFailures: Array<{ member: string; total: number }>;
  /** The operation in flight and its age. */
  operation: { type: string; ageSeconds: number } | null;
}

/** What the reconciler reports; the real implementation is OperatorMetrics, tests may pass a no-op. */
export interface ClusterMetricsSink {
  observeCluster(namespace: string, cluster: string, s: ClusterSnapshot): void;
  membershipOperation(namespace: string, cluster: string, op: string, result: string, durationSeconds: number): void;
  /** One Defragment call returned: what it gave back, and when (unix seconds). */
  memberDefragmented(namespace: string, cluster: string, member: string, reclaimedBytes: number, atSeconds: number): void;
  /** A defragmentation run ended (Succeeded, Failed, Cancelled, NothingToDo). */
  defragmentationRun(namespace: string, cluster: string, result: string): void;
  /** A scheduled backup attempt ended: when (unix seconds), and the snapshot's size on success. */
  backupFinished?(namespace: string, cluster: string, succeeded: boolean, reason: string, atSeconds: number, sizeBytes: number | null): void;
  forgetCluster(namespace: string, cluster: string): void;
}

export const noopMetrics: ClusterMetricsSink = {
  observeCluster: () => {},
  membershipOperation: () => {},
  memberDefragmented: () => {},
  defragmentationRun: () => {},
  forgetCluster: () => {},
};

const OP_TYPES = ['ScaleUp', 'ScaleDown', 'Replace'];

export class OperatorMetrics implements ClusterMetricsSink {
  readonly registry = new Registry();
  readonly reconcileTotal: Counter<'result'>;
  readonly reconcileDuration: Histogram<never>;
  readonly workqueueDepth: Gauge<never>;
  readonly isLeader: Gauge<never>;
  private readonly members: Gauge<'namespace' | 'cluster' | 'state'>;
  private readonly hasLeader: Gauge<'namespace' | 'cluster'>;
  private readonly leaderChanges: Counter<'namespace' | 'cluster'>;
  private readonly quorumMargin: Gauge<'namespace' | 'cluster'>;
  private readonly raftLag: Gauge<'namespace' | 'cluster' | 'member'>;
  private readonly heartbeatFailures: Counter<'namespace' | 'cluster'>;
  private readonly opsTotal: Counter<'namespace' | 'cluster' | 'op' | 'result'>;
  private readonly opsDuration: Histogram<'op' | 'result'>;
  private readonly opAge: Gauge<'namespace' | 'cluster' | 'op'>;
  private readonly defragReclaimed: Counter<'namespace' | 'cluster' | 'member'>;
  private readonly defragLast: Gauge<'namespace' | 'cluster' | 'member'>;
  private readonly defragRuns: Counter<'namespace' | 'cluster' | 'result'>;
  private readonly backupLastSuccess: Gauge<'namespace' | 'cluster'>;
  private readonly backupLastSize: Gauge<'namespace' | 'cluster'>;
  private readonly backupFailures: Counter<'namespace' | 'cluster' | 'reason'>;
  private readonly backupSuccesses: Counter<'namespace' | 'cluster'>;
  private readonly lastLeader = new Map<string, string>();
  private readonly lastHeartbeat = new Map<string, number>();

  constructor(opts: { defaultMetrics: boolean } = { defaultMetrics: true }) {
    const registers = [this.registry];
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.reconcileTotal = new Counter({ name: 'tsetcd_operator_reconcile_total', help: 'Reconcile passes by result (success, requeue, error).', labelNames: ['result'], registers });
    this.reconcileDuration = new Histogram({
      name: 'tsetcd_operator_reconcile_duration_seconds',
      help: 'Duration of one reconcile pass.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.workqueueDepth = new Gauge({ name: 'tsetcd_operator_workqueue_depth', help: 'Keys waiting in the work queue.', registers });
    this.isLeader = new Gauge({ name: 'tsetcd_operator_is_leader', help: '1 when this operator replica holds the leader-election Lease.', registers });
    this.members = new Gauge({ name: 'tsetcd_cluster_members', help: 'Members by state: voter, learner, unhealthy.', labelNames: ['namespace', 'cluster', 'state'], registers });
    this.hasLeader = new Gauge({ name: 'tsetcd_cluster_has_leader', help: '1 when the cluster has a leader.', labelNames: ['namespace', 'cluster'], registers });
    this.leaderChanges = new Counter({ name: 'tsetcd_cluster_leader_changes_total', help: 'Leader changes seen by the operator between passes.', labelNames: ['namespace', 'cluster'], registers });
    this.quorumMargin = new Gauge({ name: 'tsetcd_cluster_quorum_margin', help: 'Healthy voters beyond quorum (0: one more failure loses quorum).', labelNames: ['namespace', 'cluster'], registers });
    this.raftLag = new Gauge({ name: 'tsetcd_cluster_member_raft_index_lag', help: "Leader's raft index minus the member's.", labelNames: ['namespace', 'cluster', 'member'], registers });
    this.heartbeatFailures = new Counter({ name: 'tsetcd_cluster_heartbeat_failures_total', help: "Sum over members of etcd_server_heartbeat_send_failures_total increases.", labelNames: ['namespace', 'cluster'], registers });
    this.opsTotal = new Counter({ name: 'tsetcd_cluster_membership_operations_total', help: 'Finished membership operations by type and result.', labelNames: ['namespace', 'cluster', 'op', 'result'], registers });
    this.opsDuration = new Histogram({
      name: 'tsetcd_cluster_membership_operation_duration_seconds',
      help: 'Duration of finished membership operations.',
      labelNames: ['op', 'result'],
      buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    this.defragReclaimed = new Counter({ name: 'tsetcd_cluster_defrag_reclaimed_bytes_total', help: "Bytes the operator's Defragment calls gave back (dbSize before minus after), per member.", labelNames: ['namespace', 'cluster', 'member'], registers });
    this.defragLast = new Gauge({ name: 'tsetcd_cluster_member_last_defrag_timestamp_seconds', help: "Unix time the operator's last Defragment of the member returned.", labelNames: ['namespace', 'cluster', 'member'], registers });
    this.defragRuns = new Counter({ name: 'tsetcd_cluster_defragmentation_runs_total', help: 'Finished scheduled defragmentation runs by result.', labelNames: ['namespace', 'cluster', 'result'], registers });
    this.backupLastSuccess = new Gauge({ name: 'tsetcd_cluster_backup_last_success_timestamp_seconds', help: 'Unix time of the last verified scheduled backup.', labelNames: ['namespace', 'cluster'], registers });
    this.backupLastSize = new Gauge({ name: 'tsetcd_cluster_backup_last_size_bytes', help: 'Size of the last verified scheduled backup.', labelNames: ['namespace', 'cluster'], registers });
    this.backupFailures = new Counter({ name: 'tsetcd_cluster_backup_failures_total', help: 'Failed scheduled backup attempts by reason (AccessDenied, NoSuchBucket, Unreachable, SnapshotCorrupt, ...).', labelNames: ['namespace', 'cluster', 'reason'], registers });
    this.backupSuccesses = new Counter({ name: 'tsetcd_cluster_backup_successes_total', help: 'Verified scheduled backups.', labelNames: ['namespace', 'cluster'], registers });
    this.opAge = new Gauge({ name: 'tsetcd_cluster_membership_operation_age_seconds', help: 'Age of the membership operation in flight (0 when none).', labelNames: ['namespace', 'cluster', 'op'], registers });
  }

  observeCluster(namespace: string, cluster: string, s: ClusterSnapshot): void {
    const l = { namespace, cluster };
    this.members.set({ ...l, state: 'voter' }, s.voters);
    this.members.set({ ...l, state: 'learner' }, s.learners);
    this.members.set({ ...l, state: 'unhealthy' }, s.unhealthy);
    this.hasLeader.set(l, s.hasLeader ? 1 : 0);
    this.quorumMargin.set(l, s.quorumMargin);
    this.leaderChanges.inc(l, 0);
    const key = `${namespace}/${cluster}`;
    if (s.leaderID !== null) {
      const prev = this.lastLeader.get(key);
      if (prev !== undefined && prev !== s.leaderID) this.leaderChanges.inc(l);
      this.lastLeader.set(key, s.leaderID);
    }
    for (const { member, lag } of s.raftIndexLag) this.raftLag.set({ ...l, member }, lag);
    this.heartbeatFailures.inc(l, 0);
    for (const { member, total } of s.heartbeatFailures) {
      const hk = `${key}/${member}`;
      const prev = this.lastHeartbeat.get(hk);
      // A restarted member resets its counter: count the new value as the increase.
      if (prev !== undefined) this.heartbeatFailures.inc(l, total >= prev ? total - prev : total);
      this.lastHeartbeat.set(hk, total);
    }
    for (const op of OP_TYPES) this.opAge.set({ ...l, op }, s.operation?.type === op ? s.operation.ageSeconds : 0);
  }

  membershipOperation(namespace: string, cluster: string, op: string, result: string, durationSeconds: number): void {
    this.opsTotal.inc({ namespace, cluster, op, result });
    this.opsDuration.observe({ op, result }, durationSeconds);
  }

  memberDefragmented(namespace: string, cluster: string, member: string, reclaimedBytes: number, atSeconds: number): void {
    this.defragReclaimed.inc({ namespace, cluster, member }, reclaimedBytes);
    this.defragLast.set({ namespace, cluster, member }, atSeconds);
  }

  defragmentationRun(namespace: string, cluster: string, result: string): void {
    this.defragRuns.inc({ namespace, cluster, result });
  }

  backupFinished(namespace: string, cluster: string, succeeded: boolean, reason: string, atSeconds: number, sizeBytes: number | null): void {
    if (succeeded) {
      this.backupSuccesses.inc({ namespace, cluster });
      this.backupLastSuccess.set({ namespace, cluster }, atSeconds);
      if (sizeBytes !== null) this.backupLastSize.set({ namespace, cluster }, sizeBytes);
    } else this.backupFailures.inc({ namespace, cluster, reason });
  }

  forgetCluster(namespace: string, cluster: string): void {
    const match = { namespace, cluster };
    for (const g of [this.members, this.hasLeader, this.quorumMargin, this.raftLag, this.opAge, this.defragLast, this.backupLastSuccess, this.backupLastSize]) g.remove(match as never);
    const key = `${namespace}/${cluster}`;
    this.lastLeader.delete(key);
    for (const k of [...this.lastHeartbeat.keys()]) if (k.startsWith(`${key}/`)) this.lastHeartbeat.delete(k);
  }
}

export interface MetricsServerOptions {
  host: string;
  port: number;
  /** /readyz answers 200 only while this returns true. */
  ready: () => boolean;
}

/** Serves /metrics, /healthz and /readyz. Resolves once listening. */
export async function serveMetrics(metrics: OperatorMetrics, opts: MetricsServerOptions): Promise<Server> {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res) => {
    try {
      res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
    } catch (err: unknown) {
      res.status(500).send(err instanceof Error ? err.message : String(err));
    }
  });
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req, res) => {
    if (opts.ready()) res.type('text/plain').send('ok');
    else res.status(503).type('text/plain').send('not ready');
  });
  return new Promise((resolve, reject) => {
    const server = app.listen(opts.port, opts.host, (err?: Error) => (err ? reject(err) : resolve(server)));
    server.once('error', reject);
  });
}
