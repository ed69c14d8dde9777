// Differences from etcd 3.6 the differential test accepts, each with its reason. Two kinds:
// - DELIBERATE: tsetcd answers differently on purpose (docs/design-notes.md says why).
// - KNOWN_GAPS: not done yet; each names what is missing. A gap closes by deleting its line.
// The test fails on any other difference, and on an entry here that no longer differs, so this
// list only ever says what is true.

const VERSION_3_5 = 'tsetcd reports etcd 3.5.17 (server) and 3.5.0 (cluster): it serves the 3.5 API, and clients such as kube-apiserver pick features from the server version';

const DOWNGRADE_KEEPS_3_5 =
  "while a downgrade is enabled etcd's leader lowers the cluster version to the target; tsetcd keeps reporting 3.5, because every tsetcd member goes on serving the 3.5 API and none can become 3.4 (docs/design-notes.md, Downgrade)";

export const DELIBERATE: ReadonlyMap<string, string> = new Map([
  ['etcdctl endpoint status -w json', VERSION_3_5],
  ['grpc Maintenance.Status Status', VERSION_3_5],
  ['http GET /version', VERSION_3_5],
  ['grpc Maintenance.Hash Hash', "Hash covers etcd's whole bbolt file (meta, members, raft indexes); tsetcd hashes its own replicated state instead. HashKV, which members and tools compare, is etcd's exact algorithm"],
  [
    'grpc Maintenance.HashKV HashKV revision 3 (the compaction revision)',
    'at a compaction revision etcd answers the hash it stored while compacting, computed against the previous compaction; tsetcd computes HashKV from the live state',
  ],
  ['cluster version once the leader has acted on the downgrade', DOWNGRADE_KEEPS_3_5],
  ['etcdctl downgrade validate <target> (in progress)', `${DOWNGRADE_KEEPS_3_5}; so etcd checks the target against its lowered version (invalid target) where tsetcd reports the downgrade in progress`],
  ['etcdctl downgrade cancel', `${DOWNGRADE_KEEPS_3_5}; the answer carries the cluster version`],
  ['http POST /v3/kv/range {not json', "the text of a JSON syntax error is the parser's own (Go's encoding/json in etcd, V8's JSON.parse in tsetcd); the code (3, InvalidArgument) and the status are etcd's"],
]);

export const KNOWN_GAPS: ReadonlyMap<string, string> = new Map([
]);

/** Metric families etcd serves and tsetcd does not, by pattern -> why. */
export const ALLOWED_MISSING_METRICS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^go_/, 'the Go runtime: a Node member has no goroutines or Go GC; it serves nodejs_* instead'],
  [/^etcd_server_go_version$/, 'the Go runtime version; tsetcd has none'],
  [/^etcd_debugging_store_/, 'the v2 store, which etcd 3.6 keeps only for its membership; tsetcd has no v2 store'],
  [/^etcd_grpc_proxy_/, "etcd's gRPC proxy, a separate mode tsetcd does not have (etcd registers these in the server too)"],
  [/^etcd_debugging_disk_backend_commit_|^etcd_debugging_snap_save_marshalling_duration_seconds$/, "bbolt's commit phases (rebalance, spill, write) and v2 snapshot marshalling; tsetcd's storage has no such phases"],
  [/^etcd_server_feature_enabled$/, "etcd's feature gates (--feature-gates, each with its stage); tsetcd has no gates, so every row would name a switch it does not read"],
  [
    /^etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds$/,
    'etcd compacts its in-memory key index in one pass under a lock, then the bbolt keys; tsetcd trims key index and stored revisions together in bounded slices, which etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds times: there is no separate index pause to measure',
  ],
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
];
