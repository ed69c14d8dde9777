// Public API of the MVCC state machine (pure: no I/O, no clock, no randomness).
//
// Writes (through Raft):
//   const bytes = encodeCommand({ type: 'put', req: { key, value } });   // proposal payload
//   ... on commit, on every member:
//   const res = store.apply(decodeCommand(entry.data), entry.index);     // ApplyResult
//   res.ok ? res.response : res.error (MvccError: .code, .grpcCode, .grpcMessage)
//   hub.notify();                                                         // feed watchers
// Before proposing, the server calls validateCommand(cmd, maxTxnOps) (every request check,
// etcd's and ours; apply repeats it) and store.quotaAllows(cmd) (NOSPACE: answer NoSpaceError
// and propose an alarm).
//
// Reads (local; linearizable = after ReadIndex): store.range(req), or store.rangeSteps(req, n)
// to do a big range in bounded steps. Compaction: apply 'compaction' (logical at once), then
// store.compactStep(n) between events until it returns true.
// Leases: replicated records in the store; the leader-side clock in store.lessor (lessor.ts).
// Snapshots: store.snapshotChunks(maxBytes) / store.restore(chunks) or beginRestore().
// Hashes: store.hashKV(rev) or store.hashKVSteps(rev, n) (bounded), store.hash().
//   HashKV = CRC-32C over compactRevision and, per key in key order, every revision that
//   survives compaction (key, mod, sub, create, version, lease, value); logical, so it does
//   not depend on how far physical compaction has got.
// Size (db size in use): Σ revisions (value + 200) + Σ keys (key + 300) + 64 per lease
//   (store.ts REV/KEY_OVERHEAD_BYTES); store.totalSizeBytes() adds the dead bytes a file value
//   store still holds, and is what the quota is checked against (as etcd checks its file size). Values live in a ValueStore (value-store.ts): the heap by default, or
//   node/storage's value log; store.relocateStep() moves them out of a defragmented part.
// Long readers (rangeSteps, hashKVSteps, snapshotChunks) pin history against physical
// compaction until they finish: drive them to the end or call .return().
// Watches: new WatchHub(store) (watch-hub.ts).
// Enums are etcd's numeric values (types.ts). Keep-alive is leader-side and in memory only
// (lessor.renew), like etcd: it is not a Raft command.
export * from './types.js';
export * from './errors.js';
export { encodeCommand, decodeCommand, writeCommand, readCommand, ByteWriter, ByteReader } from './codec.js';
export { validateCommand, validateRange, validateTxn, DEFAULT_MAX_TXN_OPS, APPLY_MAX_TXN_OPS, MAX_LEASE_TTL_SEC } from './validate.js';
export {
  MvccStore,
  SnapshotRestorer,
  SnapshotExpander,
  DEFAULT_QUOTA_BACKEND_BYTES,
  REV_OVERHEAD_BYTES,
  KEY_OVERHEAD_BYTES,
  LEASE_OVERHEAD_BYTES,
  eventOf,
  header,
  type StoreOptions,
  type ExportHeader,
  type RevisionExport,
  type ImportedRev,
  type Rev,
  keyBytes,
  type ApplyResult,
} from './store.js';
export { InHeapValues, type ValueStore, type ValueRef } from './value-store.js';
export { Lessor, DEFAULT_REVOKE_RETRY_MS, type LeaseRecord } from './lessor.js';
export { prefixEnd } from './bytes.js';
export { WatchHub, PROGRESS_WATCH_ID, type WatchSink, type WatchHubOptions } from './watch-hub.js';
