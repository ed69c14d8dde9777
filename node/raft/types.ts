// The Raft wire and state types shared by the core, storage, transport and simulator.
// Shaped after raftpb, but our own. Terms and indexes are plain numbers (they never near 2^53);
// node ids are etcd's uint64 member ids, held exactly as bigints (Map keys compare them by value).

export type NodeId = bigint;

/** No leader / no vote. */
export const NONE: NodeId = 0n;

/** Ascending node id order, for sorts (bigints cannot be subtracted into a comparator's number). */
export function compareNodeIds(a: NodeId, b: NodeId): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export type EntryType = 'normal' | 'confChange';

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** For 'normal': the application command (empty on a leader's no-op). For 'confChange': encodeConfChange(). */
  readonly data: Uint8Array;
}

export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: NONE, commit: 0 });

export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  /** The state machine's serialized state at metadata.index. Opaque to raft. */
  readonly data: Uint8Array;
  readonly metadata: SnapshotMetadata;
}

export type ConfChangeType = 'addNode' | 'addLearnerNode' | 'removeNode' | 'updateNode';

/** A single-step membership change. addNode on an existing learner promotes it. */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  /** Opaque to raft; the member layer stores its member record here (name, peer URLs). */
  readonly context: Uint8Array;
}

export type MessageType =
  | 'hup' // local: start an election
  | 'beat' // local: leader sends heartbeats
  | 'prop' // proposal, local or forwarded from a follower
  | 'app'
  | 'appResp'
  | 'vote'
  | 'voteResp'
  | 'preVote'
  | 'preVoteResp'
  | 'snap'
  | 'heartbeat'
  | 'heartbeatResp'
  | 'unreachable' // local: transport reports a peer unreachable
  | 'snapStatus' // local: transport reports a snapshot send finished (reject = failed)
  | 'checkQuorum' // local
  | 'transferLeader' // local or forwarded
  | 'timeoutNow'
  | 'readIndex'
  | 'readIndexResp';

/**
 * One Raft message. Flat like raftpb so the transport can encode it without a switch;
 * fields a type does not use are 0, false or empty.
 */
export interface Message {
  type: MessageType;
  to: NodeId;
  from: NodeId;
  term: number;
  /** app: term of the entry before `entries`; vote: candidate's last log term. */
  logTerm: number;
  /** app: index of the entry before `entries`; appResp: highest matched (or rejected) index. */
  index: number;
  entries: Entry[];
  commit: number;
  snapshot?: Snapshot;
  reject: boolean;
  /** appResp on reject: the follower's hint for fast backtracking. */
  rejectHint: number;
  /** readIndex request context, heartbeat context, or a campaign-transfer marker. */
  context?: Uint8Array;
  /** transferLeader: the node that should take leadership. */
  transferee?: NodeId;
  /**
   * app without entries: the leader wants no appResp if the follower accepts it. Set only on the
   * commit broadcast to a follower that already holds every entry (Raft.bcastCommit).
   */
  noAck?: true;
}

export type StateRole = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export interface SoftState {
  readonly lead: NodeId;
  readonly raftState: StateRole;
}

/** A ReadIndex confirmation: reads with this context may be served once applied >= index. */
export interface ReadState {
  readonly index: number;
  readonly requestCtx: Uint8Array;
}

/**
 * What the application must do next, in order: persist hardState, entries and snapshot
 * (fsync when mustSync), then send messages, then apply snapshot and committedEntries,
 * then call advance().
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly readStates: readonly ReadState[];
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly mustSync: boolean;
}

/** Read-only view of persisted state, implemented by the application (and MemoryStorage). */
export interface RaftStorage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at least one entry if any, capped at maxBytes. Throws CompactedError / UnavailableError. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of entry i; valid for firstIndex()-1 .. lastIndex(). */
  term(i: number): number;
  lastIndex(): number;
  firstIndex(): number;
  snapshot(): Snapshot;
}

/** Seeded randomness passed in from outside; raft never reads a clock or Math.random. */
export interface Rng {
  /** Uniform integer in [0, n). */
  intn(n: number): number;
}

export class CompactedError extends Error {
  readonly code = 'ErrCompacted';
  constructor() {
    super('requested index is unavailable due to compaction');
  }
}

export class UnavailableError extends Error {
  readonly code = 'ErrUnavailable';
  constructor() {
    super('requested entry at index is unavailable');
  }
}

export class SnapOutOfDateError extends Error {
  readonly code = 'ErrSnapOutOfDate';
  constructor() {
    super('requested index is older than the existing snapshot');
  }
}

export class ProposalDroppedError extends Error {
  readonly code = 'ErrProposalDropped';
  constructor(why: string) {
    super(`raft proposal dropped: ${why}`);
  }
}

/** Optional structured logger; raft never prints on its own. */
export interface RaftLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export const SILENT_RAFT_LOGGER: RaftLogger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
});

export type ProgressStateType = 'probe' | 'replicate' | 'snapshot';

/** A leader's view of one peer, as reported by RawNode.status(). */
export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressStateType;
  readonly isLearner: boolean;
  readonly recentActive: boolean;
  readonly pendingSnapshot: number;
  readonly inflightMsgs: number;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly hardState: HardState;
  readonly softState: SoftState;
  readonly lead: NodeId;
  readonly applied: number;
  readonly confState: ConfState;
  readonly leadTransferee: NodeId;
  /** Only on the leader. */
  readonly progress?: ReadonlyMap<NodeId, ProgressStatus>;
}

/** A broken invariant inside raft: the process must stop. */
export class RaftAssertionError extends Error {
  readonly code = 'ErrRaftAssertion';
  constructor(msg: string) {
    super(`raft: ${msg}`);
  }
}

/** step() was handed a message type that only the local node may produce. */
export class StepLocalMessageError extends Error {
  readonly code = 'ErrStepLocalMsg';
  constructor(type: MessageType) {
    super(`raft: cannot step raft local message ${type}`);
  }
}
