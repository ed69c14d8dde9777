// EtcdBackup metrics, named after the scheduled backups' tsetcd_cluster_backup_* series and labelled
// the same way, by the cluster backed up (not by EtcdBackup name: those are one-offs, and a label per
// object would grow without bound). Registered on the operator's registry (metrics.ts).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What the EtcdBackup controller reports; tests may pass a recorder. */
export interface EtcdBackupMetricsSink {
  /** An EtcdBackup ended (Succeeded or Failed): when (unix seconds), its size on success, and how long since it started. */
  finished(namespace: string, cluster: string, succeeded: boolean, reason: string, atSeconds: number, sizeBytes: number | null, durationSeconds: number | null): void;
  /** An attempt failed transiently and will be retried. */
  retried(namespace: string, cluster: string, reason: string): void;
}

export class EtcdBackupMetrics implements EtcdBackupMetricsSink {
  private readonly lastSuccess: Gauge<'namespace' | 'cluster'>;
  private readonly lastSize: Gauge<'namespace' | 'cluster'>;
  private readonly successes: Counter<'namespace' | 'cluster'>;
  private readonly failures: Counter<'namespace' | 'cluster' | 'reason'>;
  private readonly retries: Counter<'namespace' | 'cluster' | 'reason'>;
  private readonly duration: Histogram<'namespace' | 'cluster' | 'result'>;

  constructor(registry: Registry) {
    const registers = [registry];
    const l = ['namespace', 'cluster'] as const;
    this.lastSuccess = new Gauge({ name: 'tsetcd_etcdbackup_last_success_timestamp_seconds', help: 'Unix time the last EtcdBackup of the cluster succeeded (verified).', labelNames: l, registers });
    this.lastSize = new Gauge({ name: 'tsetcd_etcdbackup_last_size_bytes', help: 'Size of the last successful EtcdBackup of the cluster.', labelNames: l, registers });
    this.successes = new Counter({ name: 'tsetcd_etcdbackup_successes_total', help: 'EtcdBackups that succeeded.', labelNames: l, registers });
    this.failures = new Counter({ name: 'tsetcd_etcdbackup_failures_total', help: 'EtcdBackups that failed, by reason (AccessDenied, NoSuchBucket, ClaimNotFound, NoSpace, SnapshotCorrupt, Unreachable after the retries, ...).', labelNames: [...l, 'reason'], registers });
    this.retries = new Counter({ name: 'tsetcd_etcdbackup_retries_total', help: 'EtcdBackup attempts that failed transiently and were retried, by reason.', labelNames: [...l, 'reason'], registers });
    this.duration = new Histogram({
      name: 'tsetcd_etcdbackup_duration_seconds',
      help: 'From an EtcdBackup recorded Running to Succeeded or Failed (retries included).',
      labelNames: [...l, 'result'],
      buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });
  }

  finished(namespace: string, cluster: string, succeeded: boolean, reason: string, atSeconds: number, sizeBytes: number | null, durationSeconds: number | null): void {
    if (succeeded) {
      this.successes.inc({ namespace, cluster });
      this.lastSuccess.set({ namespace, cluster }, atSeconds);
      if (sizeBytes !== null) this.lastSize.set({ namespace, cluster }, sizeBytes);
    } else this.failures.inc({ namespace, cluster, reason });
    if (durationSeconds !== null) this.duration.observe({ namespace, cluster, result: succeeded ? 'Succeeded' : 'Failed' }, durationSeconds);
  }

  retried(namespace: string, cluster: string, reason: string): void {
    this.retries.inc({ namespace, cluster, reason });
  }
}
