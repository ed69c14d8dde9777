// The narrow interface node/server needs from the member runtime (ARCHITECTURE.md: small I/O
// interfaces, defined by their user). node/runtime implements it over raft + mvcc; unit tests
// implement it over mvcc alone. Everything is promise-based.
//
// KV, lease, alarm, hash and watch traffic uses node/mvcc's request/response types unchanged
// (etcd's messages in camelCase, numeric enums), so the runtime passes the store's answers
// straight through. The store fills header.revision; the server fills clusterId, memberId and
// raftTerm from header() (a backend may fill them too; the server overwrites them).
//
// Errors: expected failures are thrown as MvccError (node/mvcc/errors.ts: carries grpcCode and
// grpcMessage) or as BackendError below (raft/cluster conditions). errors.ts maps both to
// etcd's exact gRPC codes and messages.
//
// Numbers: revisions and TTLs are plain JS numbers. Lease ids (int64), member and cluster ids
// (uint64) are bigints, exact at all 64 bits (proto-load.ts decodes them so from the wire).

import type { LeaseKeys } from '../mvcc/auth-gate.js';
import type { AuthCommand, AuthInfo, AuthReply, AuthStore } from '../mvcc/auth-store.js';
import type * as mvcc from '../mvcc/types.js';

export type { AuthInfo };

/** The member's auth: the replicated store (read it, never change it) and the token table. */
export interface AuthBackend {
  /** For the checks etcd's server makes before a local read, and AuthStatus-free peeks. */
  readonly store: Pick<AuthStore, 'enabled' | 'revision' | 'checkRange' | 'checkAdmin' | 'user'>;
  readonly leaseKeys: LeaseKeys;
  /** The credentials a simple token stands for now; undefined when unknown or expired. */
  tokenInfo(token: string): AuthInfo | undefined;
  /** Proposes an auth request; every member applies it. Rejects with AuthError. */
  request(cmd: AuthCommand, ai: AuthInfo | undefined): Promise<AuthReply>;
  /**
   * Resolves once this member has applied everything committed before the call (ReadIndex):
   * etcd's Authenticate waits so before it checks a password, so a user just added (or a
   * password just changed) through another member counts here too.
   */
  barrier(): Promise<void>;
}

// ---------- cluster ----------

export interface Member {
  /** etcd's uint64 member id. */
  readonly id: bigint;
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

/** etcd's DowngradeInfo: the cluster's downgrade state, replicated through Raft. */
export interface DowngradeInfo {
  readonly enabled: boolean;
  /** "major.minor.0" while enabled; empty otherwise. */
  readonly targetVersion: string;
}

export interface MemberStatus {
  readonly dbSizeBytes: number;
  readonly dbSizeInUseBytes: number;
  /** 0n when there is no leader. */
  readonly leader: bigint;
  readonly raftIndex: number;
  readonly raftTerm: number;
  readonly raftAppliedIndex: number;
  /** Alarm and health texts, e.g. "memberID:8e9e05c52164694d alarm:NOSPACE ". */
  readonly errors: readonly string[];
  readonly isLearner: boolean;
  readonly dbSizeQuotaBytes: number;
}

export interface SnapshotStream {
  /** The store revision the snapshot captures (sent in the first header). */
  readonly revision: number;
  /** Total size of `chunks` in bytes (for remaining_bytes). */
  readonly sizeBytes: number;
  /** The snapshot bytes, in bounded chunks; the server adds etcd's trailing sha256. */
  readonly chunks: AsyncIterable<Uint8Array>;
  /**
   * Bytes free in each chunk's memory just before it (its ArrayBuffer), which the server may
   * overwrite with its message header so the chunk goes out without a copy; none when absent.
   */
  readonly headroom?: number;
}

/** The identity part of every response header, and the current revision for answers that have none. */
export interface HeaderInfo {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  /** Current raft term. */
  readonly raftTerm: number;
  /** Current store revision. */
  readonly revision: number;
}

// ---------- the interface ----------

/**
 * One gRPC watch stream's view of the watch hub (node/mvcc/watch-hub.ts: the runtime maps
 * these one to one onto hub.openStream/createWatch/cancelWatch/requestProgress/resume/closeStream).
 */
export interface WatchStream {
  /**
   * Starts a watcher (watchId 0: the hub picks the next free id on this stream). The hub then
   * emits through the sink, in order: `created`; past events from startRevision (if <= the
   * current revision); live events. A compacted startRevision gives `created` then `canceled`
   * with compactRevision set; a refused request (empty range, duplicate id) gives one response
   * with watchId -1, created and canceled, and cancelReason.
   */
  create(req: mvcc.WatchCreateRequest): void;
  /** Cancels a watcher; the hub emits its `canceled` response. Unknown ids are ignored. */
  cancel(watchId: number): void;
  /**
   * Asks for one progress report: once every watcher on this stream has caught up, the hub
   * emits a response with watchId -1 and no events whose header.revision is that progress.
   */
  requestProgress(): void;
  /** The sink drained after returning false: the hub flushes what it held and catches up. */
  resume(): void;
  /** Drops every watcher of this stream; nothing is emitted after this returns. */
  close(): void;
}

/**
 * Receives every response of one watch stream, in order. Returns false when its send buffer is
 * full: the hub then holds further responses (bounded) until WatchStream.resume(). Never throws.
 */
export type WatchSink = (resp: mvcc.WatchResponse) => boolean;

export interface MemberBackend {
  // ----- KV. Writes go through raft (a follower forwards them to the leader). -----
  /** linearizable: confirm with ReadIndex first; otherwise serve from the local store at once. */
  range(req: mvcc.RangeRequest, opts: { readonly linearizable: boolean }): Promise<mvcc.RangeResponse>;
  // `as`: the credentials the server checked; the write is checked again at apply (auth on).
  put(req: mvcc.PutRequest, as?: AuthInfo): Promise<mvcc.PutResponse>;
  deleteRange(req: mvcc.DeleteRangeRequest, as?: AuthInfo): Promise<mvcc.DeleteRangeResponse>;
  /**
   * readOnly: no branch writes, so the backend may serve it like a linearizable range
   * (ReadIndex, then local) instead of proposing it. Otherwise it goes through raft.
   */
  txn(req: mvcc.TxnRequest, opts: { readonly readOnly: boolean }, as?: AuthInfo): Promise<mvcc.TxnResponse>;
  /** physical: resolve only once the local store has dropped the compacted revisions. */
  compact(req: mvcc.CompactionRequest, as?: AuthInfo): Promise<mvcc.CompactionResponse>;

  // ----- Watch: served from the local store. -----
  openWatchStream(sink: WatchSink): WatchStream;

  // ----- Lease -----
  leaseGrant(req: mvcc.LeaseGrantRequest, as?: AuthInfo): Promise<mvcc.LeaseGrantResponse>;
  leaseRevoke(req: mvcc.LeaseRevokeRequest, as?: AuthInfo): Promise<mvcc.LeaseRevokeResponse>;
  /** Renews on the leader (a follower forwards). TTL 0 in the answer: the lease does not exist. */
  leaseKeepAlive(req: mvcc.LeaseKeepAliveRequest): Promise<mvcc.LeaseKeepAliveResponse>;
  /** TTL -1 in the answer: the lease does not exist. */
  leaseTimeToLive(req: mvcc.LeaseTimeToLiveRequest): Promise<mvcc.LeaseTimeToLiveResponse>;
  leaseLeases(): Promise<mvcc.LeaseLeasesResponse>;

  // ----- Cluster -----
  memberAdd(peerUrls: readonly string[], isLearner: boolean): Promise<MemberAddResult>;
  memberRemove(id: bigint): Promise<readonly Member[]>;
  memberUpdate(id: bigint, peerUrls: readonly string[]): Promise<readonly Member[]>;
  memberList(linearizable: boolean): Promise<readonly Member[]>;
  memberPromote(id: bigint): Promise<readonly Member[]>;

  // ----- Maintenance -----
  status(): Promise<MemberStatus>;
  alarm(req: mvcc.AlarmRequest): Promise<mvcc.AlarmResponse>;
  defragment(): Promise<void>;
  hash(): Promise<mvcc.HashResponse>;
  hashKV(revision: number): Promise<mvcc.HashKVResponse>;
  snapshot(): Promise<SnapshotStream>;
  /** Only the leader can move leadership; a follower throws BackendError('notLeader'). */
  moveLeader(targetId: bigint): Promise<void>;
  /** The downgrade state this member has applied (cheap, local). */
  downgradeInfo(): DowngradeInfo;
  /** Sets the downgrade state through Raft; resolves once this member has applied it. */
  setDowngrade(info: DowngradeInfo): Promise<void>;
  /** Resolves once this member has applied everything committed before the call (ReadIndex). */
  linearizableBarrier(): Promise<void>;

  // ----- Auth -----
  readonly auth: AuthBackend;

  // ----- State: synchronous and cheap (read on every request) -----
  header(): HeaderInfo;
  hasLeader(): boolean;
  isLearner(): boolean;
  /** The alarms this member has applied (no ReadIndex: health checks must answer without quorum). */
  activeAlarms(): readonly mvcc.AlarmMember[];
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
  | 'memberNotFound' // etcdserver: member not found
  | 'memberExist' // etcdserver: member ID already exist
  | 'peerUrlExist' // etcdserver: Peer URLs already exists
  | 'memberNotLearner' // etcdserver: can only promote a learner member
  | 'learnerNotReady' // etcdserver: can only promote a learner member which is in sync with leader
  | 'tooManyLearners' // etcdserver: too many learner members in cluster
  | 'unhealthyCluster' // etcdserver: unhealthy cluster
  | 'badLeaderTransferee' // etcdserver: bad leader transferee
  | 'notSupportedForLearner' // etcdserver: rpc not supported for learner
  | 'memberBadUrls' // etcdserver: given member URLs are invalid
  | 'memberNotEnoughStarted' // etcdserver: re-configuration failed due to not enough started members
  | 'notCapable' // etcdserver: not capable
  | 'timeoutDueToConnectionLost' // etcdserver: request timed out, possibly due to connection lost
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
