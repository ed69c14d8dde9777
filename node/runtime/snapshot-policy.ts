// When a member takes a snapshot, and how much of raft's in-memory log it keeps behind one.
// Pure: the member asks with numbers it reads from raft's MemoryStorage and the store.
//
// Raft's log lives in memory (raft/memory-storage.ts) until a snapshot lets the member compact
// it. etcd triggers on entries only (--snapshot-count; 3.5: 100,000, 3.6: 10,000) and keeps
// --experimental-snapshot-catchup-entries (5,000) behind each snapshot for slow followers. With
// 64 KiB values, 100,000 entries are 6 GiB: the count alone does not bound memory. So a snapshot
// also fires on the bytes applied since the last one, and the entries kept behind it are bounded
// in bytes too (a follower further behind gets a snapshot, as past etcd's entry count).
//
// A snapshot that carries its values is the whole state (the store's keys and values, streamed to
// a file), unlike etcd's, which leaves the data in bbolt. A fixed byte trigger would rewrite an
// 8 GiB state every few hundred MiB written. So the trigger grows with what a snapshot writes (the
// member passes the index's bytes alone when its snapshots name value-log offsets, value-log.ts,
// and the trigger then sits at its floor), a fraction of it, between a floor
// and a ceiling: the write amplification of snapshots stays at most 1 / STATE_FRACTION while the
// state is below ceiling / STATE_FRACTION, and the log's memory never passes the ceiling (plus
// what is applied while a snapshot is written, and the catch-up bytes). docs/design-notes.md
// "Raft's log bounded in bytes" has the numbers behind the defaults.

/** A snapshot fires once the bytes applied since the last one reach this share of the state. */
export const STATE_FRACTION = 0.5;
/** The byte trigger never fires below this (small states snapshot on this, not on the fraction). */
export const MIN_LOG_BYTES = 64 * 2 ** 20;
/** Default ceiling of the byte trigger (--experimental-snapshot-log-bytes). */
export const DEFAULT_SNAPSHOT_LOG_BYTES = 2 ** 30;
/** Default bytes of entries kept behind a snapshot for slow followers (--experimental-snapshot-catchup-bytes). */
export const DEFAULT_SNAPSHOT_CATCH_UP_BYTES = 128 * 2 ** 20;
/** Entries kept in raft's memory log behind a snapshot, for slow followers (etcd: 5000). */
export const DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES = 5000;

export interface SnapshotPolicy {
  /** --snapshot-count: entries applied since the last snapshot that trigger one. */
  readonly count: number;
  /** --experimental-snapshot-log-bytes: the ceiling of the byte trigger. */
  readonly logBytes: number;
  /** --experimental-snapshot-catchup-entries: at most this many entries kept behind a snapshot. */
  readonly catchUpEntries: number;
  /** --experimental-snapshot-catchup-bytes: and at most this many payload bytes. */
  readonly catchUpBytes: number;
}

/** The bytes applied since the last snapshot that trigger the next one, for a state of stateBytes. */
export function snapshotTriggerBytes(stateBytes: number, logBytes: number): number {
  return Math.min(logBytes, Math.max(MIN_LOG_BYTES, Math.floor(stateBytes * STATE_FRACTION)));
}

/**
 * Whether to take a snapshot now. `extraEntries` raises the entry trigger (firstSnapshotDelay);
 * the byte trigger, which bounds the log's memory, is never delayed.
 */
export function shouldSnapshot(
  p: SnapshotPolicy,
  since: { readonly entries: number; readonly bytes: number },
  stateBytes: number,
  extraEntries = 0,
): boolean {
  if (since.entries <= 0) return false;
  return since.entries >= p.count + extraEntries || since.bytes >= snapshotTriggerBytes(stateBytes, p.logBytes);
}

/**
 * Extra entries a member waits before its first snapshot since it started: rank/n of the count,
 * where rank is its place among the voters sorted by id (0 when it is not one). Members started
 * together apply the same indexes, so on the count alone they would all snapshot at the same one
 * and stall together, the leader and both followers a write needs. Each later snapshot comes
 * `count` entries after the member's own last one, so the members stay that far apart: every
 * interval is still --snapshot-count, only the phase differs.
 */
export function firstSnapshotDelay(count: number, self: bigint, voters: readonly bigint[]): number {
  const rank = [...voters].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).indexOf(self);
  return rank <= 0 ? 0 : Math.floor((count * rank) / voters.length);
}

/**
 * The index to compact raft's memory log to after a snapshot at `index`: keeps at most
 * catchUpEntries entries and at most catchUpBytes bytes behind it. `indexKeepingBytes(index, max)`
 * answers the lowest index whose successors up to `index` hold at most max bytes (MemoryStorage's).
 * The caller compacts only when the answer is above its first index.
 */
export function compactIndexAfterSnapshot(p: SnapshotPolicy, index: number, indexKeepingBytes: (upTo: number, maxBytes: number) => number): number {
  return Math.min(index, Math.max(index - p.catchUpEntries, indexKeepingBytes(index, p.catchUpBytes)));
}
