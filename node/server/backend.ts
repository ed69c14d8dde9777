// The narrow interface node/server needs from the member runtime (ARCHITECTURE.md: small I/O
// interfaces, defined by their user). node/runtime implements it over raft + mvcc; unit tests
// implement it over mvcc alone. Everything is promise-based; expected failures are thrown as
// errors carrying a `code` from BackendErrorCode (see BackendError), which errors.ts maps to
// etcd's exact gRPC codes and messages.
//
// Numbers: revisions, versions, TTLs, lease and member ids are plain JS numbers. Ids we generate
// stay below 2^53. A client-chosen lease id at or above 2^53 is rejected by the server layer
// before it reaches the backend (see ids.ts), so a backend never sees an inexact number.
// Keys and values are Uint8Array (Buffers from gRPC are passed through without copying).

// ---------- records ----------

export interface KeyValue {
  readonly key: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly value: Uint8Array;
  readonly lease: number;
}

export type EventType = 'put' | 'delete';

export interface WatchEvent {
  readonly type: EventType;
  /** For delete: key set, modRevision = the delete's revision, other fields 0/empty. */
  readonly kv: KeyValue;
  readonly prevKv?: KeyValue | undefined;
}

// ---------- KV requests ----------

export type SortOrder = 'none' | 'ascend' | 'descend';
export type SortTarget = 'key' | 'version' | 'create' | 'mod' | 'value';

export interface RangeRequest {
  readonly key: Uint8Array;
  /** Empty: the single key. [0]: every key >= key. Otherwise exclusive end. */
  readonly rangeEnd: Uint8Array;
  /** 0 = no limit. */
  readonly limit: number;
  /** <= 0 = current revision. */
  readonly revision: number;
  readonly sortOrder: SortOrder;
  readonly sortTarget: SortTarget;
  readonly keysOnly: boolean;
  readonly countOnly: boolean;
  /** 0 = no bound. */
  readonly minModRevision: number;
  readonly maxModRevision: number;
  readonly minCreateRevision: number;
  readonly maxCreateRevision: number;
}

export interface RangeResult {
  readonly kvs: readonly KeyValue[];
  readonly more: boolean;
  readonly count: number;
}

export interface PutRequest {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly lease: number;
  readonly prevKv: boolean;
  readonly ignoreValue: boolean;
  readonly ignoreLease: boolean;
}

export interface PutResult {
  readonly prevKv?: KeyValue | undefined;
}

export interface DeleteRangeRequest {
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
  readonly prevKv: boolean;
}

export interface DeleteRangeResult {
  readonly deleted: number;
  readonly prevKvs: readonly KeyValue[];
}

export type CompareResult = 'equal' | 'greater' | 'less' | 'notEqual';

export type CompareTarget =
  | { readonly kind: 'version'; readonly version: number }
  | { readonly kind: 'create'; readonly createRevision: number }
  | { readonly kind: 'mod'; readonly modRevision: number }
  | { readonly kind: 'value'; readonly value: Uint8Array }
  | { readonly kind: 'lease'; readonly lease: number };

export interface Compare {
  readonly result: CompareResult;
  readonly target: CompareTarget;
  readonly key: Uint8Array;
  /** Empty: compare one key; otherwise every key in [key, rangeEnd). */
  readonly rangeEnd: Uint8Array;
}

export type RequestOp =
  | { readonly kind: 'range'; readonly range: RangeRequest }
  | { readonly kind: 'put'; readonly put: PutRequest }
  | { readonly kind: 'deleteRange'; readonly deleteRange: DeleteRangeRequest }
  | { readonly kind: 'txn'; readonly txn: TxnRequest };

export type ResponseOp =
  | { readonly kind: 'range'; readonly range: RangeResult }
  | { readonly kind: 'put'; readonly put: PutResult }
  | { readonly kind: 'deleteRange'; readonly deleteRange: DeleteRangeResult }
  | { readonly kind: 'txn'; readonly txn: TxnResult };

export interface TxnRequest {
  readonly compare: readonly Compare[];
  readonly success: readonly RequestOp[];
  readonly failure: readonly RequestOp[];
}

export interface TxnResult {
  readonly succeeded: boolean;
  readonly responses: readonly ResponseOp[];
}

/** What every answer carries for the response header: the store revision it saw or made. */
export interface Revisioned<T> {
  readonly revision: number;
  readonly result: T;
}

// ---------- watch ----------

export interface WatchCreateRequest {
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
  /** <= 0 = from the next revision. */
  readonly startRevision: number;
  readonly prevKv: boolean;
  readonly filterPut: boolean;
  readonly filterDelete: boolean;
  /** Periodic progress notifications for this watcher when it is idle (sink.progress). */
  readonly progressNotify: boolean;
  /** Chosen by the server, unique on the stream. */
  readonly watchId: number;
}

/** Where a watcher's output goes. Calls come from the backend, in revision order per watcher. */
export interface WatchSink {
  /** Events of one or more revisions; `revision` is the store revision when sent (>= every event's). */
  events(watchId: number, events: readonly WatchEvent[], revision: number): void;
  /** The watcher can no longer be served (its start revision was compacted, or it fell behind). */
  canceled(watchId: number, compactRevision: number, reason: string): void;
  /** This watcher has seen every event up to and including `revision`. */
  progress(watchId: number, revision: number): void;
}

/** One gRPC watch stream's view of the watch hub. The server owns watch ids (per stream). */
export interface WatchStream {
  /**
   * Starts a watcher. With startRevision <= current revision, past events are replayed first.
   * A compacted startRevision throws BackendError('compacted', ...) carrying the compact
   * revision in `compactRevision`; the server answers created + canceled as etcd does.
   * A future startRevision is accepted: events arrive once the store gets there.
   */
  create(req: WatchCreateRequest): void;
  /** Returns false if there was no such watcher. */
  cancel(watchId: number): boolean;
  /**
   * Asks for one progress report: once every watcher on this stream has caught up with the
   * store, the backend calls sink.progress(-1, revision); the server sends it with watch_id -1.
   */
  requestProgress(): void;
  /** Drops every watcher of this stream. */
  close(): void;
}

// ---------- lease ----------

export interface LeaseGrantResult {
  readonly id: number;
  readonly ttlSeconds: number;
}

export interface LeaseTimeToLiveResult {
  readonly id: number;
  /** Remaining seconds; -1 when the lease does not exist. */
  readonly ttlSeconds: number;
  readonly grantedTtlSeconds: number;
  readonly keys: readonly Uint8Array[];
}

// ---------- cluster ----------

export interface Member {
  readonly id: number;
  /** Empty until the member has started. */
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

export interface MemberAddResult {
  readonly member: Member;
  readonly members: readonly Member[];
}

// ---------- maintenance ----------

export type AlarmType = 'none' | 'nospace' | 'corrupt';
export type AlarmAction = 'get' | 'activate' | 'deactivate';

export interface AlarmMember {
  readonly memberId: number;
  readonly alarm: AlarmType;
}

export interface MemberStatus {
  readonly dbSizeBytes: number;
  readonly dbSizeInUseBytes: number;
  /** 0 when there is no leader. */
  readonly leader: number;
  readonly raftIndex: number;
  readonly raftTerm: number;
  readonly raftAppliedIndex: number;
  /** Alarm and health texts, e.g. "memberID:... alarm:NOSPACE". */
  readonly errors: readonly string[];
  readonly isLearner: boolean;
  readonly dbSizeQuotaBytes: number;
}

export interface HashKVResult {
  readonly hash: number;
  readonly compactRevision: number;
  readonly hashRevision: number;
}

export interface SnapshotStream {
  /** The store revision the snapshot captures (sent in the first header). */
  readonly revision: number;
  /** Total size of `chunks` in bytes (for remaining_bytes). */
  readonly sizeBytes: number;
  /** The snapshot bytes, in bounded chunks; the server adds etcd's trailing sha256. */
  readonly chunks: AsyncIterable<Uint8Array>;
}

/** The identity part of every response header. */
export interface HeaderInfo {
  readonly clusterId: number;
  readonly memberId: number;
  /** Current raft term. */
  readonly raftTerm: number;
  /** Current store revision (for answers that do not produce one). */
  readonly revision: number;
}

// ---------- the interface ----------

export interface MemberBackend {
  // KV. Writes go through raft (forwarded to the leader by a follower).
  /** linearizable: wait for ReadIndex first; otherwise serve from the local store at once. */
  range(req: RangeRequest, opts: { readonly linearizable: boolean }): Promise<Revisioned<RangeResult>>;
  put(req: PutRequest): Promise<Revisioned<PutResult>>;
  deleteRange(req: DeleteRangeRequest): Promise<Revisioned<DeleteRangeResult>>;
  /**
   * readOnly: neither branch writes, so the backend may serve it like a range (ReadIndex when
   * linearizable, then local) instead of proposing it. Otherwise it goes through raft.
   */
  txn(req: TxnRequest, opts: { readonly readOnly: boolean; readonly linearizable: boolean }): Promise<Revisioned<TxnResult>>;
  /** physical: resolve only once the local store has dropped the compacted revisions. */
  compact(revision: number, physical: boolean): Promise<Revisioned<void>>;

  // Watch: served from the local store.
  openWatchStream(sink: WatchSink): WatchStream;

  // Lease.
  /** id 0: the backend chooses an id. */
  leaseGrant(ttlSeconds: number, id: number): Promise<Revisioned<LeaseGrantResult>>;
  leaseRevoke(id: number): Promise<Revisioned<void>>;
  /** Renews on the leader (forwarded by a follower). Resolves the new TTL; 0 when the lease does not exist. */
  leaseKeepAlive(id: number): Promise<Revisioned<number>>;
  leaseTimeToLive(id: number, keys: boolean): Promise<Revisioned<LeaseTimeToLiveResult>>;
  leaseLeases(): Promise<Revisioned<readonly number[]>>;

  // Cluster.
  memberAdd(peerUrls: readonly string[], isLearner: boolean): Promise<MemberAddResult>;
  memberRemove(id: number): Promise<readonly Member[]>;
  memberUpdate(id: number, peerUrls: readonly string[]): Promise<readonly Member[]>;
  memberList(linearizable: boolean): Promise<readonly Member[]>;
  memberPromote(id: number): Promise<readonly Member[]>;

  // Maintenance.
  status(): Promise<MemberStatus>;
  alarm(action: AlarmAction, memberId: number, alarm: AlarmType): Promise<readonly AlarmMember[]>;
  defragment(): Promise<void>;
  hash(): Promise<number>;
  hashKV(revision: number): Promise<Revisioned<HashKVResult>>;
  snapshot(): Promise<SnapshotStream>;
  /** Only the leader can move leadership; a follower throws BackendError('notLeader'). */
  moveLeader(targetId: number): Promise<void>;

  // State, synchronous and cheap (called on every request).
  header(): HeaderInfo;
  hasLeader(): boolean;
  isLearner(): boolean;
}

// ---------- typed errors ----------

/**
 * The expected failures a backend reports. errors.ts maps each to etcd's gRPC code and text.
 * A backend may throw BackendError, or any Error whose `code` property is one of these.
 */
export type BackendErrorCode =
  | 'compacted' // etcdserver: mvcc: required revision has been compacted
  | 'futureRev' // etcdserver: mvcc: required revision is a future revision
  | 'noLeader' // etcdserver: no leader
  | 'notLeader' // etcdserver: not leader
  | 'leaderChanged' // etcdserver: leader changed
  | 'timeout' // etcdserver: request timed out
  | 'timeoutDueToLeaderFail' // etcdserver: request timed out, possibly due to previous leader failure
  | 'stopped' // etcdserver: server stopped
  | 'tooManyRequests' // etcdserver: too many requests
  | 'noSpace' // etcdserver: mvcc: database space exceeded
  | 'leaseNotFound' // etcdserver: requested lease not found
  | 'leaseExist' // etcdserver: lease already exists
  | 'leaseTtlTooLarge' // etcdserver: too large lease TTL
  | 'keyNotFound' // etcdserver: key not found (ignore_value/ignore_lease on a missing key)
  | 'memberNotFound' // etcdserver: member not found
  | 'memberExist' // etcdserver: member ID already exist
  | 'peerUrlExist' // etcdserver: Peer URLs already exists
  | 'memberNotLearner' // etcdserver: can only promote a learner member
  | 'learnerNotReady' // etcdserver: can only promote a learner member which is in sync with leader
  | 'tooManyLearners' // etcdserver: too many learner members in cluster
  | 'unhealthyCluster' // etcdserver: unhealthy cluster
  | 'badLeaderTransferee' // etcdserver: bad leader transferee
  | 'notSupportedForLearner' // etcdserver: rpc not supported for learner
  | 'corrupt'; // etcdserver: corrupt cluster

export class BackendError extends Error {
  constructor(
    readonly code: BackendErrorCode,
    message?: string,
    /** For 'compacted': the store's compact revision (a watch cancel reports it). */
    readonly compactRevision = 0,
  ) {
    super(message ?? code);
    this.name = 'BackendError';
  }
}
