// Differences from etcd 3.6 the differential test accepts, each with its reason. Two kinds:
// - DELIBERATE: tsetcd answers differently on purpose (docs/design-notes.md says why).
// - KNOWN_GAPS: not done yet; each names what is missing. A gap closes by deleting its line.
// The test fails on any other difference, and on an entry here that no longer differs, so this
// list only ever says what is true.

const VERSION_3_5 = 'tsetcd reports etcd 3.5.17 (server) and 3.5.0 (cluster): it serves the 3.5 API (no downgrade), and clients such as kube-apiserver pick features from the server version';

export const DELIBERATE: ReadonlyMap<string, string> = new Map([
  ['etcdctl endpoint status -w json', VERSION_3_5],
  ['grpc Maintenance.Status Status', VERSION_3_5],
  ['http GET /version', VERSION_3_5],
  ['grpc Maintenance.Hash Hash', "Hash covers etcd's whole bbolt file (meta, members, raft indexes); tsetcd hashes its own replicated state instead. HashKV, which members and tools compare, is etcd's exact algorithm"],
  [
    'grpc Maintenance.HashKV HashKV revision 3 (the compaction revision)',
    'at a compaction revision etcd answers the hash it stored while compacting, computed against the previous compaction; tsetcd computes HashKV from the live state',
  ],
  ['http POST /v3/kv/range {not json', "the text of a JSON syntax error is the parser's own (Go's encoding/json in etcd, V8's JSON.parse in tsetcd); the code (3, InvalidArgument) and the status are etcd's"],
]);

export const KNOWN_GAPS: ReadonlyMap<string, string> = new Map([
  ['grpc Maintenance.Downgrade Downgrade validate 3.5', 'gap: the Downgrade API (validate, enable, cancel) is not implemented'],
]);

/** Metric families etcd serves and tsetcd does not, by pattern -> why. */
export const ALLOWED_MISSING_METRICS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^go_/, 'the Go runtime: a Node member has no goroutines or Go GC; it serves nodejs_* instead'],
  [/^etcd_server_go_version$/, 'the Go runtime version; tsetcd has none'],
  [/^process_network_|^process_virtual_memory_max_bytes$/, "Go's process collector reads these from /proc; prom-client does not export them"],
  [/^etcd_debugging_store_/, 'the v2 store, which etcd 3.6 keeps only for its membership; tsetcd has no v2 store'],
  [/^etcd_grpc_proxy_/, "etcd's gRPC proxy, a separate mode tsetcd does not have (etcd registers these in the server too)"],
  [/^etcd_debugging_disk_backend_commit_|^etcd_debugging_snap_save_marshalling_duration_seconds$/, "bbolt's commit phases (rebalance, spill, write) and v2 snapshot marshalling; tsetcd's storage has no such phases"],
  [/^etcd_snap_db_/, "gap: the timings of receiving a leader's db snapshot (etcd_snap_db_fsync_duration_seconds, etcd_snap_db_save_total_duration_seconds)"],
  [/^etcd_server_(feature_enabled|healthcheck|healthchecks_total|snapshot_apply_in_progress_total)$/, 'gap: not exported yet'],
  [/^etcd_debugging_(auth_revision|server_alarms|mvcc_db_compaction_keys_total|mvcc_index_compaction_pause_duration_milliseconds|mvcc_total_put_size_in_bytes)$/, 'gap: not exported yet'],
];

/** Metric families tsetcd serves and etcd does not, by pattern -> why. */
export const ALLOWED_EXTRA_METRICS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^nodejs_/, "the Node runtime's own families (prom-client's defaults), in place of go_*"],
  [/^process_(cpu_user_seconds_total|cpu_system_seconds_total|heap_bytes)$/, "prom-client's process collector splits CPU time and adds the heap"],
  [/^tsetcd_/, "tsetcd's own families, named with its prefix so they never clash with etcd's"],
  [
    /^etcd_network_(disconnected_peers_total|peer_sent_failures_total|snapshot_(receive|send)_\w+)$/,
    'labelled families etcd lists only once a child exists (after the first failure or snapshot); tsetcd lists them from the start',
  ],
  [/^grpc_server_handling_seconds$/, "etcd serves the gRPC latency histogram only with --metrics=extensive; tsetcd always does (the etcd mixin's latency panels read it)"],
];
