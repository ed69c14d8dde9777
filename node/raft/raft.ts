// The Raft state machine: one step function per role, after etcd-io/raft's raft.go but
// written for this codebase. Pure: time arrives as tick(), randomness from cfg.rng, and all
// output is queued in msgs / readStates for RawNode to hand out in a Ready.
import {
  CompactedError,
  NONE,
  ProposalDroppedError,
  RaftAssertionError,
  SILENT_RAFT_LOGGER,
  UnavailableError,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type MessageType,
  type NodeId,
  type RaftLogger,
  type RaftStorage,
  type ReadState,
  type Rng,
  type Snapshot,
  type SoftState,
  type StateRole,
} from './types.js';
import { NO_LIMIT, RaftLog } from './raft-log.js';
import { ProgressTracker } from './tracker.js';
import type { Progress } from './progress.js';
import { ReadOnly } from './read-only.js';
import { decodeConfChange } from './conf-change.js';
import { payloadSizeBytes } from './entry-size.js';
import { newEntry } from './entry.js';
import { newMessage } from './message.js';

export interface RaftCoreConfig {
  id: NodeId;
  electionTick: number;
  heartbeatTick: number;
  storage: RaftStorage;
  /**
   * Last applied index on restart: raft will not hand out entries at or below it, and it
   * replays the conf changes between the storage snapshot and it by itself.
   */
  applied?: number;
  /** Bytes of entries per append message (at least one entry is always sent). */
  maxSizePerMsg?: number;
  /**
   * A follower in snapshot state that keeps answering heartbeats this many times without
   * the snapshot resolving (no appResp, no reportSnapshot) is probed again, so a snapshot
   * lost in transit is resent. Default 30 * electionTick; 0 disables (then the transport
   * must always call reportSnapshot). Set it above the longest snapshot transfer, in heartbeats.
   */
  snapshotRetryHeartbeats?: number;
  maxCommittedSizePerReady?: number;
  maxInflightMsgs?: number;
  maxInflightBytes?: number;
  maxUncommittedEntriesSize?: number;
  checkQuorum?: boolean;
  preVote?: boolean;
  rng: Rng;
  logger?: RaftLogger;
}

/** Marks a vote request sent because of a leadership transfer: it overrides the leader lease. */
/** The voter that campaigns when the leader leaves the configuration: every member picks the same one. */
function heirOf(voters: readonly NodeId[]): NodeId {
  let heir: NodeId = NONE;
  for (const id of voters) if (heir === NONE || id < heir) heir = id;
  return heir;
}

export const CAMPAIGN_TRANSFER = new Uint8Array([0x43, 0x61, 0x6d, 0x70, 0x61, 0x69, 0x67, 0x6e, 0x54, 0x72, 0x61, 0x6e, 0x73, 0x66, 0x65, 0x72]); // "CampaignTransfer"

export type CampaignType = 'preElection' | 'election' | 'transfer';

/** Pending read-index requests a fresh leader holds until it commits an entry of its term. */
const MAX_PENDING_READ_INDEX_MSGS = 4096;

const EMPTY_DATA = new Uint8Array(0);

function isCampaignTransfer(ctx: Uint8Array | undefined): boolean {
  if (ctx === undefined || ctx.byteLength !== CAMPAIGN_TRANSFER.byteLength) return false;
  for (let i = 0; i < ctx.byteLength; i++) if (ctx[i] !== CAMPAIGN_TRANSFER[i]) return false;
  return true;
}

export function voteRespType(t: MessageType): MessageType {
  switch (t) {
    case 'vote':
      return 'voteResp';
    case 'preVote':
      return 'preVoteResp';
    default:
      throw new RaftAssertionError(`not a vote message: ${t}`);
  }
}

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  readStates: ReadState[] = [];
  readonly raftLog: RaftLog;
  readonly maxMsgSizeBytes: number;
  readonly maxUncommittedSizeBytes: number;
  readonly trk: ProgressTracker;
  state: StateRole = 'follower';
  isLearner = false;
  msgs: Message[] = [];
  lead: NodeId = NONE;
  /** The transfer target while a leadership transfer is in progress. */
  leadTransferee: NodeId = NONE;
  /** Index of the latest conf change proposed by this leader; a new one waits until applied passes it. */
  pendingConfIndex = 0;
  uncommittedSizeBytes = 0;
  readOnly = new ReadOnly();
  electionElapsed = 0;
  heartbeatElapsed = 0;
  /**
   * Set on the heir when our leader left the configuration: campaign on the next tick, as if the
   * leader's timeoutNow had come (it often does not: the heir cuts the removed leader off first).
   */
  private heirCampaignDue = false;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  readonly snapshotRetryHeartbeats: number;
  randomizedElectionTimeout = 0;
  private readonly rng: Rng;
  readonly logger: RaftLogger;
  private pendingReadIndexMessages: Message[] = [];
  private bcastPending = false;

  constructor(c: RaftCoreConfig) {
    if (c.id === NONE) throw new RangeError('cannot use none as id');
    if (c.heartbeatTick <= 0) throw new RangeError('heartbeat tick must be greater than 0');
    if (c.electionTick <= c.heartbeatTick) throw new RangeError('election tick must be greater than heartbeat tick');
    this.id = c.id;
    this.raftLog = new RaftLog(c.storage, c.maxCommittedSizePerReady ?? NO_LIMIT);
    this.maxMsgSizeBytes = c.maxSizePerMsg ?? 1024 * 1024;
    this.maxUncommittedSizeBytes = c.maxUncommittedEntriesSize ?? 0;
    this.trk = new ProgressTracker(c.maxInflightMsgs ?? 256, c.maxInflightBytes ?? 0);
    this.checkQuorum = c.checkQuorum ?? true;
    this.preVote = c.preVote ?? true;
    this.heartbeatTimeout = c.heartbeatTick;
    this.electionTimeout = c.electionTick;
    this.snapshotRetryHeartbeats = c.snapshotRetryHeartbeats ?? 30 * c.electionTick;
    this.rng = c.rng;
    this.logger = c.logger ?? SILENT_RAFT_LOGGER;

    const { hardState, confState } = c.storage.initialState();
    this.trk.reset(confState, this.raftLog.lastIndex());
    this.isLearner = this.trk.progress.get(this.id)?.isLearner ?? false;
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) {
      this.raftLog.appliedTo(c.applied);
      this.replayConfChanges(c.storage, c.applied);
    }
    this.becomeFollower(this.term, NONE);
    this.logger.info('raft node started', {
      id: this.id,
      term: this.term,
      commit: this.raftLog.committed,
      applied: this.raftLog.applied,
      lastIndex: this.raftLog.lastIndex(),
      lastTerm: this.raftLog.lastTerm(),
      voters: confState.voters,
      learners: confState.learners,
    });
  }

  /**
   * On restart with applied > snapshot index, the membership in the storage's snapshot is
   * older than what the application has applied: replay the conf changes in
   * (snapshot index, applied] so the tracker matches (raft will not hand those entries out
   * again).
   */
  private replayConfChanges(storage: RaftStorage, applied: number): void {
    const from = storage.firstIndex();
    if (applied < from) return;
    const ents = this.raftLog.slice(from, applied + 1, NO_LIMIT);
    for (const e of ents) {
      if (e.type === 'confChange') this.trk.applyChange(decodeConfChange(e.data), this.raftLog.lastIndex());
    }
    this.isLearner = this.trk.progress.get(this.id)?.isLearner ?? false;
  }

  // ---- state accessors ---------------------------------------------------------------

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  confState(): ConfState {
    return this.trk.confState();
  }

  private loadState(hs: HardState): void {
    // A persisted snapshot implies its index is committed, even if the hard state written
    // with it was lost: never start below it.
    if (hs.commit > this.raftLog.lastIndex()) {
      throw new RaftAssertionError(
        `${this.id} state.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
      );
    }
    this.raftLog.committed = Math.max(hs.commit, this.raftLog.committed);
    this.term = hs.term;
    this.vote = hs.vote;
  }

  /** Can this node campaign? Only voters of its own conf state, not restoring a snapshot. */
  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasPendingSnapshot();
  }

  // ---- sending -------------------------------------------------------------------------

  private send(m: Message): void {
    m.from = this.id;
    if (m.type === 'vote' || m.type === 'voteResp' || m.type === 'preVote' || m.type === 'preVoteResp') {
      if (m.term === 0) throw new RaftAssertionError(`term should be set when sending ${m.type}`);
    } else {
      if (m.term !== 0) throw new RaftAssertionError(`term should not be set when sending ${m.type} (was ${m.term})`);
      // Forwarded proposals and read requests travel without a term, like local messages.
      if (m.type !== 'prop' && m.type !== 'readIndex') m.term = this.term;
    }
    this.msgs.push(m);
  }

  sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends an append (or a snapshot) to `to` if flow control allows. With sendIfEmpty false,
   * nothing is sent when there are no new entries; with noAckIfEmpty, an entry-less one asks for
   * no answer (bcastCommit). Returns whether a message was sent.
   */
  maybeSendAppend(to: NodeId, sendIfEmpty: boolean, noAckIfEmpty = false): boolean {
    const pr = this.trk.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.termOrUndefined(prevIndex);
    let ents: Entry[] | undefined;
    if (prevTerm !== undefined) {
      try {
        // With full inflights (in replicate) send only an empty append: it still gets an
        // answer, which clears inflights if every message that filled them was lost.
        ents = pr.state === 'replicate' && pr.inflights.full() ? [] : this.raftLog.entries(pr.next, this.maxMsgSizeBytes);
      } catch (err: unknown) {
        if (!(err instanceof CompactedError || err instanceof UnavailableError)) throw err;
        ents = undefined;
      }
    }
    if (prevTerm === undefined || ents === undefined) return this.maybeSendSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    const m = newMessage('app', to, this.id);
    m.index = prevIndex;
    m.logTerm = prevTerm;
    m.entries = ents;
    m.commit = this.raftLog.committed;
    if (noAckIfEmpty && ents.length === 0) m.noAck = true;
    this.send(m);
    const n = ents.length;
    pr.sentEntries(n, n > 0 ? (ents[n - 1] as Entry).index : 0, n > 0 ? payloadSizeBytes(ents) : 0);
    return true;
  }

  private maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) {
      this.logger.debug('ignore sending snapshot as the peer is not recently active', { id: this.id, to });
      return false;
    }
    const snapshot: Snapshot = this.raftLog.snapshot();
    const m = newMessage('snap', to, this.id);
    m.snapshot = snapshot;
    this.send(m);
    pr.becomeSnapshot(snapshot.metadata.index);
    this.logger.debug('sent snapshot', { id: this.id, to, index: snapshot.metadata.index, term: snapshot.metadata.term });
    return true;
  }

  private sendHeartbeat(to: NodeId, ctx: Uint8Array | undefined): void {
    const pr = this.trk.progress.get(to);
    if (pr === undefined) return;
    // Never tell a follower to commit past what it is known to hold.
    const m = newMessage('heartbeat', to, this.id);
    m.commit = Math.min(pr.match, this.raftLog.committed);
    if (ctx !== undefined) m.context = ctx;
    this.send(m);
  }

  /** Sends every follower what it lacks: one append at least, more while its pipeline has room. */
  bcastAppend(): void {
    for (const id of this.trk.ids) if (id !== this.id) this.sendAppendAndFill(id);
  }

  /** One append at least, more while the pipeline (replicate state) has room and entries are new. */
  private sendAppendAndFill(to: NodeId): void {
    this.sendAppend(to);
    while (this.maybeSendAppend(to, false)) {
      // keep filling until flow control pauses it
    }
  }

  /**
   * Tells every follower the new commit index. A follower that holds every entry (in replicate,
   * pipeline open, nothing new to send) gets an entry-less append marked noAck: its answer would
   * only repeat an index it has already acknowledged, or is about to for entries in flight. That
   * saves a message and a wake-up per follower per commit. A lost earlier answer is recovered as
   * before: the next heartbeat answer finds match behind and sends an append that is answered.
   */
  private bcastCommit(): void {
    const last = this.raftLog.lastIndex();
    for (const id of this.trk.ids) {
      if (id === this.id) continue;
      const pr = this.trk.progress.get(id);
      if (pr !== undefined && pr.state === 'replicate' && !pr.isPaused() && pr.next > last) this.maybeSendAppend(id, true, true);
      else this.sendAppendAndFill(id);
    }
  }

  private bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.lastPendingRequestCtx());
  }

  private bcastHeartbeatWithCtx(ctx: Uint8Array | undefined): void {
    for (const id of this.trk.ids) if (id !== this.id) this.sendHeartbeat(id, ctx);
  }

  /** Commits what a majority has matched (current-term entries only). */
  maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.trk.committed(), this.term);
  }

  // ---- role changes --------------------------------------------------------------------

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.heirCampaignDue = false;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      pr.becomeProbe();
      pr.match = 0;
      pr.next = last + 1;
      pr.recentActive = false;
      // The leader counts itself only for what the application has persisted.
      if (id === this.id) pr.match = this.raftLog.lastStableIndex();
    }
    this.pendingConfIndex = 0;
    this.uncommittedSizeBytes = 0;
    this.readOnly = new ReadOnly();
    this.pendingReadIndexMessages = [];
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + this.rng.intn(this.electionTimeout);
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.state = 'follower';
    this.logger.debug('became follower', { id: this.id, term: this.term, lead });
  }

  becomeCandidate(): void {
    if (this.state === 'leader') throw new RaftAssertionError('invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = 'candidate';
    this.logger.info('became candidate', { id: this.id, term: this.term });
  }

  becomePreCandidate(): void {
    if (this.state === 'leader') throw new RaftAssertionError('invalid transition [leader -> pre-candidate]');
    // Pre-candidacy changes neither term nor vote.
    this.trk.resetVotes();
    this.lead = NONE;
    this.state = 'preCandidate';
    this.logger.info('became pre-candidate', { id: this.id, term: this.term });
  }

  becomeLeader(): void {
    if (this.state === 'follower') throw new RaftAssertionError('invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.state = 'leader';
    const self = this.trk.progress.get(this.id);
    if (self !== undefined) self.becomeReplicate();
    // Conservatively treat any unapplied tail as possibly holding a conf change.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // The leader is always active to itself; peers must answer within an election timeout.
    if (self !== undefined) self.recentActive = true;
    const empty = newEntry(this.term, this.raftLog.lastIndex() + 1, 'normal', EMPTY_DATA);
    if (!this.appendEntries([empty])) throw new RaftAssertionError('empty entry was dropped');
    this.logger.info('became leader', { id: this.id, term: this.term });
  }

  // ---- elections -----------------------------------------------------------------------

  private hup(t: CampaignType): void {
    if (this.state === 'leader') {
      this.logger.debug('ignoring hup: already leader', { id: this.id });
      return;
    }
    if (!this.promotable()) {
      this.logger.warn('is unpromotable and can not campaign', { id: this.id });
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      this.logger.warn('cannot campaign: pending configuration changes to apply', { id: this.id, term: this.term });
      return;
    }
    this.logger.info('starting a new election', { id: this.id, term: this.term, type: t });
    this.campaign(t);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.raftLog.applied >= this.raftLog.committed) return false;
    const lo = Math.max(this.raftLog.applied + 1, this.raftLog.firstIndex());
    const ents = this.raftLog.slice(lo, this.raftLog.committed + 1, NO_LIMIT);
    for (const e of ents) if (e.type === 'confChange') return true;
    return false;
  }

  campaign(t: CampaignType): void {
    if (!this.promotable()) {
      this.logger.warn('is unpromotable; campaign() should not have been called', { id: this.id });
    }
    let term: number;
    let voteMsg: MessageType;
    if (t === 'preElection') {
      this.becomePreCandidate();
      voteMsg = 'preVote';
      term = this.term + 1; // the term we would campaign in
    } else {
      this.becomeCandidate();
      voteMsg = 'vote';
      term = this.term;
    }
    if (this.poll(this.id, voteRespType(voteMsg), true) === 'won') {
      // A single-voter cluster wins at once.
      if (t === 'preElection') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.raftLog.lastIndex();
    const lastTerm = this.raftLog.lastTerm();
    for (const id of this.trk.voters) {
      if (id === this.id) continue;
      const m = newMessage(voteMsg, id, this.id);
      m.term = term;
      m.index = lastIndex;
      m.logTerm = lastTerm;
      if (t === 'transfer') m.context = CAMPAIGN_TRANSFER;
      this.send(m);
    }
  }

  private poll(id: NodeId, t: MessageType, granted: boolean): 'pending' | 'lost' | 'won' {
    this.logger.debug(granted ? 'received vote' : 'received rejection', { id: this.id, from: id, type: t, term: this.term });
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes().result;
  }

  // ---- the step function ---------------------------------------------------------------

  step(m: Message): void {
    if (m.term === 0) {
      // local message (or a forwarded proposal / read request)
    } else if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const force = isCampaignTransfer(m.context);
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          // Leader lease: we heard from a live leader within the minimum election timeout,
          // so this candidate cannot win yet; do not let it disturb us.
          this.logger.debug('ignored vote request in lease', { id: this.id, from: m.from, term: m.term, type: m.type });
          return;
        }
      }
      if (m.type === 'preVote') {
        // Never change term on a pre-vote.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // The term in a granted pre-vote answer is the one we will campaign in.
      } else {
        this.logger.debug('received a message with higher term', { id: this.id, from: m.from, term: m.term, type: m.type });
        if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') this.becomeFollower(m.term, m.from);
        else this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A stale leader (perhaps after a partition healed): tell it our term so it steps
        // down. With check-quorum or pre-vote it would otherwise never learn, because we
        // (and our peers) ignore its old term and it cannot disrupt us.
        this.send(newMessage('appResp', m.from, this.id));
      } else if (m.type === 'preVote') {
        const r = newMessage('preVoteResp', m.from, this.id);
        r.term = this.term;
        r.reject = true;
        this.send(r);
      } else {
        this.logger.debug('ignored a message with lower term', { id: this.id, from: m.from, term: m.term, type: m.type });
      }
      return;
    }

    switch (m.type) {
      case 'hup':
        this.hup(this.preVote ? 'preElection' : 'election');
        return;
      case 'vote':
      case 'preVote': {
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === 'preVote' && m.term > this.term);
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          const r = newMessage(voteRespType(m.type), m.from, this.id);
          // Answer with the request's term: for a pre-vote our own term may be lower.
          r.term = m.term;
          this.send(r);
          if (m.type === 'vote') {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          const r = newMessage(voteRespType(m.type), m.from, this.id);
          r.term = this.term;
          r.reject = true;
          this.send(r);
        }
        return;
      }
      default:
        break;
    }
    switch (this.state) {
      case 'leader':
        this.stepLeader(m);
        return;
      case 'candidate':
      case 'preCandidate':
        this.stepCandidate(m);
        return;
      case 'follower':
        this.stepFollower(m);
        return;
    }
  }

  /**
   * Where a proposal made here would be forwarded: a follower's leader. Undefined without a
   * leader, or when not a follower (a candidate drops proposals, a leader appends them).
   */
  forwardTarget(): NodeId | undefined {
    return this.state === 'follower' && this.lead !== NONE ? this.lead : undefined;
  }

  private dropProposal(m: Message, why: string): void {
    this.logger.debug('dropped proposal', { id: this.id, why, from: m.from });
    if (m.from === this.id) throw new ProposalDroppedError(why);
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'beat':
        this.bcastHeartbeat();
        return;
      case 'checkQuorum':
        if (!this.trk.quorumActive(this.id)) {
          this.logger.warn('stepped down to follower since quorum is not active', { id: this.id, term: this.term });
          this.becomeFollower(this.term, NONE);
        }
        for (const [id, pr] of this.trk.progress) if (id !== this.id) pr.recentActive = false;
        return;
      case 'prop':
        this.stepLeaderProp(m);
        return;
      case 'readIndex':
        this.handleReadIndex(m);
        return;
      case 'transferLeader':
        this.handleTransferLeader(m.transferee ?? NONE);
        return;
      default:
        break;
    }

    const pr = this.trk.progress.get(m.from);
    if (pr === undefined) {
      this.logger.debug('no progress available', { id: this.id, from: m.from });
      return;
    }
    switch (m.type) {
      case 'appResp':
        pr.recentActive = true;
        if (m.reject) this.handleAppendRejection(m, pr);
        else this.handleAppendAck(m, pr);
        return;
      case 'heartbeatResp': {
        pr.recentActive = true;
        pr.msgAppFlowPaused = false;
        if (pr.state === 'snapshot' && this.snapshotRetryHeartbeats > 0 && ++pr.snapshotWaitHeartbeats >= this.snapshotRetryHeartbeats) {
          // The follower is alive but the snapshot never resolved (lost without a
          // reportSnapshot): treat it as failed and probe again, which resends it if needed.
          this.logger.info('snapshot not acknowledged in time; probing again', { id: this.id, to: m.from, pendingSnapshot: pr.pendingSnapshot });
          pr.pendingSnapshot = 0;
          pr.becomeProbe();
        }
        if (pr.match < this.raftLog.lastIndex() || pr.state === 'probe') this.sendAppend(m.from);
        if (m.context === undefined || m.context.byteLength === 0) return;
        const acks = this.readOnly.recvAck(m.from, m.context);
        if (acks === undefined) return;
        let n = 0;
        for (const id of this.trk.voters) if (id === this.id || acks.has(id)) n++;
        if (n < Math.floor(this.trk.voters.length / 2) + 1) return;
        for (const rs of this.readOnly.advance(m.context)) this.respondReadIndex(rs.req, rs.index);
        return;
      }
      case 'snapStatus':
        if (pr.state !== 'snapshot') return;
        if (m.reject) {
          pr.pendingSnapshot = 0;
          this.logger.debug('snapshot failed, resumed sending replication messages', { id: this.id, to: m.from });
        }
        pr.becomeProbe();
        // Wait for a heartbeat response before probing, so a failed snapshot is not resent at once.
        pr.msgAppFlowPaused = true;
        return;
      case 'unreachable':
        if (pr.state === 'replicate') pr.becomeProbe();
        return;
      default:
        return;
    }
  }

  /** Starts moving leadership to transferee (the target rides in a transferLeader message's transferee). */
  private handleTransferLeader(transferee: NodeId): void {
    const pr = this.trk.progress.get(transferee);
    if (pr === undefined) {
      this.logger.debug('ignored transferring leadership to an unknown node', { id: this.id, to: transferee });
      return;
    }
    if (pr.isLearner) {
      this.logger.debug('ignored transferring leadership to a learner', { id: this.id, to: transferee });
      return;
    }
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return;
      this.abortLeaderTransfer();
    }
    if (transferee === this.id) return;
    this.electionElapsed = 0; // the transfer must finish within one election timeout
    this.leadTransferee = transferee;
    this.logger.info('starts to transfer leadership', { id: this.id, to: transferee });
    if (pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(transferee);
    else this.sendAppend(transferee);
  }

  private stepLeaderProp(m: Message): void {
    if (m.entries.length === 0) throw new RaftAssertionError('stepped empty MsgProp');
    if (!this.trk.progress.has(this.id)) {
      this.dropProposal(m, 'this node was removed from the configuration');
      return;
    }
    if (this.leadTransferee !== NONE) {
      this.dropProposal(m, 'a leadership transfer is in progress');
      return;
    }
    let ents = m.entries;
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i] as Entry;
      if (e.type !== 'confChange') continue;
      if (this.pendingConfIndex > this.raftLog.applied) {
        if (m.from === this.id) throw new ProposalDroppedError('a configuration change is already pending');
        // Forwarded: keep the slot but make it a no-op.
        if (ents === m.entries) ents = ents.slice();
        ents[i] = newEntry(e.term, e.index, 'normal', EMPTY_DATA);
        this.logger.info('ignored a conf change while another is pending', { id: this.id });
      } else {
        this.pendingConfIndex = this.raftLog.lastIndex() + i + 1;
      }
    }
    const li = this.raftLog.lastIndex();
    const stamped: Entry[] = new Array<Entry>(ents.length);
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i] as Entry;
      stamped[i] = newEntry(this.term, li + 1 + i, e.type, e.data);
    }
    if (!this.appendEntries(stamped)) {
      this.dropProposal(m, 'too many uncommitted entries');
      return;
    }
    // Broadcast lazily, when the application next asks for a Ready: proposals made in
    // between then share one append per follower instead of one each.
    this.bcastPending = true;
  }

  /** Sends the appends owed for proposals since the last Ready (see stepLeaderProp). */
  flushPendingBcast(): void {
    if (!this.bcastPending) return;
    this.bcastPending = false;
    if (this.state !== 'leader') return;
    // Only what is new: a follower that already got these entries (say, pipelined after an
    // ack in the meantime) gets no empty append.
    for (const id of this.trk.ids) {
      if (id === this.id) continue;
      while (this.maybeSendAppend(id, false)) {
        // fill the pipeline
      }
    }
  }

  private handleAppendRejection(m: Message, pr: Progress): void {
    this.logger.debug('received append rejection', { id: this.id, from: m.from, index: m.index, hint: m.rejectHint, logTerm: m.logTerm });
    if (m.index === 0) {
      // Nobody can disagree about index 0, so this is a member that joined with no
      // membership (empty conf state): it needs a snapshot to learn the configuration.
      if (pr.state !== 'snapshot') this.maybeSendSnapshot(m.from, pr);
      return;
    }
    let nextProbeIdx = m.rejectHint;
    if (m.logTerm > 0) {
      // Skip every index whose term is above the follower's term at the hint: they all
      // mismatch. One round trip per term instead of one per entry.
      nextProbeIdx = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm)[0];
    }
    if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      this.sendAppend(m.from);
    }
  }

  private handleAppendAck(m: Message, pr: Progress): void {
    const oldPaused = pr.isPaused();
    let moved = false;
    if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === 'probe')) {
      moved = true;
      switch (pr.state) {
        case 'probe':
          pr.becomeReplicate();
          break;
        case 'snapshot':
          if (pr.match + 1 >= this.raftLog.firstIndex()) {
            pr.becomeProbe();
            pr.becomeReplicate();
          }
          break;
        case 'replicate':
          pr.inflights.freeLE(m.index);
          break;
      }
    } else if (pr.state === 'snapshot' && m.index >= pr.pendingSnapshot && pr.match + 1 >= this.raftLog.firstIndex()) {
      // The follower reports it is at (or past) the snapshot we sent (e.g. the index-0
      // bootstrap snapshot for a joining member): resume probing from there.
      pr.becomeProbe();
      this.sendAppend(m.from);
      return;
    }
    if (!moved) return;
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastCommit();
    } else if (oldPaused) {
      this.sendAppend(m.from);
    }
    // Pipeline: keep sending while flow control allows and there is something new.
    while (this.maybeSendAppend(m.from, false)) {
      // loop
    }
    if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
      this.logger.info('sent timeoutNow after the transferee caught up', { id: this.id, to: m.from });
      this.sendTimeoutNow(m.from);
    }
  }

  private stepCandidate(m: Message): void {
    const myVoteRespType: MessageType = this.state === 'preCandidate' ? 'preVoteResp' : 'voteResp';
    switch (m.type) {
      case 'prop':
        this.dropProposal(m, 'no leader');
        return;
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'preVoteResp':
      case 'voteResp': {
        if (m.type !== myVoteRespType) return;
        const res = this.poll(m.from, m.type, !m.reject);
        if (res === 'won') {
          if (this.state === 'preCandidate') this.campaign('election');
          else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (res === 'lost') {
          // pre-vote answers carry a higher term only when granted; a lost pre-vote keeps ours.
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      case 'timeoutNow':
        this.logger.debug('ignored timeoutNow as a candidate', { id: this.id, from: m.from });
        return;
      case 'readIndex':
        this.logger.debug('dropped read index: no leader', { id: this.id });
        return;
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'prop': {
        const to = this.forwardTarget();
        if (to === undefined) {
          this.dropProposal(m, 'no leader');
          return;
        }
        const f = newMessage('prop', to, this.id);
        f.entries = m.entries;
        this.send(f);
        return;
      }
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'transferLeader': {
        if (this.lead === NONE) {
          this.logger.info('no leader; dropping leader transfer', { id: this.id });
          return;
        }
        const f = newMessage('transferLeader', this.lead, this.id);
        if (m.transferee !== undefined) f.transferee = m.transferee;
        this.send(f);
        return;
      }
      case 'timeoutNow':
        this.logger.info('received timeoutNow; campaigning to take leadership', { id: this.id, from: m.from, term: this.term });
        // Leadership transfers never use pre-vote: the leader asked us to campaign.
        this.hup('transfer');
        return;
      case 'readIndex': {
        if (this.lead === NONE) {
          this.logger.info('no leader; dropping read index', { id: this.id });
          return;
        }
        const f = newMessage('readIndex', this.lead, this.id);
        if (m.context !== undefined) f.context = m.context;
        this.send(f);
        return;
      }
      case 'readIndexResp':
        if (m.entries.length > 0) throw new RaftAssertionError('invalid format of readIndexResp');
        this.readStates.push({ index: m.index, requestCtx: m.context ?? EMPTY_DATA });
        return;
      default:
        return;
    }
  }

  // ---- follower handlers ---------------------------------------------------------------

  private handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      const r = newMessage('appResp', m.from, this.id);
      r.index = this.raftLog.committed;
      this.send(r);
      return;
    }
    if (this.raftLog.lastIndex() === 0 && this.trk.progress.size === 0) {
      // A joining member with no log and no membership: whatever the probe, answer with a
      // rejection at index 0, which asks for a snapshot (see handleAppendRejection).
      const r = newMessage('appResp', m.from, this.id);
      r.reject = true;
      this.send(r);
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      if (m.noAck && m.entries.length === 0) return;
      const r = newMessage('appResp', m.from, this.id);
      r.index = lastNew;
      this.send(r);
      return;
    }
    // Reject, with a hint: the largest index <= m.index whose term is <= m.logTerm. The
    // leader can skip everything above it.
    const hintIndex = Math.min(m.index, this.raftLog.lastIndex());
    const [hi, ht] = this.raftLog.findConflictByTerm(hintIndex, m.logTerm);
    this.logger.debug('rejected append', { id: this.id, from: m.from, index: m.index, logTerm: m.logTerm, hintIndex: hi, hintTerm: ht });
    const r = newMessage('appResp', m.from, this.id);
    r.index = m.index;
    r.reject = true;
    r.rejectHint = hi;
    r.logTerm = ht;
    this.send(r);
  }

  private handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    const r = newMessage('heartbeatResp', m.from, this.id);
    if (m.context !== undefined) r.context = m.context;
    this.send(r);
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (s === undefined) throw new RaftAssertionError('snap message without a snapshot');
    const r = newMessage('appResp', m.from, this.id);
    if (this.restore(s)) {
      this.logger.info('restored snapshot', { id: this.id, index: s.metadata.index, term: s.metadata.term });
      r.index = this.raftLog.lastIndex();
    } else {
      this.logger.info('ignored snapshot', { id: this.id, index: s.metadata.index, term: s.metadata.term });
      r.index = this.raftLog.committed;
    }
    this.send(r);
  }

  /** Adopts snapshot s if it is newer than what we have committed. */
  restore(s: Snapshot): boolean {
    const idx = s.metadata.index;
    const joining =
      idx === 0 &&
      this.raftLog.committed === 0 &&
      this.trk.progress.size === 0 &&
      s.metadata.confState.voters.length > 0;
    if (!joining) {
      if (idx <= this.raftLog.committed) return false;
      if (this.state !== 'follower') {
        // Defense in depth: only followers restore.
        this.becomeFollower(this.term + 1, NONE);
        return false;
      }
      if (this.raftLog.matchTerm(idx, s.metadata.term)) {
        // We already have the entry: just fast-forward the commit index.
        this.raftLog.commitTo(idx);
        return false;
      }
    }
    this.raftLog.restore(s);
    this.trk.reset(s.metadata.confState, this.raftLog.lastIndex());
    this.isLearner = this.trk.progress.get(this.id)?.isLearner ?? false;
    return true;
  }

  // ---- leader helpers ------------------------------------------------------------------

  appendEntries(es: Entry[]): boolean {
    if (!this.increaseUncommittedSize(es)) {
      this.logger.debug('appending new entries would exceed the uncommitted size limit; dropping', { id: this.id });
      return false;
    }
    // Our own copy counts toward a commit only once persisted (see onPersisted), so the
    // application may send these appends before its own fsync finishes.
    this.raftLog.append(es);
    return true;
  }

  private increaseUncommittedSize(es: readonly Entry[]): boolean {
    if (this.maxUncommittedSizeBytes <= 0) return true;
    const s = payloadSizeBytes(es);
    if (this.uncommittedSizeBytes > 0 && s > 0 && this.uncommittedSizeBytes + s > this.maxUncommittedSizeBytes) return false;
    this.uncommittedSizeBytes += s;
    return true;
  }

  reduceUncommittedSize(ents: readonly Entry[]): void {
    if (this.uncommittedSizeBytes === 0) return;
    const s = payloadSizeBytes(ents);
    this.uncommittedSizeBytes = s > this.uncommittedSizeBytes ? 0 : this.uncommittedSizeBytes - s;
  }

  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.termOrUndefined(this.raftLog.committed) === this.term;
  }

  private handleReadIndex(m: Message): void {
    if (!this.committedEntryInCurrentTerm()) {
      // A fresh leader does not know the true commit index yet (entries of earlier terms
      // may be committed without it knowing): hold the read until an entry of its own term
      // commits. This holds for a single voter too, whose persisted commit index may lag
      // what it had applied and acknowledged before a restart.
      if (this.pendingReadIndexMessages.length < MAX_PENDING_READ_INDEX_MSGS) this.pendingReadIndexMessages.push(m);
      else this.logger.debug('dropped read index: too many reads waiting for the first commit', { id: this.id });
      return;
    }
    if (this.trk.isSingleton()) {
      this.respondReadIndex(m, this.raftLog.committed);
      return;
    }
    this.sendReadIndexConfirmation(m);
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.handleReadIndex(m);
  }

  private sendReadIndexConfirmation(m: Message): void {
    if (!this.readOnly.addRequest(this.raftLog.committed, m)) {
      this.logger.debug('dropped read index: duplicate context or too many pending reads', { id: this.id });
      return;
    }
    // Count our own ack, then confirm leadership with a heartbeat round carrying the context.
    this.readOnly.recvAck(this.id, m.context);
    this.bcastHeartbeatWithCtx(m.context);
  }

  private respondReadIndex(req: Message, index: number): void {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index, requestCtx: req.context ?? EMPTY_DATA });
      return;
    }
    const r = newMessage('readIndexResp', req.from, this.id);
    r.index = index;
    if (req.context !== undefined) r.context = req.context;
    this.send(r);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send(newMessage('timeoutNow', to, this.id));
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  /**
   * The application has durably stored entries up to (index, term). On a leader this is
   * where its own copy starts to count toward the commit.
   */
  onPersisted(index: number, term: number): void {
    this.raftLog.stableTo(index, term);
    if (this.state !== 'leader') return;
    const self = this.trk.progress.get(this.id);
    if (self === undefined || this.raftLog.termOrUndefined(index) !== term) return;
    if (self.maybeUpdate(Math.min(index, this.raftLog.lastStableIndex())) && this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    }
  }

  // ---- ticks ---------------------------------------------------------------------------

  tick(): void {
    if (this.state === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    // After the conf change that removed our leader is applied (raft refuses to campaign before).
    if (this.heirCampaignDue && this.state === 'follower' && this.lead === NONE && !this.hasUnappliedConfChanges()) {
      this.heirCampaignDue = false;
      this.logger.info('campaigning as heir of the leader that left', { id: this.id, term: this.term });
      this.hup('transfer');
      return;
    }
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(newMessage('hup', this.id, this.id));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(newMessage('checkQuorum', this.id, this.id));
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.state === 'leader' && this.leadTransferee !== NONE) {
        this.logger.info('abandoned leadership transfer: not finished within an election timeout', { id: this.id, to: this.leadTransferee });
        this.abortLeaderTransfer();
      }
    }
    if (this.state !== 'leader') return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(newMessage('beat', this.id, this.id));
    }
  }

  // ---- membership ----------------------------------------------------------------------

  /** Applies a committed conf change (the app calls this when it applies the entry). */
  applyConfChange(cc: ConfChange): ConfState {
    if (!this.trk.applyChange(cc, this.raftLog.lastIndex())) {
      this.logger.warn('ignored a conf change that would leave no voter', { id: this.id, type: cc.type, node: cc.nodeId });
      return this.trk.confState();
    }
    const self = this.trk.progress.get(this.id);
    this.isLearner = self !== undefined && self.isLearner;
    if ((self === undefined || this.isLearner) && this.state === 'leader') {
      // Removed or demoted: step down. The voters' heir campaigns once it applies this change
      // (below); if it is caught up, tell it now, which may save it a tick. Never another
      // voter: two campaigns in one term split the vote.
      const heir = heirOf(this.trk.voters);
      if (heir !== NONE && (this.trk.progress.get(heir) as Progress).match === this.raftLog.lastIndex()) this.sendTimeoutNow(heir);
      this.logger.info('stepping down: removed from the configuration', { id: this.id, term: this.term, heir });
      this.becomeFollower(this.term, NONE);
      return this.trk.confState();
    }
    // Only a change of our current leader itself: a member applying old entries (catching up,
    // or new and replaying the log) must not take a past leader's removal for its leader's.
    if (this.state !== 'leader' && cc.nodeId === this.lead && !this.trk.isVoter(this.lead)) {
      // Our leader left the configuration (it steps down as it applies this). Forget it, so
      // proposals wait for the next leader instead of going to a member that is leaving, and let
      // one voter, the same one on every member, campaign at once.
      this.logger.info('our leader left the configuration', { id: this.id, term: this.term, lead: this.lead });
      this.lead = NONE;
      this.heirCampaignDue = this.promotable() && heirOf(this.trk.voters) === this.id;
    }
    if (this.state !== 'leader' || this.trk.voters.length === 0) return this.trk.confState();
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else {
      for (const id of this.trk.ids) if (id !== this.id) this.maybeSendAppend(id, false);
    }
    if (this.leadTransferee !== NONE && !this.trk.isVoter(this.leadTransferee)) this.abortLeaderTransfer();
    return this.trk.confState();
  }

  /** Decodes and applies a confChange entry's payload. */
  applyConfChangeEntry(e: Entry): ConfState {
    return this.applyConfChange(decodeConfChange(e.data));
  }
}
