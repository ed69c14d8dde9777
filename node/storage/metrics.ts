// Storage metrics under etcd's names, fed through StorageHooks so the WAL itself stays testable.
//   etcd_disk_wal_fsync_duration_seconds       histogram, one observation per WAL fdatasync
//   etcd_disk_wal_write_bytes_total            counter, bytes handed to WAL files
//   etcd_disk_wal_write_duration_seconds       histogram, one observation per write of a batch of records
//   etcd_snap_fsync_duration_seconds           histogram, the fdatasync of each new snapshot file
//   etcd_snap_db_fsync_duration_seconds        histogram, that fdatasync for a snapshot the leader sent
//   etcd_snap_db_save_total_duration_seconds   histogram, the whole save of a snapshot the leader sent
//       (etcd saves a leader's db to its .snap.db file; ours is the same snapshot file as our own)
//   etcd_disk_backend_commit_duration_seconds  histogram. We have no bbolt backend: the state
//       machine is persisted by snapshots, so our "backend commit" is one saveSnapshot (write the
//       tmp file, fsync, rename, fsync the directory, make the WAL marker durable).
// Buckets: etcd's, 1 ms doubling 14 times (0.001 .. 8.192 s).
// The three fed on every WAL write (fsync, write duration, bytes) go through tallies
// (server/counter-tally.ts): prom-client's observe() hashes the label set and indexes buckets by
// float keys each time, which was 3-4% of a follower's busy time under a single-client put.
// node/server/metrics.ts may already have registered these names on the member's registry
// (createMemberMetrics); we then reuse those instances instead of registering twice.

import { Counter, Histogram, type Registry } from 'prom-client';
import { exponentialBuckets } from '../lib/exponential-buckets.js';
import { CounterTally, HistogramTally } from '../server/counter-tally.js';
import type { StorageHooks } from './types.js';

export const DISK_BUCKETS_SECONDS: readonly number[] = exponentialBuckets(0.001, 14);

export interface StorageMetrics {
  readonly walFsyncDurationSeconds: Histogram;
  readonly walWriteBytes: Counter;
  readonly backendCommitDurationSeconds: Histogram;
  readonly walWriteDurationSeconds: Histogram;
  readonly snapFsyncDurationSeconds: Histogram;
  readonly snapDbFsyncDurationSeconds: Histogram;
  readonly snapDbSaveTotalDurationSeconds: Histogram;
}

function histogram(registry: Registry, name: string, help: string, buckets: readonly number[] = DISK_BUCKETS_SECONDS): Histogram {
  const existing = registry.getSingleMetric(name);
  if (existing) {
    if (!(existing instanceof Histogram)) throw new Error(`metric ${name} is registered but is not a histogram`);
    return existing as Histogram;
  }
  return new Histogram({ name, help, buckets: [...buckets], registers: [registry] });
}

function counter(registry: Registry, name: string, help: string): Counter {
  const existing = registry.getSingleMetric(name);
  if (existing) {
    if (!(existing instanceof Counter)) throw new Error(`metric ${name} is registered but is not a counter`);
    return existing as Counter;
  }
  return new Counter({ name, help, registers: [registry] });
}

/** Creates (or reuses, if already registered) the storage metrics on registry. */
export function createStorageMetrics(registry: Registry): StorageMetrics {
  return {
    walFsyncDurationSeconds: histogram(registry, 'etcd_disk_wal_fsync_duration_seconds', 'The latency distributions of fsync called by WAL.'),
    walWriteBytes: counter(registry, 'etcd_disk_wal_write_bytes_total', 'Total number of bytes written in WAL.'),
    backendCommitDurationSeconds: histogram(
      registry,
      'etcd_disk_backend_commit_duration_seconds',
      'The latency distributions of commit called by backend.',
    ),
    walWriteDurationSeconds: histogram(registry, 'etcd_disk_wal_write_duration_seconds', 'The latency distributions of write called by WAL.'),
    snapFsyncDurationSeconds: histogram(registry, 'etcd_snap_fsync_duration_seconds', 'The latency distributions of fsync called by snap.'),
    snapDbFsyncDurationSeconds: histogram(registry, 'etcd_snap_db_fsync_duration_seconds', 'The latency distributions of fsyncing .snap.db file'),
    snapDbSaveTotalDurationSeconds: histogram(
      registry,
      'etcd_snap_db_save_total_duration_seconds',
      'The total latency distributions of v3 snapshot save',
      exponentialBuckets(0.1, 10),
    ),
  };
}

/** The hooks that feed the metrics; pass as StorageOptions.hooks. */
export function storageHooks(m: StorageMetrics): StorageHooks {
  const fsync = new HistogramTally(m.walFsyncDurationSeconds, {});
  const write = new HistogramTally(m.walWriteDurationSeconds, {});
  const bytes = new CounterTally(m.walWriteBytes, {});
  return {
    walFsync: (s) => fsync.observe(s),
    walWriteBytes: (n) => bytes.inc(n),
    backendCommit: (s) => m.backendCommitDurationSeconds.observe(s),
    walWrite: (s) => write.observe(s),
    snapshotFsync: (s) => m.snapFsyncDurationSeconds.observe(s),
    leaderSnapshotFsync: (s) => m.snapDbFsyncDurationSeconds.observe(s),
    leaderSnapshotSave: (s) => m.snapDbSaveTotalDurationSeconds.observe(s),
  };
}
