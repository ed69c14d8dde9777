// The runtime's own Prometheus metrics, under etcd's names, beside the code that measures them
// (STYLE-NOTES: metrics live with the layer that owns them). The older figures the runtime sets
// (has_leader, proposals, ...) still live in server/metrics.ts; new ones go here.
//   etcd_network_known_peers{Local,Remote}        gauge, 1 per peer in the membership
//   etcd_network_active_peers{Local,Remote}       gauge, 1 while the transport has a live connection
//   etcd_debugging_server_lease_expired_total     counter, leases the leader revoked on expiry
//   etcd_debugging_lease_renewed_total            counter, keep-alives the leader renewed
//   etcd_server_learner_promote_successes         counter, promotions this member proposed as leader
//   etcd_server_learner_promote_failures{Reason}  counter, promotions it refused (Reason: the error)
//   etcd_debugging_mvcc_keys_total                gauge, keys in the key index (history included)
//   etcd_debugging_mvcc_current_revision          gauge
//   etcd_debugging_mvcc_compact_revision          gauge
//   etcd_mvcc_db_open_read_transactions           gauge, reads and snapshots pinning a revision now
//   etcd_debugging_mvcc_slow_watcher_total        gauge, watchers being caught up from history
//   etcd_debugging_mvcc_pending_events_total      gauge, events held for slow watch streams
//   etcd_mvcc_hash_duration_seconds               histogram, Hash
//   etcd_mvcc_hash_rev_duration_seconds           histogram, HashKV
//   etcd_disk_backend_defrag_duration_seconds     histogram, Defragment (finishing physical compaction)
//   etcd_disk_defrag_inflight                     gauge, 1 while a Defragment runs
//   etcd_debugging_mvcc_db_compaction_total_duration_milliseconds  histogram, one physical compaction run
//   etcd_debugging_mvcc_db_compaction_last        gauge, unix time of the last physical compaction
//   etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds  histogram, each slice of it (the loop is held)
//   etcd_network_disconnected_peers_total{Local,Remote}  counter, active -> inactive changes (seen each second)
//   etcd_server_range_duration_seconds{success}   histogram, the local read of a Range (after ReadIndex)
//   etcd_network_snapshot_send_{success,failures}{To}, _total_duration_seconds{To}, _inflights_total{To}
//   etcd_network_snapshot_receive_{success,failures}{From}, _total_duration_seconds{From}
//   etcd_debugging_mvcc_total_put_size_in_bytes   gauge, bytes of the KeyValues put since start (etcd's kv.Size())
//   etcd_debugging_mvcc_db_compaction_keys_total  counter, revisions physical compaction dropped
//   etcd_server_snapshot_apply_in_progress_total  gauge, 1 while a leader's snapshot is being applied
//   etcd_debugging_server_alarms{server_id,alarm_type}  gauge, +1 per applied activation, -1 per removal
//   tsetcd_raft_log_entries, tsetcd_raft_log_bytes  gauges (ours), entries and payload bytes in raft's
//                                                 log (bounded by snapshot-policy.ts)
//   tsetcd_raft_log_memory_bytes                  gauge (ours), the part of those bytes held in memory
//   tsetcd_raft_log_wal_read_entries_total        counter (ours), entries read back from the WAL
// Buckets are etcd's (prometheus.ExponentialBuckets).

import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { exponentialBuckets } from '../lib/exponential-buckets.js';
import { metricFactory } from '../metric-factory.js';
import type { TransportHooks } from '../transport/types.js';
import { hexId } from './ids.js';

export interface RuntimeMetrics {
  readonly knownPeers: Gauge<'Local' | 'Remote'>;
  readonly activePeers: Gauge<'Local' | 'Remote'>;
  readonly leaseExpired: Counter;
  readonly leaseRenewed: Counter;
  readonly learnerPromoteSuccesses: Counter;
  readonly learnerPromoteFailures: Counter<'Reason'>;
  readonly mvccKeys: Gauge;
  readonly mvccCurrentRevision: Gauge;
  readonly mvccCompactRevision: Gauge;
  readonly dbOpenReadTransactions: Gauge;
  readonly slowWatchers: Gauge;
  readonly pendingEvents: Gauge;
  readonly hashDurationSeconds: Histogram;
  readonly hashRevDurationSeconds: Histogram;
  readonly defragDurationSeconds: Histogram;
  readonly defragInflight: Gauge;
  readonly dbCompactionTotalDurationMs: Histogram;
  readonly dbCompactionLast: Gauge;
  readonly dbCompactionPauseMs: Histogram;
  readonly disconnectedPeers: Counter<'Local' | 'Remote'>;
  readonly rangeDurationSeconds: Histogram<'success'>;
  readonly snapshotSendSuccess: Counter<'To'>;
  readonly snapshotSendFailures: Counter<'To'>;
  readonly snapshotSendDurationSeconds: Histogram<'To'>;
  readonly snapshotSendInflights: Gauge<'To'>;
  readonly snapshotReceiveSuccess: Counter<'From'>;
  readonly snapshotReceiveFailures: Counter<'From'>;
  readonly snapshotReceiveDurationSeconds: Histogram<'From'>;
  readonly totalPutSizeBytes: Gauge;
  readonly dbCompactionKeys: Counter;
  readonly snapshotApplyInProgress: Gauge;
  readonly serverAlarms: Gauge<'server_id' | 'alarm_type'>;
  readonly raftLogEntries: Gauge;
  readonly raftLogBytes: Gauge;
  readonly raftLogMemoryBytes: Gauge;
  readonly raftLogWalReads: Counter;
}

export function createRuntimeMetrics(registry: Registry): RuntimeMetrics {
  const { gauge, counter, histogram } = metricFactory(registry);
  return {
    knownPeers: gauge('etcd_network_known_peers', 'The current number of known peers.', ['Local', 'Remote']),
    activePeers: gauge('etcd_network_active_peers', 'The current number of active peer connections.', ['Local', 'Remote']),
    leaseExpired: counter('etcd_debugging_server_lease_expired_total', 'The total number of expired leases.'),
    leaseRenewed: counter('etcd_debugging_lease_renewed_total', 'The number of renewed leases seen by the leader.'),
    learnerPromoteSuccesses: counter(
      'etcd_server_learner_promote_successes',
      'The total number of successful learner promotions while this member is leader.',
    ),
    learnerPromoteFailures: counter(
      'etcd_server_learner_promote_failures',
      'The total number of failed learner promotions (likely learner not ready) while this member is leader.',
      ['Reason'],
    ),
    mvccKeys: gauge('etcd_debugging_mvcc_keys_total', 'Total number of keys.'),
    raftLogEntries: gauge('tsetcd_raft_log_entries', "Entries in raft's in-memory log."),
    raftLogBytes: gauge('tsetcd_raft_log_bytes', "Payload bytes of the entries in raft's log, those read back from the WAL included."),
    raftLogMemoryBytes: gauge('tsetcd_raft_log_memory_bytes', "Payload bytes of raft's log held in memory (the newest applied entries and those not yet applied)."),
    raftLogWalReads: counter('tsetcd_raft_log_wal_read_entries_total', "Entries of raft's log read back from the WAL (for a follower further behind than the entries held in memory)."),
    mvccCurrentRevision: gauge('etcd_debugging_mvcc_current_revision', 'The current revision of store.'),
    mvccCompactRevision: gauge('etcd_debugging_mvcc_compact_revision', 'The revision of the last compaction in store.'),
    dbOpenReadTransactions: gauge('etcd_mvcc_db_open_read_transactions', 'The number of currently open read transactions'),
    slowWatchers: gauge('etcd_debugging_mvcc_slow_watcher_total', 'Total number of unsynced slow watchers.'),
    pendingEvents: gauge('etcd_debugging_mvcc_pending_events_total', 'Total number of pending events to be sent.'),
    hashDurationSeconds: histogram('etcd_mvcc_hash_duration_seconds', 'The latency distribution of storage hash operation.', exponentialBuckets(0.01, 15)),
    hashRevDurationSeconds: histogram(
      'etcd_mvcc_hash_rev_duration_seconds',
      'The latency distribution of storage hash by revision operation.',
      exponentialBuckets(0.01, 15),
    ),
    defragDurationSeconds: histogram(
      'etcd_disk_backend_defrag_duration_seconds',
      'The latency distribution of backend defragmentation.',
      exponentialBuckets(0.1, 13),
    ),
    defragInflight: gauge('etcd_disk_defrag_inflight', 'Whether or not defrag is active on the member. 1 means active, 0 means not.'),
    dbCompactionTotalDurationMs: histogram(
      'etcd_debugging_mvcc_db_compaction_total_duration_milliseconds',
      'Bucketed histogram of db compaction total duration.',
      exponentialBuckets(100, 14),
    ),
    dbCompactionLast: gauge('etcd_debugging_mvcc_db_compaction_last', 'The unix time of the last db compaction. Resets to 0 on start.'),
    dbCompactionPauseMs: histogram(
      'etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds',
      'Bucketed histogram of db compaction pause duration.',
      exponentialBuckets(1, 13),
    ),
    disconnectedPeers: counter('etcd_network_disconnected_peers_total', 'The total number of disconnected peers.', ['Local', 'Remote']),
    rangeDurationSeconds: histogram('etcd_server_range_duration_seconds', 'The latency distributions of txn.Range', exponentialBuckets(0.0001, 20), [
      'success',
    ]),
    snapshotSendSuccess: counter('etcd_network_snapshot_send_success', 'Total number of successful snapshot sends', ['To']),
    snapshotSendFailures: counter('etcd_network_snapshot_send_failures', 'Total number of snapshot send failures', ['To']),
    snapshotSendDurationSeconds: histogram(
      'etcd_network_snapshot_send_total_duration_seconds',
      'Total latency distributions of v3 snapshot sends',
      exponentialBuckets(0.1, 10),
      ['To'],
    ),
    snapshotSendInflights: gauge('etcd_network_snapshot_send_inflights_total', 'Total number of inflight snapshot sends', ['To']),
    snapshotReceiveSuccess: counter('etcd_network_snapshot_receive_success', 'Total number of successful snapshot receives', ['From']),
    snapshotReceiveFailures: counter('etcd_network_snapshot_receive_failures', 'Total number of snapshot receive failures', ['From']),
    snapshotReceiveDurationSeconds: histogram(
      'etcd_network_snapshot_receive_total_duration_seconds',
      'Total latency distributions of v3 snapshot receives',
      exponentialBuckets(0.1, 10),
      ['From'],
    ),
    totalPutSizeBytes: gauge('etcd_debugging_mvcc_total_put_size_in_bytes', 'The total size of put kv pairs seen by this member.'),
    dbCompactionKeys: counter('etcd_debugging_mvcc_db_compaction_keys_total', 'Total number of db keys compacted.'),
    snapshotApplyInProgress: gauge('etcd_server_snapshot_apply_in_progress_total', '1 if the server is applying the incoming snapshot. 0 if none.'),
    serverAlarms: gauge(
      'etcd_debugging_server_alarms',
      "Alarms for every member in cluster. 1 for 'server_id' label with current ID. 2 for 'alarm_type' label with type of this alarm",
      ['server_id', 'alarm_type'],
    ),
  };
}

/** The transport's snapshot hooks feeding etcd_network_snapshot_* (labels: the peer in hex). */
export function snapshotTransportHooks(r: RuntimeMetrics): TransportHooks {
  return {
    snapshotSendStarted: (to) => r.snapshotSendInflights.inc({ To: hexId(to) }),
    snapshotSendFinished: (to, ok, s) => {
      const To = hexId(to);
      r.snapshotSendInflights.dec({ To });
      if (ok) {
        r.snapshotSendSuccess.inc({ To });
        r.snapshotSendDurationSeconds.observe({ To }, s);
      } else {
        r.snapshotSendFailures.inc({ To });
      }
    },
    snapshotReceived: (from, ok, s) => {
      const From = hexId(from);
      if (ok) {
        r.snapshotReceiveSuccess.inc({ From });
        r.snapshotReceiveDurationSeconds.observe({ From }, s);
      } else {
        r.snapshotReceiveFailures.inc({ From });
      }
    },
  };
}
