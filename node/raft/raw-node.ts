// RawNode: the application's handle on the pure Raft core.
//
// The contract (classic, after etcd-io/raft's rawnode.go and doc.go):
//   loop {
//     tick() every heartbeat interval / step() each received message / propose() ...
//     if (hasReady()) {
//       const rd = ready();
//       1. persist rd.snapshot (if any), rd.entries and rd.hardState; fsync when rd.mustSync
//       2. then send rd.messages (a 'snap' message: report the outcome with reportSnapshot)
//       3. then apply rd.snapshot and rd.committedEntries in order; for a 'confChange'
//          entry call applyConfChange(decodeConfChange(e.data)); serve rd.readStates once
//          applied >= their index
//       4. advance()
//     }
//   }
// Persist before send, send before apply. ready() must be followed by advance() before the
// next ready(). Committed entries may include entries that are in the same Ready's `entries`
// (on a follower): they are persisted in step 1 before being applied in step 3.
//
// The leader counts its own log toward a commit only after advance() reports the entries
// persisted (or, with advance({ persistedLater: true }), after persisted() does: a leader may
// then take further Readies while its write is in flight; see ready(holdEntries)). So a
// leader's app, heartbeat and snap messages MAY be sent before its own fsync finishes (Raft
// thesis 10.2.1: the leader writes to disk in parallel with replication);
// every other message (appResp, vote answers, ...) must wait for step 1, because it
// promises that what it acknowledges is durable.
//
// Bootstrap: a brand-new cluster member starts from
//   new MemoryStorage({ data: <empty>, metadata: { index: 0, term: 0,
//                      confState: { voters: initialPeers, learners: [] } } })
// i.e. the initial membership lives in a snapshot at index 0. A member joining an existing
// cluster starts with an empty conf state (new MemoryStorage()) and learns the membership
// from the leader: since index 0 cannot carry membership in the log, it answers any append
// with a rejection at index 0 and the leader sends its current snapshot (which may be the
// index-0 bootstrap snapshot). A node never campaigns while it is not a voter in its own
// conf state.
import {
  NONE,
  RaftAssertionError,
  StepLocalMessageError,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type MessageType,
  type NodeId,
  type ProgressStatus,
  type RaftStatus,
  type Ready,
  type SoftState,
} from './types.js';
import { Raft, type RaftCoreConfig } from './raft.js';
import { newMessage } from './message.js';
import { encodeConfChange } from './conf-change.js';
import { newEntry } from './entry.js';

/** Entries for proposed payloads (raft gives them a term and index when the leader appends them). */
function normalEntries(datas: readonly Uint8Array[]): Entry[] {
  const ents: Entry[] = new Array<Entry>(datas.length);
  for (let i = 0; i < datas.length; i++) ents[i] = newEntry(0, 0, 'normal', datas[i] as Uint8Array);
  return ents;
}

export type RaftConfig = RaftCoreConfig;


function isLocalMsg(t: MessageType): boolean {
  return t === 'hup' || t === 'beat' || t === 'unreachable' || t === 'snapStatus' || t === 'checkQuorum';
}

function isResponseMsg(t: MessageType): boolean {
  return t === 'appResp' || t === 'voteResp' || t === 'heartbeatResp' || t === 'unreachable' || t === 'preVoteResp';
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export class RawNode {
  private readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  private pending: Ready | undefined = undefined;

  constructor(cfg: RaftConfig) {
    this.raft = new Raft(cfg);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = cfg.storage.initialState().hardState;
  }

  /** Advances the logical clock by one tick (the app calls it every heartbeat-interval / heartbeatTick). */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (pre-vote first when enabled). */
  campaign(): void {
    this.raft.step(newMessage('hup', this.raft.id, this.raft.id));
  }

  /** A message from a peer. Local message types are refused; answers from non-members are ignored. */
  step(m: Message): void {
    if (isLocalMsg(m.type)) throw new StepLocalMessageError(m.type);
    if (isResponseMsg(m.type) && !this.raft.trk.progress.has(m.from)) return;
    this.raft.step(m);
  }

  /** Proposes data to be appended. Throws ProposalDroppedError when it cannot be (no leader, transfer, limits). */
  propose(data: Uint8Array): void {
    this.proposeEntries([newEntry(0, 0, 'normal', data)]);
  }

  /** Proposes many commands as one batch (one append, one message per peer). */
  proposeBatch(datas: readonly Uint8Array[]): void {
    if (datas.length === 0) return;
    this.proposeEntries(normalEntries(datas));
  }

  /**
   * For a follower that knows its leader: the 'prop' message that forwards `datas` to it, handed
   * back now instead of in the next Ready, for the caller to send. Raft's state is not touched:
   * a follower only forwards proposals. Undefined otherwise (propose them as usual).
   */
  forwardProposals(datas: readonly Uint8Array[]): Message | undefined {
    const to = this.raft.forwardTarget();
    if (to === undefined || datas.length === 0) return undefined;
    const m = newMessage('prop', to, this.raft.id);
    m.entries = normalEntries(datas);
    return m;
  }

  /** Proposes a single-step membership change. Only one may be pending at a time. */
  proposeConfChange(cc: ConfChange): void {
    this.proposeEntries([newEntry(0, 0, 'confChange', encodeConfChange(cc))]);
  }

  private proposeEntries(ents: Entry[]): void {
    const m = newMessage('prop', this.raft.id, this.raft.id);
    m.entries = ents;
    this.raft.step(m);
  }

  /** Applies a committed conf change; returns the new membership. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /** Requests a linearizable read point; the answer arrives in a later Ready's readStates with the same ctx. */
  readIndex(ctx: Uint8Array): void {
    if (ctx.byteLength === 0) throw new RangeError('readIndex needs a non-empty, unique context');
    const m = newMessage('readIndex', this.raft.id, this.raft.id);
    m.context = ctx;
    this.raft.step(m);
  }

  /** Asks the leader (this node or, forwarded, the current one) to hand leadership to `to`. */
  transferLeader(to: NodeId): void {
    const m = newMessage('transferLeader', this.raft.id, this.raft.id);
    m.transferee = to;
    this.raft.step(m);
  }

  /** The transport could not reach id: stop pipelining to it until it answers again. */
  reportUnreachable(id: NodeId): void {
    this.raft.step(newMessage('unreachable', this.raft.id, id));
  }

  /** The outcome of sending a 'snap' message to id. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    const m = newMessage('snapStatus', this.raft.id, id);
    m.reject = !ok;
    this.raft.step(m);
  }

  /**
   * The hard state a Ready persists. Its commit never names an entry not handed to storage: the
   * followers alone may commit an entry the leader still holds back, and a commit index above
   * the log written before it would not load after a crash. `handedOut`: as for nextEnts.
   */
  private hardStateToSave(handedOut: boolean): HardState {
    const hs = this.raft.hardState();
    const max = this.raft.raftLog.maxAppliableIndex(handedOut);
    return hs.commit > max ? { term: hs.term, vote: hs.vote, commit: max } : hs;
  }

  /** Whether ready(holdEntries) holds anything back: only a leader does (see ready()). */
  private holds(holdEntries: boolean): boolean {
    return holdEntries && this.raft.state === 'leader';
  }

  /** `holdEntries`: as for ready(). */
  hasReady(holdEntries = false): boolean {
    const r = this.raft;
    const hold = this.holds(holdEntries);
    r.flushPendingBcast();
    if (r.lead !== this.prevSoftState.lead || r.state !== this.prevSoftState.raftState) return true;
    const hs = this.hardStateToSave(!hold);
    if (!sameHardState(hs, this.prevHardState)) return true;
    if (r.raftLog.hasPendingSnapshot()) return true;
    if (r.msgs.length > 0 || (!hold && r.raftLog.hasEntriesToSave()) || r.raftLog.hasNextEnts(!hold)) return true;
    return r.readStates.length > 0;
  }

  /**
   * `holdEntries`: a leader's new entries stay out of this Ready (they wait for a later one, to
   * share its write). Ignored unless this node leads: a follower's messages may acknowledge its
   * new entries, which must therefore be in the Ready whose write those messages wait for.
   */
  ready(holdEntries = false): Ready {
    if (this.pending !== undefined) throw new RaftAssertionError('ready() called again before advance()');
    const r = this.raft;
    r.flushPendingBcast();
    const entries = this.holds(holdEntries) ? [] : r.raftLog.entriesToSave();
    if (entries.length > 0) r.raftLog.acceptInProgress();
    // Only entries handed out (now or before): a held entry the followers alone committed waits
    // until a Ready carries it to storage.
    const committedEntries = r.raftLog.nextEnts(false);
    const soft = r.softState();
    const hs = this.hardStateToSave(false);
    const softChanged = soft.lead !== this.prevSoftState.lead || soft.raftState !== this.prevSoftState.raftState;
    const hardChanged = !sameHardState(hs, this.prevHardState);
    const snapshot = r.raftLog.unstable.snapshot;
    // Built field by field (no spreads): ready() runs once per loop turn on the hot path. Every
    // field is present, the absent ones as undefined, so every Ready has one hidden class: with
    // softState, hardState and snapshot added only when set, the ready loop's optimized code was
    // thrown away at the first Ready of a combination it had not met (raft/message.ts says more).
    const rd: Ready = {
      softState: softChanged ? soft : undefined,
      hardState: hardChanged ? hs : undefined,
      readStates: r.readStates,
      entries,
      snapshot,
      committedEntries,
      messages: r.msgs,
      mustSync: entries.length > 0 || snapshot !== undefined || hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote,
    };
    r.msgs = [];
    r.readStates = [];
    this.pending = rd;
    return rd;
  }

  /**
   * Tells raft the last Ready has been persisted, sent and applied. `persistedLater`: its
   * entries are not durable yet; the application calls persisted() with the last one once they
   * are (in write order). Until then the leader does not count them toward a commit.
   */
  advance(opts?: { readonly persistedLater?: boolean }): void {
    const rd = this.pending;
    if (rd === undefined) throw new RaftAssertionError('advance() without a pending ready()');
    this.pending = undefined;
    const r = this.raft;
    if (rd.softState !== undefined) this.prevSoftState = rd.softState;
    if (rd.hardState !== undefined) this.prevHardState = rd.hardState;
    if (rd.snapshot !== undefined) {
      r.raftLog.stableSnapTo(rd.snapshot.metadata.index);
      if (rd.snapshot.metadata.index > r.raftLog.applied) r.raftLog.applied = rd.snapshot.metadata.index;
    }
    const n = rd.committedEntries.length;
    if (n > 0) {
      r.raftLog.appliedTo((rd.committedEntries[n - 1] as Entry).index);
      if (r.state === 'leader') r.reduceUncommittedSize(rd.committedEntries);
    }
    const m = rd.entries.length;
    if (m > 0 && opts?.persistedLater !== true) {
      const last = rd.entries[m - 1] as Entry;
      r.onPersisted(last.index, last.term);
    }
  }

  /** The entries up to (index, term) that an advance({ persistedLater: true }) left are durable. */
  persisted(index: number, term: number): void {
    this.raft.onPersisted(index, term);
  }

  status(): RaftStatus {
    const r = this.raft;
    let progress: Map<NodeId, ProgressStatus> | undefined;
    if (r.state === 'leader') {
      progress = new Map();
      for (const [id, pr] of r.trk.progress) progress.set(id, pr.toStatus());
    }
    return {
      id: r.id,
      hardState: r.hardState(),
      softState: r.softState(),
      lead: r.lead,
      applied: r.raftLog.applied,
      confState: r.confState(),
      leadTransferee: r.leadTransferee,
      ...(progress !== undefined ? { progress } : {}),
    };
  }

  /** The underlying state machine, for tests and diagnostics only. */
  get raftForTesting(): Raft {
    return this.raft;
  }
}

