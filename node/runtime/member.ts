// The member runtime: ties raft, storage, transport and the state machine together, and
// implements the server's MemberBackend.
//
// Two loops, both on the one event loop, neither holding it long:
// 1. The Ready loop (processReady). Per Ready, in raft's order:
//      - the leader sends its messages first (etcd does this too: raft counts the leader's
//        own log toward a commit only after advance(), i.e. after its write), except in a
//        Ready that changes its term or vote (a single voter's election): those wait;
//      - persist: snapshot (storage.saveSnapshot), then entries + hard state with ONE
//        storage.save (one fdatasync: group commit; proposals that arrive meanwhile wait for
//        the next Ready and share its fsync);
//      - followers send their messages after persisting (they must not ack before that);
//      - committed entries and snapshots go to the apply queue; then advance().
//    Proposals queued by clients are handed to raft at the start of each turn, so one turn
//    turns many client requests into one entry batch, one fsync and one append per peer.
// 2. The apply loop (drainApply). Applies queued entries in order, in slices of at most
//    APPLY_SLICE_MS, yielding to the event loop between slices (setImmediate), so a burst
//    of commits never delays a heartbeat by more than a slice. Applying resolves the
//    proposer's waiter (by proposer id + request id), feeds the watch hub (the store does),
//    and serves linearizable reads whose read index has been reached. Like etcd, raft is
//    advanced before the application catches up, except that a Ready whose committed entries
//    hold a conf change waits (before advance) until the apply loop has called
//    applyConfChange for it (etcd's waitApply): raft's applied index must never run ahead of
//    its membership. A 'snap' message waits for that too (a restore would be undone by it).
//    Applying is total on bad input: a command the validator refuses gets an error answer, and
//    an entry that cannot be decoded is skipped alike on every member (entry-decode.ts). Only
//    a broken invariant (a throw from the store) stops the member.
// Timers: a tick every --heartbeat-interval; lease expiry/checkpoints on the leader; metrics;
// auto-compaction. Physical compaction runs in bounded steps between loop turns.

import { performance } from 'node:perf_hooks';
import { setImmediate as yieldImmediate } from 'node:timers/promises';
import {
  NONE,
  ProposalDroppedError,
  RawNode,
  SeededRng,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type ReadState,
  type Ready,
  type Snapshot,
  type SoftState,
  type StateRole,
  MemoryStorage,
} from '../raft/index.js';
import type { MemberStorage } from '../storage/types.js';
import type { Logger } from '../log.js';
import type { MemberMetrics } from '../server/metrics.js';
import type { RuntimeMetrics } from './metrics.js';
import { BackendError, type AuthBackend, type HeaderInfo, type Member as MemberInfo, type MemberAddResult, type MemberBackend, type MemberStatus, type DowngradeInfo, type SnapshotStream, type WatchSink, type WatchStream } from '../server/backend.js';
import type * as mvcc from '../mvcc/types.js';
import { encodeCommand } from '../mvcc/codec.js';
import { AlarmAction, AlarmType } from '../mvcc/types.js';
import type { Transport, TransportHandler } from '../transport/types.js';
import { RpcError } from '../transport/types.js';
import type { AuthCommand, AuthInfo, AuthReply } from '../mvcc/auth-store.js';
import { encodeAuthBody } from './auth-body.js';
import { encodeEnvelope, RequestIds, type EnvelopeKind } from './envelope.js';
import type { JwtOptions } from './jwt-tokens.js';
import { INTERNAL_ROOT, MemberAuth } from './member-auth.js';
import { decodeConfEntry, decodeNormalEntry, SkippedEntryError, type Skipped } from './entry-decode.js';
import { ApplyDurations, applyOpName, createApplyMetrics, type ApplyMetrics } from './apply-metrics.js';
import { HistogramTally } from '../server/counter-tally.js';
import { Membership, decodeConfContext, encodeConfContext, memberRecordFromJson, type MemberRecord, type MemberAttrs } from './membership.js';
import { memberIdOf, hexId, stringifyWithIds } from './ids.js';
import type { StateMachine } from './state-machine.js';
import { etcdSnapshotStream } from './etcd-snapshot-stream.js';
import { decodeStateSnapshot, encodeStateSnapshot, encodeStateSnapshotAsync } from './state-snapshot.js';

/** Follower messages that do not acknowledge persisted state and may leave before the fsync. */
const SEND_BEFORE_PERSIST: ReadonlySet<Message['type']> = new Set(['prop', 'readIndex', 'heartbeatResp', 'transferLeader']);
/** Client proposals handed to raft in one step. */
const MAX_PROPOSAL_BATCH = 1024;
const MAX_PROPOSAL_BATCH_BYTES = 4 * 1024 * 1024;
/** Longest stretch of applying before yielding to the event loop. */
const APPLY_SLICE_MS = 4;
/** Stop taking Ready while this many committed entries wait to be applied (back-pressure). */
const MAX_APPLY_BACKLOG = 50_000;
/** Pending client proposals allowed (etcd: maxGapBetweenApplyAndCommitIndex-like guard). */
const MAX_PENDING_PROPOSALS = 50_000;
/** Entries kept in raft's memory log behind a snapshot, for slow followers (etcd: 5000). */
const SNAPSHOT_CATCH_UP_ENTRIES = 5000;
/** etcd's warnApplyDuration. */
const SLOW_APPLY_MS = 100;
/** etcd's readyPercent: a learner is promotable once its match is this close to the leader's. */
const LEARNER_READY_PERCENT = 0.9;
const SNAPSHOT_CHUNK_BYTES = 1 << 20;
const COMPACT_STEP_REVISIONS = 2000;
const LEASE_CHECKPOINT_INTERVAL_MS = 5 * 60_000;

export interface MemberOptions {
  readonly id: NodeId;
  readonly clusterId: NodeId;
  readonly name: string;
  readonly clientUrls: readonly string[];
  readonly peerUrls: readonly string[];
  readonly clusterToken: string;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  readonly snapshotCount: number;
  /** Entries kept in raft's memory log behind a snapshot for slow followers (etcd: 5000). */
  readonly snapshotCatchUpEntries?: number;
  readonly maxLearners: number;
  readonly quotaBackendBytes: number;
  readonly autoCompaction?: { readonly mode: 'periodic' | 'revision'; readonly retentionMs: number; readonly retentionRevisions: number };
  /** etcd's --experimental-watch-progress-notify-interval; default 10 min. */
  readonly progressNotifyIntervalMs?: number;
  /** Request timeout; etcd: 5 s + 2 x election timeout. */
  readonly requestTimeoutMs?: number;
  readonly logger: Logger;
  readonly metrics?: MemberMetrics;
  readonly runtimeMetrics?: RuntimeMetrics;
  readonly storage: MemberStorage;
  /** Where the etcd-format snapshot for the Snapshot stream is written (default: the OS temp dir). */
  readonly snapshotTmpDir?: string;
  /** What storage recovered at open. */
  readonly recovered: { readonly snapshot?: Snapshot; readonly hardState: import('../raft/types.js').HardState; readonly entries: readonly Entry[] };
  /** Membership at index 0 for a member bootstrapped 'new' (ignored when a snapshot was recovered or when joining). */
  readonly initialMembers?: readonly MemberRecord[];
  /** Peers to connect to before membership is known (a member joining an existing cluster). */
  readonly peerHints?: ReadonlyArray<{ readonly id: NodeId; readonly peerUrls: readonly string[] }>;
  readonly stateMachine: StateMachine;
  readonly makeTransport: (handler: TransportHandler) => Transport;
  /** Seed for raft's election randomness. */
  readonly seed?: number;
  /** Called once when the member must stop on its own (removed from the cluster, disk failure). */
  readonly onFatal?: (reason: string, err?: unknown) => void;
  readonly nowMs?: () => number;
  /** --auth-token-ttl in ms (simple tokens; default 300 s). */
  readonly authTokenTtlMs?: number;
  /** --auth-token jwt,...: sign tokens as JWTs. */
  readonly authJwt?: JwtOptions;
}

interface Waiter {
  startedMs: number;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout;
  leaderAtPropose: NodeId;
}

/** seq: the storage write (save number) that must be durable before the item is applied. */
type ApplyItem = { kind: 'entry'; entry: Entry; seq: number } | { kind: 'snapshot'; snapshot: Snapshot; seq: number };


interface ReadBatch {
  ctx: string;
  waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }>;
  sentAtMs: number;
  retryTimer?: NodeJS.Timeout;
}

interface AppliedWaiter {
  index: number;
  resolve: () => void;
}

/** etcd's AlarmType name (pb.AlarmType.String()). */
function alarmName(t: number): string {
  return t === AlarmType.NOSPACE ? 'NOSPACE' : t === AlarmType.CORRUPT ? 'CORRUPT' : 'NONE';
}

export class Member implements MemberBackend, TransportHandler {
  readonly id: NodeId;
  readonly clusterId: NodeId;
  private readonly log: Logger;
  private readonly applyMetrics: ApplyMetrics | undefined;
  private readonly applyDurations: ApplyDurations | undefined;
  /** etcd_server_range_duration_seconds{success}: [false, true], tallied (Range is the hottest read path). */
  private readonly rangeDurations: readonly [HistogramTally<'success'>, HistogramTally<'success'>] | undefined;
  private readonly opts: MemberOptions;
  private readonly sm: StateMachine;
  private readonly storage: MemberStorage;
  private raftStorage!: MemoryStorage;
  private node!: RawNode;
  private transport!: Transport;
  private membership = new Membership();
  private readonly requestIds: RequestIds;
  private readonly nowMs: () => number;
  private readonly requestTimeoutMs: number;

  private started = false;
  private stopped = false;
  private fatal = false;

  // raft view
  private lead: NodeId = NONE;
  private role: StateRole = 'follower';
  private term = 0;
  private commitIndex = 0;
  private confState: ConfState = { voters: [], learners: [] };

  // Ready loop
  private loopRunning = false;
  private loopAgain = false;
  private loopScheduled = false;
  private proposals: Uint8Array[] = [];
  /** Storage writes issued / known durable (in call order; storage resolves them in order). */
  private saveSeq = 0;
  private durableSeq = 0;
  /** The last write that carried entries or a term/vote change (mustSync). */
  private lastSyncSeq = 0;
  private saveWaiters: Array<{ seq: number; resolve: () => void }> = [];
  /** A follower's messages wait until the Ready they came with is durable. */
  private pendingSends: Array<{ seq: number; msgs: readonly Message[] }> = [];
  private confProposals: ConfChange[] = [];
  private readonly waiters = new Map<number, Waiter>();

  // apply loop
  private applyQueue: ApplyItem[] = [];
  private applyHead = 0;
  private applying = false;
  private appliedIndex = 0;
  private snapshotIndex = 0;
  private snapshotInProgress = false;
  private appliedWaiters: AppliedWaiter[] = [];
  /**
   * The last conf change handed out by raft (in a Ready's committedEntries) that the apply loop
   * has not applied yet (0: none). The Ready loop waits for it before advance(), and 'snap'
   * messages wait for it too (see receive).
   */
  private confPendingIndex = 0;
  /** Term and vote of the last hard state handed to storage.save (or recovered). */
  private savedTerm = 0;
  private savedVote: NodeId = NONE;
  private confApplyWaiter: (() => void) | undefined;
  /** A 'snap' message held back until confPendingIndex is applied (the newest one only). */
  private deferredSnap: Message | undefined;

  // reads
  private readQueue: ReadBatch['waiters'] = [];
  private readInflight: ReadBatch | undefined;
  private readSeq = 0;

  // compaction
  private compactionRunning = false;
  private compactionWaiters: Array<() => void> = [];
  /** Peers whose connection was up at the last gauge update (etcd_network_disconnected_peers_total). */
  private activePeersSeen = new Set<NodeId>();
  /** The compaction revision the last measured physical compaction run finished (metrics). */
  private compactionMeasuredRev = 0;
  private compactedRevisionsCounted = 0;
  private autoCompactSamples: Array<{ atMs: number; rev: number }> = [];
  private lastAutoCompactRev = 0;

  private timers: NodeJS.Timeout[] = [];
  /** propose -> applied latencies since the last debug summary. */
  private proposalLatenciesMs: number[] = [];
  private attrsPublished = false;
  /** Auth entries' apply and the member-local token table. */
  private readonly memberAuth: MemberAuth;
  readonly auth: AuthBackend;

  constructor(opts: MemberOptions) {
    this.opts = opts;
    this.id = opts.id;
    this.clusterId = opts.clusterId;
    this.log = opts.logger;
    this.applyMetrics = opts.metrics ? createApplyMetrics(opts.metrics.registry) : undefined;
    this.applyDurations = opts.metrics ? new ApplyDurations(opts.metrics.applyDurationSeconds) : undefined;
    const rd = opts.runtimeMetrics?.rangeDurationSeconds;
    this.rangeDurations = rd ? [new HistogramTally(rd, { success: 'false' }), new HistogramTally(rd, { success: 'true' })] : undefined;
    this.sm = opts.stateMachine;
    this.storage = opts.storage;
    this.nowMs = opts.nowMs ?? (() => Date.now());
    this.requestIds = new RequestIds(this.nowMs());
    this.memberAuth = new MemberAuth(this.sm, this.nowMs, opts.authTokenTtlMs, opts.authJwt);
    this.auth = {
      store: this.sm.auth,
      leaseKeys: this.sm.leaseKeys,
      tokenInfo: (token) => this.memberAuth.tokenInfo(token),
      request: (cmd, ai) => this.authRequest(cmd, ai),
      barrier: () => this.linearizableBarrier(),
    };
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 5000 + 2 * opts.electionTimeoutMs;
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const rec = this.opts.recovered;
    let snap: Snapshot;
    if (rec.snapshot) {
      snap = rec.snapshot;
      this.restoreFromSnapshot(snap);
    } else if (this.opts.initialMembers && this.opts.initialMembers.length > 0) {
      this.membership = Membership.fromJSON({ members: this.opts.initialMembers.map((m) => ({ ...m, peerUrls: [...m.peerUrls], clientUrls: [...m.clientUrls] })), removed: [] });
      snap = this.bootstrapSnapshot();
    } else {
      snap = { data: new Uint8Array(0), metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } } };
    }
    this.raftStorage = new MemoryStorage(snap, rec.hardState, [...rec.entries]);
    this.appliedIndex = snap.metadata.index;
    this.snapshotIndex = snap.metadata.index;
    this.confState = snap.metadata.confState;
    this.term = rec.hardState.term;
    this.savedTerm = rec.hardState.term;
    this.savedVote = rec.hardState.vote;
    this.commitIndex = rec.hardState.commit;
    const electionTick = Math.max(2, Math.round(this.opts.electionTimeoutMs / this.opts.heartbeatIntervalMs));
    this.node = new RawNode({
      id: this.id,
      electionTick,
      heartbeatTick: 1,
      storage: this.raftStorage,
      applied: snap.metadata.index,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 512,
      maxCommittedSizePerReady: 8 * 1024 * 1024,
      checkQuorum: true,
      preVote: true,
      rng: new SeededRng(this.opts.seed ?? (Math.floor(Math.random() * 2 ** 31) ^ Number(this.id % 2n ** 31n))),
      logger: this.log.child('raft'),
    });
    this.transport = this.opts.makeTransport(this);
    for (const m of this.membership.records()) if (m.id !== this.id) this.transport.setPeer(m.id, m.peerUrls);
    if (this.membership.records().length === 0) {
      for (const p of this.opts.peerHints ?? []) if (p.id !== this.id && p.peerUrls.length > 0) this.transport.setPeer(p.id, p.peerUrls);
    }
    await this.transport.start();

    const m = this.opts.metrics;
    if (m) {
      m.serverId.set({ server_id: hexId(this.id) }, 1);
      m.quotaBackendBytes.set(this.opts.quotaBackendBytes);
      m.hasLeader.set(0);
      m.isLeader.set(0);
    }
    this.log.info('member starting', {
      id: hexId(this.id),
      cluster: hexId(this.clusterId),
      snapshotIndex: snap.metadata.index,
      term: rec.hardState.term,
      commit: rec.hardState.commit,
      logEntries: rec.entries.length,
      voters: snap.metadata.confState.voters.map(hexId),
    });

    this.every(this.opts.heartbeatIntervalMs, () => {
      this.node.tick();
      this.schedule();
    });
    this.every(500, () => this.leaseHousekeeping());
    this.every(1000, () => {
      this.updateGauges();
      this.maybePublishAttrs();
    });
    this.every(5000, () => this.logProposalLatency());
    this.every(this.opts.progressNotifyIntervalMs ?? 10 * 60_000, () => this.sm.progressTick());
    if (this.opts.autoCompaction) this.startAutoCompaction(this.opts.autoCompaction);
    // A single voter needs nobody's vote: campaign now instead of waiting an election timeout.
    if (this.confState.voters.length === 1 && this.confState.voters[0] === this.id && this.confState.learners.length === 0) {
      this.node.campaign();
    }
    this.schedule();
  }

  private every(ms: number, f: () => void): void {
    const t = setInterval(() => {
      if (this.stopped) return;
      try {
        f();
      } catch (err) {
        this.die('timer task failed', err);
      }
    }, ms);
    this.timers.push(t);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wakeConfApplyWaiter();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const [id, w] of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new BackendError('stopped', 'etcdserver: server stopped'));
      this.waiters.delete(id);
    }
    this.failReads(new BackendError('stopped', 'etcdserver: server stopped'));
    await this.transport?.stop();
    // Let an in-flight Ready finish its save before closing storage.
    const deadline = performance.now() + 5000;
    while ((this.loopRunning || this.snapshotInProgress || this.durableSeq < this.saveSeq) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await this.storage.close().catch(() => {});
    this.log.info('member stopped', { id: hexId(this.id) });
  }

  private die(reason: string, err?: unknown): void {
    if (this.fatal) return;
    this.fatal = true;
    this.wakeConfApplyWaiter();
    this.log.error(reason, { err });
    this.opts.onFatal?.(reason, err);
  }

  // ------------------------------------------------------------------ transport handler

  receive(m: Message): void {
    if (this.stopped || !this.started) return;
    // etcd refuses messages from removed members ("cannot process message from removed member"),
    // so a member removed from the cluster cannot move our term or log. An unknown sender is not
    // refused: a member that lags behind the conf change that added the current leader must still
    // take that leader's appends, or it would never catch up (etcd accepts them too).
    if (this.membership.isRemoved(m.from)) {
      this.log.warn('dropped a raft message from a removed member', { type: m.type, from: hexId(m.from) });
      return;
    }
    if (m.type === 'snap' && !this.snapshotFramingOk(m)) return;
    if (m.type === 'snap' && this.confPendingIndex > this.appliedIndex) {
      // Restoring a snapshot resets raft's membership to the snapshot's; the conf change
      // still waiting in the apply queue would then be applied on top of it by
      // applyConfChange, leaving raft with a membership nobody has. Hold the snapshot (as a
      // slow network would) until that conf change is applied.
      if (this.deferredSnap === undefined || (m.snapshot?.metadata.index ?? 0) >= (this.deferredSnap.snapshot?.metadata.index ?? 0)) this.deferredSnap = m;
      return;
    }
    try {
      this.node.step(m);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ErrRaftAssertion') {
        this.die('raft invariant broken while stepping a message (lost or corrupted data?)', err);
        void this.stop();
        return;
      }
      this.log.warn('step failed', { err, type: m.type, from: hexId(m.from) });
      return;
    }
    this.schedule();
  }

  /**
   * A snapshot whose framing does not decode would stop this member once raft had taken it
   * (applying it is then the only way on): refuse the message instead, and say so. The store
   * still checks the chunks themselves when it restores them.
   */
  private snapshotFramingOk(m: Message): boolean {
    try {
      decodeStateSnapshot(m.snapshot?.data ?? new Uint8Array(0));
      return true;
    } catch (err) {
      this.log.error('dropped a snapshot message whose data does not decode', { from: hexId(m.from), index: m.snapshot?.metadata.index, err });
      return false;
    }
  }

  reportUnreachable(id: NodeId): void {
    if (this.stopped || !this.started) return;
    this.node.reportUnreachable(id);
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    if (this.stopped || !this.started) return;
    this.node.reportSnapshot(id, ok);
    this.schedule();
  }

  isRemoved(id: NodeId): boolean {
    return this.started && this.membership.isRemoved(id);
  }

  private removedReported = false;

  /**
   * A peer refuses us as removed. Normally we apply our own removal first (and stop 10
   * heartbeats later, after answering); this is the fallback for a member that never learns
   * the removal was committed. Wait a little so the normal path can answer its client.
   */
  reportRemoved(): void {
    if (this.stopped || this.removedReported) return;
    this.removedReported = true;
    this.log.warn('a peer reports this member was removed from the cluster; stopping soon');
    setTimeout(() => this.die('the member has been permanently removed from the cluster'), Math.max(1000, 2 * this.opts.electionTimeoutMs));
  }

  clusterInfo(): unknown {
    // JSON on the peer wire: ids as decimal strings (bootstrap.ts joinInfo reads them back).
    return JSON.parse(stringifyWithIds({ clusterId: this.clusterId, members: this.membership.records() })) as unknown;
  }

  async handleRpc(from: NodeId, method: string, body: unknown): Promise<unknown> {
    const b = body as Record<string, number>;
    // Lease and member ids travel between members as decimal strings (JSON has no 64-bit
    // integers); an older member sends a number, which BigInt takes too.
    const idArg = (): bigint => BigInt((body as { ID?: string | number }).ID ?? 0);
    switch (method) {
      case 'leaseRenew': {
        if (this.role !== 'leader') throw new BackendError('notLeader', 'etcdserver: not leader');
        const id = idArg();
        const r = this.sm.leaseRenew(id, this.nowMs());
        this.opts.runtimeMetrics?.leaseRenewed.inc();
        if (r.clearCheckpoint) this.proposeInternal({ type: 'leaseCheckpoint', req: { checkpoints: [{ ID: id, remainingTTL: 0 }] } });
        return { TTL: r.ttl };
      }
      case 'leaseTimeToLive': {
        if (this.role !== 'leader') throw new BackendError('notLeader', 'etcdserver: not leader');
        const r = this.sm.leaseTimeToLive({ ID: idArg(), keys: Boolean(b['keys']) }, this.nowMs());
        return { ...r, ID: String(r.ID) };
      }
      case 'memberPromote':
        return (await this.memberPromote(idArg())).map((m) => ({ ...m, id: String(m.id) }));
      default:
        void from;
        throw new BackendError('notCapable', `unknown peer request ${method}`);
    }
  }

  // ------------------------------------------------------------------ Ready loop

  private schedule(): void {
    if (this.stopped) return;
    if (this.loopRunning) {
      this.loopAgain = true;
      return;
    }
    if (this.loopScheduled) return;
    this.loopScheduled = true;
    setImmediate(() => {
      this.loopScheduled = false;
      void this.processReady();
    });
  }

  private flushProposals(): void {
    if (this.proposals.length > 0 && this.lead !== NONE) {
      // One raft step (one 'prop' message, forwarded whole by a follower) per bounded batch.
      while (this.proposals.length > 0) {
        let n = 0;
        let bytes = 0;
        while (n < this.proposals.length && n < MAX_PROPOSAL_BATCH && (n === 0 || bytes + this.proposals[n]!.byteLength <= MAX_PROPOSAL_BATCH_BYTES)) {
          bytes += this.proposals[n]!.byteLength;
          n++;
        }
        const batch = n === this.proposals.length ? this.proposals : this.proposals.slice(0, n);
        try {
          this.node.proposeBatch(batch);
        } catch (err) {
          // No leader right now (or a transfer is under way): keep them for later.
          if (err instanceof ProposalDroppedError) break;
          throw err;
        }
        this.proposals = batch === this.proposals ? [] : this.proposals.slice(batch.length);
      }
    }
    // A membership change whose caller already gave up (timed out) is dropped, never proposed late.
    while (this.confProposals.length > 0 && !this.waiters.has(decodeConfContext(this.confProposals[0]!.context).requestId)) this.confProposals.shift();
    if (this.confProposals.length > 0 && this.lead !== NONE) {
      const cc = this.confProposals.shift()!;
      try {
        this.node.proposeConfChange(cc);
      } catch (err) {
        if (!(err instanceof ProposalDroppedError)) throw err;
        const ctx = decodeConfContext(cc.context);
        this.failWaiter(ctx.requestId, new BackendError(this.lead === NONE ? 'noLeader' : 'timeout', (err as Error).message));
      }
    }
  }

  private async processReady(): Promise<void> {
    if (this.loopRunning || this.stopped) return;
    this.loopRunning = true;
    try {
      do {
        this.loopAgain = false;
        this.flushProposals();
        if (this.applyQueue.length - this.applyHead > MAX_APPLY_BACKLOG) break;
        while (this.node.hasReady() && !this.stopped) {
          const rd = this.node.ready();
          this.noteConfChanges(rd.committedEntries);
          await this.handleReady(rd);
          // etcd's waitApply: raft's applied index moves to the end of committedEntries at
          // advance(), and raft's guards (no campaign with unapplied conf changes, one pending
          // conf change at a time) and its vote/commit quorums trust that. So a conf change
          // among them must have reached applyConfChange before advance(); otherwise a slow
          // apply loop lets raft count votes and commits with a stale membership.
          const confApplied = this.waitConfChangesApplied();
          if (confApplied) await confApplied;
          if (this.stopped || this.fatal) break;
          this.node.advance();
          this.kickApply();
          this.flushProposals();
        }
      } while (this.loopAgain && !this.stopped);
    } catch (err) {
      this.die('ready loop failed; stopping the member', err);
    } finally {
      this.loopRunning = false;
    }
    if (this.loopAgain && !this.stopped) this.schedule();
  }

  /**
   * One Ready, in raft's order. The leader's messages leave at once (Raft thesis 10.2.1: raft
   * counts the leader's own log toward a commit only after advance() reports it persisted).
   * Then the storage write; we wait for it before advance(), so advance() really means
   * "persisted". A follower's (or candidate's) messages leave only once the write is durable,
   * so no append or vote is acknowledged before it is on disk; committed entries are applied
   * only once the writes before them are durable. Proposals that arrive during the fsync
   * wait for the next Ready and share its fsync (group commit).
   */
  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState) this.onSoftState(rd.softState);
    if (rd.hardState) {
      this.term = rd.hardState.term;
      this.commitIndex = rd.hardState.commit;
    }
    for (const rs of rd.readStates) this.onReadState(rs);
    // A leader's messages may leave before its write (raft counts its own log only after
    // advance), but not in a Ready that also changes term or vote: a single voter campaigns
    // and wins in one step, and its first appends must not carry a term that a crash could
    // lose (it would win that term again and could write other entries under the same
    // index and term the receivers hold).
    const termOrVoteChanged = rd.hardState !== undefined && (rd.hardState.term !== this.savedTerm || rd.hardState.vote !== this.savedVote);
    const sendEarly = this.role === 'leader' && !termOrVoteChanged;
    if (sendEarly) this.sendMessages(rd.messages);
    if (rd.snapshot) {
      await this.waitDurable(this.saveSeq);
      await this.storage.saveSnapshot(rd.snapshot, { fromLeader: true });
      this.raftStorage.applySnapshot(rd.snapshot);
      this.lastSyncSeq = this.saveSeq;
    }
    if (rd.hardState || rd.entries.length > 0) {
      if (rd.hardState) {
        this.raftStorage.setHardState(rd.hardState);
        this.savedTerm = rd.hardState.term;
        this.savedVote = rd.hardState.vote;
      }
      if (rd.entries.length > 0) this.raftStorage.append(rd.entries);
      const seq = ++this.saveSeq;
      if (rd.mustSync) this.lastSyncSeq = seq;
      this.storage.save(rd.hardState, rd.entries, rd.mustSync).then(
        () => this.onDurable(seq),
        (err: unknown) => this.die('storage write failed; stopping the member', err),
      );
    }
    // What must be durable before this Ready's messages leave (follower) and its committed
    // entries apply: the last write with entries or a term/vote change. A commit-index-only
    // write (mustSync false) does not hold anything up.
    const seq = this.lastSyncSeq;
    if (!sendEarly && rd.messages.length > 0) {
      // Messages that acknowledge nothing on disk (a forwarded proposal or read, a heartbeat
      // answer) leave at once; appends' and votes' answers wait for the write.
      const now: Message[] = [];
      const later: Message[] = [];
      for (const msg of rd.messages) (SEND_BEFORE_PERSIST.has(msg.type) ? now : later).push(msg);
      if (now.length > 0) this.sendMessages(now);
      if (later.length > 0) {
        if (seq <= this.durableSeq && this.pendingSends.length === 0) this.sendMessages(later);
        else this.pendingSends.push({ seq, msgs: later });
      }
    }
    // Committed entries need no local durability before they apply: raft commits an entry
    // only once a quorum has it on disk (the leader's own copy counts only after advance(),
    // i.e. after its write), so applying now cannot acknowledge anything a crash could lose.
    if (rd.snapshot) this.applyQueue.push({ kind: 'snapshot', snapshot: rd.snapshot, seq: 0 });
    for (const e of rd.committedEntries) this.applyQueue.push({ kind: 'entry', entry: e, seq: 0 });
    this.kickApply();
    const m = this.opts.metrics;
    if (m) m.proposalsCommitted.set(this.commitIndex);
    await this.waitDurable(this.saveSeq);
  }

  /** Records the last conf change among a Ready's committed entries (see confPendingIndex). */
  private noteConfChanges(ents: readonly Entry[]): void {
    for (let i = ents.length - 1; i >= 0; i--) {
      const e = ents[i]!;
      if (e.type === 'confChange') {
        if (e.index > this.appliedIndex) this.confPendingIndex = e.index;
        return;
      }
    }
  }

  /** Resolves once confPendingIndex is applied (undefined: nothing to wait for). */
  private waitConfChangesApplied(): Promise<void> | undefined {
    if (this.confPendingIndex === 0 || this.stopped || this.fatal) return undefined;
    return new Promise<void>((resolve) => {
      this.confApplyWaiter = resolve;
      this.kickApply();
    });
  }

  /** The pending conf change is applied (or the member is stopping): release the waiters. */
  private wakeConfApplyWaiter(): void {
    this.confPendingIndex = 0;
    const w = this.confApplyWaiter;
    this.confApplyWaiter = undefined;
    const snap = this.deferredSnap;
    this.deferredSnap = undefined;
    w?.();
    if (snap && !this.stopped && !this.fatal) this.receive(snap);
  }

  private onDurable(seq: number): void {
    if (seq > this.durableSeq) this.durableSeq = seq;
    while (this.pendingSends.length > 0 && this.pendingSends[0]!.seq <= this.durableSeq) {
      this.sendMessages(this.pendingSends.shift()!.msgs);
    }
    if (this.saveWaiters.length > 0) {
      const still: typeof this.saveWaiters = [];
      for (const w of this.saveWaiters) (w.seq <= this.durableSeq ? w.resolve() : still.push(w));
      this.saveWaiters = still;
    }
    this.kickApply();
  }

  private waitDurable(seq: number): Promise<void> {
    if (seq <= this.durableSeq) return Promise.resolve();
    return new Promise((resolve) => this.saveWaiters.push({ seq, resolve }));
  }

  private sendMessages(msgs: readonly Message[]): void {
    if (msgs.length === 0) return;
    this.transport.send(msgs);
  }

  private onSoftState(ss: SoftState): void {
    const prevLead = this.lead;
    const prevRole = this.role;
    this.lead = ss.lead;
    this.role = ss.raftState;
    const m = this.opts.metrics;
    if (ss.lead !== prevLead) {
      if (ss.lead !== NONE) {
        m?.leaderChangesSeen.inc();
        this.log.info('leader changed', { leader: hexId(ss.lead), term: this.node.status().hardState.term, self: hexId(this.id) });
      } else {
        this.log.warn('no leader', { previous: hexId(prevLead) });
      }
      // Reads in flight were confirmed by (or sent to) the old leader: etcd fails them.
      if (this.readInflight) {
        const batch = this.readInflight;
        this.readInflight = undefined;
        if (batch.retryTimer) clearTimeout(batch.retryTimer);
        for (const w of batch.waiters) w.reject(new BackendError('leaderChanged', 'etcdserver: leader changed'));
        m?.readIndexesFailed.inc(); // etcd counts one failed ReadIndex round, however many reads wait on it
      }
      if (this.readQueue.length > 0) this.sendReadIndex();
    }
    if (ss.raftState === 'leader' && prevRole !== 'leader') {
      this.sm.leasePromote(this.nowMs(), this.opts.electionTimeoutMs);
    } else if (ss.raftState !== 'leader' && prevRole === 'leader') {
      this.sm.leaseDemote();
    }
    if (m) {
      m.hasLeader.set(ss.lead !== NONE ? 1 : 0);
      m.isLeader.set(ss.raftState === 'leader' ? 1 : 0);
    }
  }

  // ------------------------------------------------------------------ apply loop

  private kickApply(): void {
    if (this.applying || this.applyHead >= this.applyQueue.length) return;
    if (this.applyQueue[this.applyHead]!.seq > this.durableSeq) return;
    void this.drainApply();
  }

  private async drainApply(): Promise<void> {
    if (this.applying) return;
    this.applying = true;
    try {
      const ready = (): boolean => this.applyHead < this.applyQueue.length && this.applyQueue[this.applyHead]!.seq <= this.durableSeq;
      while (ready() && !this.stopped) {
        const sliceStart = performance.now();
        while (ready() && performance.now() - sliceStart < APPLY_SLICE_MS) {
          const item = this.applyQueue[this.applyHead]!;
          this.applyQueue[this.applyHead] = undefined as unknown as ApplyItem;
          this.applyHead++;
          const t0 = performance.now();
          if (item.kind === 'snapshot') {
            // A big state: restore it chunk by chunk, yielding between chunks.
            const r = this.opts.runtimeMetrics;
            r?.snapshotApplyInProgress.set(1);
            try {
              await this.applySnapshotItem(item.snapshot);
            } finally {
              r?.snapshotApplyInProgress.set(0);
            }
            break;
          }
          const applied = this.applyEntry(item.entry);
          const ms = performance.now() - t0;
          applied?.observe(ms / 1000);
          if (ms > SLOW_APPLY_MS) this.opts.metrics?.slowApplies.inc();
        }
        if (this.applyHead > 4096 && this.applyHead * 2 > this.applyQueue.length) {
          this.applyQueue = this.applyQueue.slice(this.applyHead);
          this.applyHead = 0;
        }
        this.afterApply();
        if (ready()) await yieldImmediate();
      }
      if (this.applyHead >= this.applyQueue.length) {
        this.applyQueue = [];
        this.applyHead = 0;
      }
    } catch (err) {
      // Bad input never gets here (entry-decode.ts and the store answer it); this is a broken
      // invariant, and applying on could make this member silently disagree with the others.
      this.die('broken invariant while applying; stopping the member', err);
    } finally {
      this.applying = false;
    }
    // The Ready loop may have paused on back-pressure.
    this.schedule();
  }

  private afterApply(): void {
    if (this.confPendingIndex > 0 && this.confPendingIndex <= this.appliedIndex) this.wakeConfApplyWaiter();
    this.sm.afterApply();
    this.kickBackground();
    const m = this.opts.metrics;
    if (m) {
      m.proposalsApplied.set(this.appliedIndex);
      m.proposalsPending.set(this.waiters.size);
    }
    // Linearizable reads whose index is now applied.
    if (this.appliedWaiters.length > 0) {
      const still: AppliedWaiter[] = [];
      for (const w of this.appliedWaiters) {
        if (w.index <= this.appliedIndex) w.resolve();
        else still.push(w);
      }
      this.appliedWaiters = still;
    }
    if (!this.snapshotInProgress && this.appliedIndex - this.snapshotIndex >= this.opts.snapshotCount) {
      void this.takeSnapshot();
    }
    this.kickCompaction();
  }

  private async applySnapshotItem(s: Snapshot): Promise<void> {
    if (s.metadata.index > 0 && s.metadata.index <= this.appliedIndex) return;
    this.log.info('applying snapshot', { index: s.metadata.index, term: s.metadata.term, bytes: s.data.byteLength });
    const started = performance.now();
    const st = decodeStateSnapshot(s.data);
    if (st.chunks.length > 0) {
      if (this.sm.beginRestore) {
        const r = this.sm.beginRestore();
        let slice = performance.now();
        for (const c of st.chunks) {
          r.write(c);
          if (performance.now() - slice > APPLY_SLICE_MS) {
            await yieldImmediate();
            slice = performance.now();
          }
        }
        r.finish();
      } else {
        this.sm.restore(st.chunks);
      }
    }
    this.membership = Membership.fromJSON(st.membership);
    this.sm.auth.restore(st.membership.auth);
    this.memberAuth.tokens.clear();
    this.log.info('applied snapshot', { index: s.metadata.index, ms: Math.round(performance.now() - started) });
    this.appliedIndex = s.metadata.index;
    this.snapshotIndex = s.metadata.index;
    this.confState = s.metadata.confState;
    this.syncTransportPeers();
  }

  private restoreFromSnapshot(s: Snapshot): void {
    const st = decodeStateSnapshot(s.data);
    this.membership = Membership.fromJSON(st.membership);
    this.sm.auth.restore(st.membership.auth);
    // The bootstrap snapshot (index 0) carries membership only: the store is the empty store.
    if (st.chunks.length > 0) this.sm.restore(st.chunks);
  }

  private bootstrapSnapshot(): Snapshot {
    const voters = this.membership.voters();
    const learners = this.membership.learners();
    return {
      data: encodeStateSnapshot(this.membership.toJSON(), []),
      metadata: { index: 0, term: 0, confState: { voters, learners } },
    };
  }

  private syncTransportPeers(): void {
    const want = new Set<NodeId>();
    for (const r of this.membership.records()) {
      if (r.id === this.id) continue;
      want.add(r.id);
      this.transport.setPeer(r.id, r.peerUrls);
    }
    // A joiner restores the index-0 snapshot, which holds the cluster's first membership, and
    // learns later members only as it replays the log. Its current leader may be one of those
    // (every original member replaced since): keep the peers it was told of at start, unless
    // removed, or it could not answer that leader and would never catch up.
    for (const p of this.opts.peerHints ?? []) {
      if (p.id === this.id || want.has(p.id) || this.membership.isRemoved(p.id) || p.peerUrls.length === 0) continue;
      want.add(p.id);
      this.transport.setPeer(p.id, p.peerUrls);
    }
    for (const id of this.transport.peers()) if (!want.has(id)) this.transport.removePeer(id);
  }

  /** Applies one committed entry; returns the apply-duration tally of the request it carried, if any. */
  private applyEntry(e: Entry): HistogramTally<string> | undefined {
    if (e.index <= this.appliedIndex) return undefined;
    let applied: HistogramTally<string> | undefined;
    const durations = this.applyDurations;
    if (e.type === 'confChange') {
      this.applyConfChangeEntry(e);
    } else if (e.data.byteLength > 0) {
      const d = decodeNormalEntry(e.data);
      if (!d.ok) this.skipEntry(e, d);
      else if (d.kind === 'mvcc') {
        // With auth on, a write is checked at apply against the auth revision its token was
        // checked at (etcd's authApplierV3): a revoke committed in between wins.
        const denied = this.sm.auth.enabled ? this.memberAuth.checkWrite(d.cmd, d.as?.ai) : undefined;
        if (denied) {
          if (d.proposer === this.id) this.settleWaiter(d.requestId, { ok: false, error: denied });
          applied = durations?.tally(applyOpName('mvcc', d.cmd.type), false);
        } else {
          // Expected failures (bad requests included) come back as { ok: false }; a throw from
          // here is a broken invariant in the store and stops the member (drainApply).
          // The store answers its ApplyResult ({ ok, response } or { ok: false, error }).
          const r = this.sm.apply(d.cmd, e.index) as unknown as { ok: boolean; response?: unknown; error?: { code?: unknown } };
          this.afterMvccApply(d.cmd, r.ok ? r.response : undefined);
          if (d.proposer === this.id) this.settleWaiter(d.requestId, r);
          applied = durations?.tally(applyOpName('mvcc', d.cmd.type), r.ok || r.error?.code === 'compacted');
        }
      } else if (d.kind === 'auth') {
        const r = this.memberAuth.apply(d.cmd, d.ai, e.index);
        if (d.proposer === this.id) this.settleWaiter(d.requestId, r);
        applied = durations?.tally(applyOpName('auth', d.cmd.type), r.ok);
      } else if (d.kind === 'downgrade') {
        this.membership.setDowngrade(d.info);
        if (d.proposer === this.id) this.settleWaiter(d.requestId, { ok: true, response: undefined });
        applied = durations?.tally('DowngradeInfoSet', true);
      } else {
        this.membership.applyAttrs(d.attrs);
        if (d.proposer === this.id) this.settleWaiter(d.requestId, { ok: true, response: undefined });
        applied = durations?.tally('ClusterMemberAttrSet', true);
      }
    }
    this.appliedIndex = e.index;
    return applied;
  }

  /** An entry no member can decode: every member skips it alike, loudly, and keeps serving. */
  private skipEntry(e: Entry, s: Skipped): void {
    this.log.error('skipping a committed entry that cannot be decoded (every member skips it)', { index: e.index, term: e.term, kind: s.kind, reason: s.reason, bytes: e.data.byteLength });
    this.applyMetrics?.skippedEntries.inc({ kind: s.kind });
    if (s.proposer === this.id && s.requestId !== undefined) this.failWaiter(s.requestId, new SkippedEntryError(s.reason));
  }

  private afterMvccApply(cmd: mvcc.Command, response: unknown): void {
    if (cmd.type === 'compaction') this.kickCompaction();
    else if (cmd.type === 'alarm' && response) this.countAlarms(cmd.req, response as mvcc.AlarmResponse);
  }

  /** etcd_debugging_server_alarms as etcd's apply keeps it: +1 per activation, -1 per alarm a deactivation removed. */
  private countAlarms(req: mvcc.AlarmRequest, resp: mvcc.AlarmResponse): void {
    const g = this.opts.runtimeMetrics?.serverAlarms;
    if (!g || req.action === AlarmAction.GET) return;
    for (const a of resp.alarms) {
      const labels = { server_id: hexId(a.memberID), alarm_type: alarmName(a.alarm) };
      if (req.action === AlarmAction.ACTIVATE) g.inc(labels);
      else g.dec(labels);
    }
  }

  private settleWaiter(requestId: number, r: unknown): void {
    const w = this.waiters.get(requestId);
    if (!w) return;
    this.waiters.delete(requestId);
    clearTimeout(w.timer);
    if (this.proposalLatenciesMs.length < 100_000) this.proposalLatenciesMs.push(performance.now() - w.startedMs);
    // The store's ApplyResult: { ok: true, response } or { ok: false, error }.
    const res = r as { ok: boolean; response?: unknown; error?: unknown };
    if (res && typeof res === 'object' && 'ok' in res) {
      if (res.ok) w.resolve(res.response);
      else {
        this.opts.metrics?.proposalsFailed.inc();
        w.reject(res.error);
      }
    } else {
      w.resolve(r);
    }
  }

  private failWaiter(requestId: number, err: unknown): void {
    const w = this.waiters.get(requestId);
    if (!w) return;
    this.waiters.delete(requestId);
    clearTimeout(w.timer);
    this.opts.metrics?.proposalsFailed.inc();
    w.reject(err);
  }

  private applyConfChangeEntry(e: Entry): void {
    const d = decodeConfEntry(e.data);
    if (!d.ok) {
      this.skipEntry(e, d);
      // Raft still waits for this change to end: end it without changing the configuration.
      this.confState = this.node.applyConfChange({ type: 'updateNode', nodeId: this.id, context: new Uint8Array(0) });
      return;
    }
    const { cc, ctx } = d;
    const mine = ctx.proposer === this.id;
    // Validate against the replicated membership, so every member decides the same way.
    let refusal: BackendError | undefined;
    const target = this.membership.get(cc.nodeId);
    switch (cc.type) {
      case 'addNode':
        if (this.membership.isRemoved(cc.nodeId)) refusal = new BackendError('memberNotFound', 'etcdserver: member not found');
        else if (target && !target.isLearner) refusal = new BackendError('memberExist', 'etcdserver: member ID already exist');
        break;
      case 'addLearnerNode':
        if (this.membership.isRemoved(cc.nodeId)) refusal = new BackendError('memberNotFound', 'etcdserver: member not found');
        else if (target) refusal = new BackendError('memberExist', 'etcdserver: member ID already exist');
        else if (this.membership.learners().length >= this.opts.maxLearners) refusal = new BackendError('tooManyLearners', 'etcdserver: too many learner members in cluster');
        break;
      case 'removeNode':
      case 'updateNode':
        if (!target) refusal = new BackendError('memberNotFound', 'etcdserver: member not found');
        break;
      default: {
        const never: never = cc.type;
        throw new Error(`unknown conf change ${String(never)}`);
      }
    }
    if (refusal) {
      // Tell raft the change is over without changing the configuration: an updateNode of
      // an existing voter (or ourselves) is a no-op in raft.
      this.confState = this.node.applyConfChange({ type: 'updateNode', nodeId: this.id, context: new Uint8Array(0) });
      if (mine) this.failWaiter(ctx.requestId, refusal);
      return;
    }
    this.confState = this.node.applyConfChange(cc);
    this.membership.applyConfChange(cc, ctx);
    this.log.info('applied membership change', { type: cc.type, member: hexId(cc.nodeId), voters: this.confState.voters.map(hexId), learners: this.confState.learners.map(hexId) });
    if (cc.nodeId !== this.id) {
      if (cc.type === 'removeNode') this.transport.removePeer(cc.nodeId);
      else {
        const r = this.membership.get(cc.nodeId);
        if (r && r.peerUrls.length > 0) this.transport.setPeer(cc.nodeId, r.peerUrls);
      }
    }
    if (mine) this.settleWaiter(ctx.requestId, { ok: true, response: this.membership.list() });
    if (cc.type === 'removeNode' && cc.nodeId === this.id) {
      this.log.warn('this member has been permanently removed from the cluster; stopping');
      // Like etcd: stop after a short delay, so the answer to the client that removed us leaves first.
      setTimeout(() => this.die('the member has been permanently removed from the cluster'), 10 * this.opts.heartbeatIntervalMs);
    }
    this.opts.metrics?.isLearner.set(this.isLearner() ? 1 : 0);
  }

  // ------------------------------------------------------------------ snapshots

  private async takeSnapshot(): Promise<void> {
    if (this.snapshotInProgress || this.stopped) return;
    // A snapshot received from the leader is already durable beyond what we have applied
    // (it waits in the apply queue): ours would be older, and its entries are gone from the log.
    if (this.appliedIndex <= this.raftStorage.snapshot().metadata.index) return;
    this.snapshotInProgress = true;
    const started = performance.now();
    const index = this.appliedIndex;
    try {
      const term = this.raftStorage.term(index);
      const confState = this.confState;
      // Captured with the store's chunks below, synchronously: both are the state at `index`.
      const membership = { ...this.membership.toJSON(), auth: this.sm.auth.toJSON() };
      const chunks: Uint8Array[] = [];
      let sliceStart = performance.now();
      for (const c of this.sm.snapshotChunks(SNAPSHOT_CHUNK_BYTES)) {
        chunks.push(c);
        if (performance.now() - sliceStart > APPLY_SLICE_MS) {
          await yieldImmediate();
          sliceStart = performance.now();
        }
      }
      const data = await encodeStateSnapshotAsync(membership, chunks, async () => {
        if (performance.now() - sliceStart > APPLY_SLICE_MS) {
          await yieldImmediate();
          sliceStart = performance.now();
        }
      });
      const snap: Snapshot = { data, metadata: { index, term, confState } };
      await this.storage.saveSnapshot(snap);
      if (this.stopped) return;
      if (index > this.raftStorage.snapshot().metadata.index) {
        this.raftStorage.createSnapshot(index, confState, data);
        const compactTo = index - (this.opts.snapshotCatchUpEntries ?? SNAPSHOT_CATCH_UP_ENTRIES);
        if (compactTo > this.raftStorage.firstIndex()) this.raftStorage.compact(compactTo);
      }
      this.snapshotIndex = Math.max(this.snapshotIndex, index);
      await this.storage.releaseTo(index);
      this.opts.metrics?.snapshotSaveTotalDurationSeconds.observe((performance.now() - started) / 1000);
      this.log.info('saved snapshot', { index, term, bytes: data.byteLength, ms: Math.round(performance.now() - started) });
    } catch (err) {
      if (this.stopped) return;
      if (this.raftStorage.snapshot().metadata.index > index) {
        // Overtaken by a snapshot from the leader (installed, or restored into the store,
        // while ours was being written): ours is not needed.
        this.log.info('local snapshot abandoned: a newer snapshot from the leader overtook it', { index, err });
        return;
      }
      this.die('snapshot failed; stopping the member', err);
    } finally {
      this.snapshotInProgress = false;
    }
  }

  // ------------------------------------------------------------------ background work

  private backgroundRunning = false;

  /** Watch catch-up (historical replay, slow watchers) in bounded steps between events. */
  private kickBackground(): void {
    if (this.backgroundRunning || this.stopped) return;
    this.backgroundRunning = true;
    void (async () => {
      try {
        for (;;) {
          const start = performance.now();
          let idle = false;
          while (!idle && performance.now() - start < APPLY_SLICE_MS) idle = this.sm.backgroundStep();
          if (idle || this.stopped) break;
          await yieldImmediate();
        }
      } catch (err) {
        this.log.warn('watch catch-up step failed', { err });
      } finally {
        this.backgroundRunning = false;
      }
    })();
  }

  // ------------------------------------------------------------------ compaction

  private kickCompaction(): void {
    if (this.compactionRunning || this.stopped) return;
    this.compactionRunning = true;
    const t0 = performance.now();
    void (async () => {
      try {
        for (;;) {
          const start = performance.now();
          let done = false;
          while (!done && performance.now() - start < APPLY_SLICE_MS) done = this.sm.compactStep(COMPACT_STEP_REVISIONS);
          if (this.sm.compactRevision() !== this.compactionMeasuredRev) {
            this.opts.runtimeMetrics?.dbCompactionPauseMs.observe(performance.now() - start);
          }
          if (done || this.stopped) break;
          await yieldImmediate();
        }
        // Kicked after every apply slice: only a run that followed a new compaction counts.
        const r = this.opts.runtimeMetrics;
        const dropped = this.sm.stats().compactedRevisions;
        if (r && dropped > this.compactedRevisionsCounted) r.dbCompactionKeys.inc(dropped - this.compactedRevisionsCounted);
        this.compactedRevisionsCounted = dropped;
        const rev = this.sm.compactRevision();
        if (r && rev !== this.compactionMeasuredRev) {
          this.compactionMeasuredRev = rev;
          r.dbCompactionTotalDurationMs.observe(performance.now() - t0);
          r.dbCompactionLast.set(Date.now() / 1000);
        }
      } catch (err) {
        this.die('compaction failed', err);
      } finally {
        this.compactionRunning = false;
        const ws = this.compactionWaiters;
        this.compactionWaiters = [];
        for (const w of ws) w();
      }
    })();
  }

  private startAutoCompaction(ac: NonNullable<MemberOptions['autoCompaction']>): void {
    if (ac.mode === 'periodic' && ac.retentionMs > 0) {
      // Sample the revision regularly; compact (on the leader) to the newest sample that is
      // older than the retention window. etcd runs every min(retention, 1h) too.
      const sampleMs = Math.max(100, Math.min(ac.retentionMs / 10, 5 * 60_000));
      this.every(sampleMs, () => {
        const now = this.nowMs();
        this.autoCompactSamples.push({ atMs: now, rev: this.sm.currentRevision() });
        let target = 0;
        while (this.autoCompactSamples.length > 0 && this.autoCompactSamples[0]!.atMs <= now - ac.retentionMs) {
          target = this.autoCompactSamples.shift()!.rev;
        }
        this.autoCompact(target);
      });
    } else if (ac.mode === 'revision' && ac.retentionRevisions > 0) {
      this.every(Math.min(5 * 60_000, Math.max(1000, this.opts.electionTimeoutMs * 5)), () => {
        this.autoCompact(this.sm.currentRevision() - ac.retentionRevisions);
      });
    }
  }

  private autoCompact(rev: number): void {
    if (this.role !== 'leader' || rev <= 1 || rev <= this.lastAutoCompactRev || rev <= this.sm.compactRevision()) return;
    this.lastAutoCompactRev = rev;
    this.log.info('auto-compaction', { revision: rev });
    // As root, like etcd's compactor (only root may compact while auth is on).
    this.propose({ type: 'compaction', req: { revision: rev } }, this.sm.auth.enabled ? INTERNAL_ROOT : undefined).catch((err: unknown) => this.log.warn('auto-compaction failed', { err, revision: rev }));
  }

  // ------------------------------------------------------------------ proposals

  /** `as`: the credentials the server checked (a write made as a user, checked again at apply). */
  private propose<T>(cmd: mvcc.Command, as?: AuthInfo): Promise<T> {
    if (this.stopped) return Promise.reject(new BackendError('stopped', 'etcdserver: server stopped'));
    if (this.waiters.size >= MAX_PENDING_PROPOSALS) return Promise.reject(new BackendError('tooManyRequests', 'etcdserver: too many requests'));
    if ((cmd.type === 'put' || cmd.type === 'txn' || cmd.type === 'leaseGrant') && !this.sm.quotaAllows(cmd)) {
      const self = BigInt(this.id);
      if (!this.sm.alarms().some((a) => a.memberID === self && a.alarm === AlarmType.NOSPACE)) {
        this.proposeInternal({ type: 'alarm', req: { action: AlarmAction.ACTIVATE, memberID: self, alarm: AlarmType.NOSPACE } });
      }
      return Promise.reject(new BackendError('noSpace', 'etcdserver: mvcc: database space exceeded'));
    }
    const requestId = this.requestIds.take();
    const data = as === undefined ? encodeEnvelope('mvcc', this.id, requestId, encodeCommand(cmd)) : encodeEnvelope('mvccAs', this.id, requestId, encodeAuthBody(as, encodeCommand(cmd)));
    return this.wait<T>(requestId, () => {
      this.proposals.push(data);
      this.schedule();
    });
  }

  /** A proposal nobody waits for (lease revokes on expiry, checkpoints). */
  private proposeInternal(cmd: mvcc.Command): void {
    const body = encodeCommand(cmd);
    this.proposals.push(this.sm.auth.enabled ? encodeEnvelope('mvccAs', this.id, 0, encodeAuthBody(INTERNAL_ROOT, body)) : encodeEnvelope('mvcc', this.id, 0, body));
    this.schedule();
  }

  /** An auth request through raft, applied by every member's auth store. */
  private authRequest(cmd: AuthCommand, ai: AuthInfo | undefined): Promise<AuthReply> {
    return this.proposeEnvelope<AuthReply>('auth', encodeAuthBody(ai, Buffer.from(JSON.stringify(cmd))));
  }

  /** Proposes one entry of `kind` and waits for this member to apply it. */
  private proposeEnvelope<T>(kind: EnvelopeKind, body: Uint8Array): Promise<T> {
    if (this.stopped) return Promise.reject(new BackendError('stopped', 'etcdserver: server stopped'));
    if (this.waiters.size >= MAX_PENDING_PROPOSALS) return Promise.reject(new BackendError('tooManyRequests', 'etcdserver: too many requests'));
    const requestId = this.requestIds.take();
    const data = encodeEnvelope(kind, this.id, requestId, body);
    return this.wait<T>(requestId, () => {
      this.proposals.push(data);
      this.schedule();
    });
  }

  private wait<T>(requestId: number, submit: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const leaderAtPropose = this.lead;
      const timer = setTimeout(() => {
        if (!this.waiters.delete(requestId)) return;
        this.opts.metrics?.proposalsFailed.inc();
        const leaderFailed = leaderAtPropose !== NONE && this.lead !== leaderAtPropose;
        reject(
          leaderFailed
            ? new BackendError('timeoutDueToLeaderFail', 'etcdserver: request timed out, possibly due to previous leader failure')
            : new BackendError('timeout', 'etcdserver: request timed out'),
        );
      }, this.requestTimeoutMs);
      this.waiters.set(requestId, { startedMs: performance.now(), resolve: resolve as (v: unknown) => void, reject, timer, leaderAtPropose });
      submit();
    });
  }

  private proposeConf(type: ConfChange['type'], nodeId: NodeId, member: MemberRecord | undefined): Promise<readonly MemberInfo[]> {
    const requestId = this.requestIds.take();
    const ctx = encodeConfContext(member ? { member, proposer: this.id, requestId } : { proposer: this.id, requestId });
    const cc: ConfChange = { type, nodeId, context: ctx };
    return this.wait<readonly MemberInfo[]>(requestId, () => {
      this.confProposals.push(cc);
      this.schedule();
    });
  }

  private maybePublishAttrs(): void {
    if (this.attrsPublished || this.lead === NONE || this.stopped) return;
    const me = this.membership.get(this.id);
    if (!me) return;
    const same = me.name === this.opts.name && me.clientUrls.length === this.opts.clientUrls.length && me.clientUrls.every((u, i) => u === this.opts.clientUrls[i]);
    if (same) {
      this.attrsPublished = true;
      return;
    }
    const requestId = this.requestIds.take();
    const attrs: MemberAttrs = { id: this.id, name: this.opts.name, clientUrls: [...this.opts.clientUrls] };
    const data = encodeEnvelope('attrs', this.id, requestId, Buffer.from(stringifyWithIds(attrs)));
    this.attrsPublished = true;
    this.wait(requestId, () => {
      this.proposals.push(data);
      this.schedule();
    }).then(
      () => this.log.info('published member attributes', { name: this.opts.name, clientUrls: this.opts.clientUrls }),
      (err: unknown) => {
        this.attrsPublished = false;
        this.log.warn('publishing member attributes failed; will retry', { err });
      },
    );
  }

  downgradeInfo(): DowngradeInfo {
    return this.membership.downgrade();
  }

  /** etcd's DowngradeInfoSet request: through raft, so every member holds the same state. */
  setDowngrade(info: DowngradeInfo): Promise<void> {
    return this.proposeEnvelope<void>('downgrade', Buffer.from(JSON.stringify({ enabled: info.enabled, targetVersion: info.targetVersion })));
  }

  // ------------------------------------------------------------------ reads

  /** Resolves once this member has applied everything committed before the call (ReadIndex). */
  linearizableBarrier(): Promise<void> {
    if (this.stopped) return Promise.reject(new BackendError('stopped', 'etcdserver: server stopped'));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new BackendError('timeout', 'etcdserver: request timed out')), this.requestTimeoutMs);
      this.readQueue.push({
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      if (!this.readInflight) this.sendReadIndex();
    });
  }

  private sendReadIndex(): void {
    if (this.readQueue.length === 0 || this.stopped) return;
    const waiters = this.readQueue;
    this.readQueue = [];
    const ctx = Buffer.alloc(16);
    ctx.writeBigUInt64LE(this.id, 0);
    ctx.writeDoubleLE(++this.readSeq, 8);
    const batch: ReadBatch = { ctx: ctx.toString('hex'), waiters, sentAtMs: performance.now() };
    this.readInflight = batch;
    this.node.readIndex(ctx);
    this.schedule();
    // Retry if no answer comes (lost message, no leader yet): etcd retries every 500 ms.
    const retry = (): void => {
      if (this.readInflight !== batch || this.stopped) return;
      this.opts.metrics?.slowReadIndexes.inc();
      const c2 = Buffer.alloc(16);
      c2.writeBigUInt64LE(this.id, 0);
      c2.writeDoubleLE(++this.readSeq, 8);
      batch.ctx = c2.toString('hex');
      this.node.readIndex(c2);
      this.schedule();
      batch.retryTimer = setTimeout(retry, Math.max(500, 2 * this.opts.heartbeatIntervalMs));
    };
    batch.retryTimer = setTimeout(retry, Math.max(500, 2 * this.opts.heartbeatIntervalMs));
  }

  private onReadState(rs: ReadState): void {
    const batch = this.readInflight;
    if (!batch || Buffer.from(rs.requestCtx).toString('hex') !== batch.ctx) return;
    this.readInflight = undefined;
    if (batch.retryTimer) clearTimeout(batch.retryTimer);
    const index = rs.index;
    const done = (): void => {
      for (const w of batch.waiters) w.resolve();
    };
    if (index <= this.appliedIndex) done();
    else this.appliedWaiters.push({ index, resolve: done });
    // Everything queued while this one was in flight goes in the next round.
    if (this.readQueue.length > 0) this.sendReadIndex();
  }

  private failReads(err: unknown): void {
    if (this.readInflight) {
      if (this.readInflight.retryTimer) clearTimeout(this.readInflight.retryTimer);
      for (const w of this.readInflight.waiters) w.reject(err);
      this.readInflight = undefined;
    }
    for (const w of this.readQueue) w.reject(err);
    this.readQueue = [];
  }

  // ------------------------------------------------------------------ lease housekeeping

  private leaseHousekeeping(): void {
    if (this.role !== 'leader') return;
    const now = this.nowMs();
    for (const id of this.sm.leaseExpired(now, 64)) {
      this.log.info('lease expired; revoking', { lease: hexId(id) });
      this.opts.runtimeMetrics?.leaseExpired.inc();
      this.proposeInternal({ type: 'leaseRevoke', req: { ID: id } });
    }
    const due = this.sm.leaseCheckpointsDue(now, LEASE_CHECKPOINT_INTERVAL_MS, 1000);
    if (due.length > 0) this.proposeInternal({ type: 'leaseCheckpoint', req: { checkpoints: due } });
  }

  /** Debug aid: where a write's time goes inside the member (propose -> applied here). */
  private logProposalLatency(): void {
    const l = this.proposalLatenciesMs;
    this.proposalLatenciesMs = [];
    if (l.length === 0) return;
    l.sort((a, b) => a - b);
    const q = (p: number): number => Math.round(l[Math.min(l.length - 1, Math.floor(p * l.length))]! * 10) / 10;
    const fields = { count: l.length, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: q(1), role: this.role };
    if (this.log.level === 'debug') this.log.debug('proposal latency (propose to applied, this member)', fields);
    else if (q(1) > 500) this.log.warn('slow proposals in the last 5 s (propose to applied, this member)', fields);
  }

  private updateGauges(): void {
    const m = this.opts.metrics;
    if (!m) return;
    m.dbTotalSizeBytes.set(this.sm.sizeBytes());
    m.dbTotalSizeInUseBytes.set(this.sm.sizeInUseBytes());
    m.proposalsPending.set(this.waiters.size);
    m.proposalsApplied.set(this.appliedIndex);
    m.proposalsCommitted.set(this.commitIndex);
    m.isLearner.set(this.isLearner() ? 1 : 0);
    m.watchers.set(this.sm.watcherCount());
    const r = this.opts.runtimeMetrics;
    if (!r) return;
    r.mvccKeys.set(this.sm.keyCount());
    r.totalPutSizeBytes.set(this.sm.stats().putBytes);
    r.mvccCurrentRevision.set(this.sm.currentRevision());
    r.mvccCompactRevision.set(this.sm.compactRevision());
    r.dbOpenReadTransactions.set(this.sm.openReads());
    r.slowWatchers.set(this.sm.slowWatchers());
    r.pendingEvents.set(this.sm.pendingEvents());
    r.knownPeers.reset();
    r.activePeers.reset();
    const local = hexId(this.id);
    const active = new Set<NodeId>();
    for (const rec of this.membership.records()) {
      if (rec.id === this.id) continue;
      const labels = { Local: local, Remote: hexId(rec.id) };
      const up = this.transport.isActive(rec.id);
      r.knownPeers.set(labels, 1);
      r.activePeers.set(labels, up ? 1 : 0);
      if (up) active.add(rec.id);
      else if (this.activePeersSeen.has(rec.id)) r.disconnectedPeers.inc(labels);
    }
    this.activePeersSeen = active;
  }

  // ------------------------------------------------------------------ MemberBackend: KV

  async range(req: mvcc.RangeRequest, opts: { readonly linearizable: boolean }): Promise<mvcc.RangeResponse> {
    if (opts.linearizable) await this.linearizableBarrier();
    const t0 = performance.now();
    let success = false;
    try {
      const resp = this.sm.rangeChunked ? await this.sm.rangeChunked(req, () => yieldImmediate()) : this.sm.range(req);
      success = true;
      return resp;
    } finally {
      this.rangeDurations?.[success ? 1 : 0].observe((performance.now() - t0) / 1000);
    }
  }

  put(req: mvcc.PutRequest, as?: AuthInfo): Promise<mvcc.PutResponse> {
    return this.propose({ type: 'put', req }, as);
  }

  deleteRange(req: mvcc.DeleteRangeRequest, as?: AuthInfo): Promise<mvcc.DeleteRangeResponse> {
    return this.propose({ type: 'deleteRange', req }, as);
  }

  /** Every txn goes through raft (a read-only one too: simple and linearizable; it does not bump the revision). */
  async txn(req: mvcc.TxnRequest, _opts: { readonly readOnly: boolean }, as?: AuthInfo): Promise<mvcc.TxnResponse> {
    return this.propose({ type: 'txn', req }, as);
  }

  async compact(req: mvcc.CompactionRequest, as?: AuthInfo): Promise<mvcc.CompactionResponse> {
    const r = await this.propose<mvcc.CompactionResponse>({ type: 'compaction', req: { revision: req.revision } }, as);
    if (req.physical && this.compactionRunning) await new Promise<void>((resolve) => this.compactionWaiters.push(resolve));
    return r;
  }

  openWatchStream(sink: WatchSink): WatchStream {
    const ws = this.sm.openWatchStream(sink);
    return {
      create: (req) => {
        ws.create(req);
        this.kickBackground();
      },
      cancel: (id) => ws.cancel(id),
      resume: () => {
        ws.resume();
        this.kickBackground();
      },
      requestProgress: () => {
        ws.requestProgress();
        this.kickBackground();
      },
      close: () => ws.close(),
    };
  }

  // ------------------------------------------------------------------ MemberBackend: Lease

  leaseGrant(req: mvcc.LeaseGrantRequest, as?: AuthInfo): Promise<mvcc.LeaseGrantResponse> {
    return this.propose({ type: 'leaseGrant', req }, as);
  }

  leaseRevoke(req: mvcc.LeaseRevokeRequest, as?: AuthInfo): Promise<mvcc.LeaseRevokeResponse> {
    return this.propose({ type: 'leaseRevoke', req }, as);
  }

  private async callLeader(method: string, body: unknown): Promise<unknown> {
    const deadline = performance.now() + this.requestTimeoutMs;
    for (;;) {
      if (this.stopped) throw new BackendError('stopped', 'etcdserver: server stopped');
      const lead = this.lead;
      if (lead === this.id) return this.handleRpc(this.id, method, body);
      if (lead !== NONE) {
        try {
          return await this.transport.call(lead, method, body, Math.max(100, deadline - performance.now()));
        } catch (err) {
          if (err instanceof RpcError) {
            if (err.code !== 'notLeader' && err.code !== 'unreachable' && err.code !== 'timeout') throw new BackendError(err.code as never, err.message);
          } else throw err;
        }
      }
      if (performance.now() > deadline) throw new BackendError(lead === NONE ? 'noLeader' : 'timeout', lead === NONE ? 'etcdserver: no leader' : 'etcdserver: request timed out');
      await new Promise((r) => setTimeout(r, Math.min(100, this.opts.heartbeatIntervalMs)));
    }
  }

  async leaseKeepAlive(req: mvcc.LeaseKeepAliveRequest): Promise<mvcc.LeaseKeepAliveResponse> {
    const r = (await this.callLeader('leaseRenew', { ID: String(req.ID) })) as { TTL: number };
    return { header: { clusterId: 0n, memberId: 0n, raftTerm: 0, revision: this.sm.currentRevision() }, ID: req.ID, TTL: r.TTL };
  }

  async leaseTimeToLive(req: mvcc.LeaseTimeToLiveRequest): Promise<mvcc.LeaseTimeToLiveResponse> {
    const r = (await this.callLeader('leaseTimeToLive', { ID: String(req.ID), keys: req.keys ? 1 : 0 })) as Omit<mvcc.LeaseTimeToLiveResponse, 'ID'> & { ID: string };
    return { ...r, ID: BigInt(r.ID), keys: (r.keys ?? []).map((k) => (k instanceof Uint8Array ? k : Buffer.from((k as unknown as { data: number[] }).data ?? []))) };
  }

  async leaseLeases(): Promise<mvcc.LeaseLeasesResponse> {
    await this.linearizableBarrier();
    return this.sm.leaseLeases(this.nowMs());
  }

  // ------------------------------------------------------------------ MemberBackend: Cluster

  private activeVoters(): number {
    let n = 0;
    for (const id of this.confState.voters) if (id === this.id || this.transport.isActive(id)) n++;
    return n;
  }

  async memberAdd(peerUrls: readonly string[], isLearner: boolean): Promise<MemberAddResult> {
    for (const u of peerUrls) {
      try {
        const p = new URL(u);
        if ((p.protocol !== 'http:' && p.protocol !== 'https:') || p.port === '') throw new Error('bad');
      } catch {
        throw new BackendError('memberBadUrls', 'etcdserver: given member URLs are invalid');
      }
    }
    if (peerUrls.length === 0) throw new BackendError('memberBadUrls', 'etcdserver: given member URLs are invalid');
    for (const u of peerUrls) if (this.membership.findByPeerUrl(u)) throw new BackendError('peerUrlExist', 'etcdserver: Peer URLs already exists');
    if (isLearner) {
      if (this.membership.learners().length >= this.opts.maxLearners) throw new BackendError('tooManyLearners', 'etcdserver: too many learner members in cluster');
    } else {
      const voters = this.confState.voters.length;
      const active = this.activeVoters();
      // etcd's IsReadyToAddVotingMember: the quorum with the new voter must be started, except
      // when a one-member cluster grows (a restore, --force-new-cluster): it could never grow.
      const growingFromOne = voters === 1 && active === 1;
      if (!growingFromOne && active < Math.floor((voters + 1) / 2) + 1) throw new BackendError('unhealthyCluster', 'etcdserver: unhealthy cluster');
    }
    const id = memberIdOf(peerUrls, this.opts.clusterToken, this.nowMs());
    const member: MemberRecord = { id, name: '', peerUrls: [...peerUrls], clientUrls: [], isLearner };
    const members = await this.proposeConf(isLearner ? 'addLearnerNode' : 'addNode', id, member);
    return { member, members };
  }

  async memberRemove(id: NodeId): Promise<readonly MemberInfo[]> {
    const m = this.membership.get(id);
    if (!m) throw new BackendError('memberNotFound', 'etcdserver: member not found');
    if (!m.isLearner) {
      const votersAfter = this.confState.voters.filter((v) => v !== id);
      const activeAfter = votersAfter.filter((v) => v === this.id || this.transport.isActive(v)).length;
      if (activeAfter < Math.floor(votersAfter.length / 2) + 1) throw new BackendError('unhealthyCluster', 'etcdserver: unhealthy cluster');
    }
    return this.proposeConf('removeNode', id, undefined);
  }

  async memberUpdate(id: NodeId, peerUrls: readonly string[]): Promise<readonly MemberInfo[]> {
    const m = this.membership.get(id);
    if (!m) throw new BackendError('memberNotFound', 'etcdserver: member not found');
    for (const u of peerUrls) {
      const other = this.membership.findByPeerUrl(u);
      if (other && other.id !== id) throw new BackendError('peerUrlExist', 'etcdserver: Peer URLs already exists');
    }
    return this.proposeConf('updateNode', id, { ...m, peerUrls: [...peerUrls] });
  }

  async memberList(linearizable: boolean): Promise<readonly MemberInfo[]> {
    if (linearizable) await this.linearizableBarrier();
    return this.membership.list();
  }

  async memberPromote(id: NodeId): Promise<readonly MemberInfo[]> {
    if (this.role !== 'leader') {
      if (this.lead === NONE) throw new BackendError('noLeader', 'etcdserver: no leader');
      return ((await this.callLeader('memberPromote', { ID: String(id) })) as MemberRecord[]).map(memberRecordFromJson);
    }
    const m = this.membership.get(id);
    if (!m) throw new BackendError('memberNotFound', 'etcdserver: member not found');
    if (!m.isLearner) throw new BackendError('memberNotLearner', 'etcdserver: can only promote a learner member');
    const st = this.node.status();
    const leaderMatch = st.progress?.get(this.id)?.match ?? this.commitIndex;
    const pr = st.progress?.get(id);
    if (!pr || pr.match < leaderMatch * LEARNER_READY_PERCENT || !this.transport.isActive(id)) {
      const err = new BackendError('learnerNotReady', 'etcdserver: can only promote a learner member which is in sync with leader');
      this.opts.runtimeMetrics?.learnerPromoteFailures.inc({ Reason: err.message });
      throw err;
    }
    const voters = this.confState.voters.length;
    // etcd's IsReadyToPromoteMember counts the learner (in sync, connected) as started.
    if (this.activeVoters() + 1 < Math.floor((voters + 1) / 2) + 1) throw new BackendError('unhealthyCluster', 'etcdserver: unhealthy cluster');
    const members = await this.proposeConf('addNode', id, undefined);
    this.opts.runtimeMetrics?.learnerPromoteSuccesses.inc();
    return members;
  }

  // ------------------------------------------------------------------ MemberBackend: Maintenance

  async status(): Promise<MemberStatus> {
    const errors: string[] = [];
    for (const a of this.sm.alarms()) {
      errors.push(`memberID:${hexId(a.memberID)} alarm:${alarmName(a.alarm)} `);
    }
    return {
      dbSizeBytes: this.sm.sizeBytes(),
      dbSizeInUseBytes: this.sm.sizeInUseBytes(),
      leader: this.lead,
      raftIndex: this.commitIndex,
      raftTerm: this.term,
      raftAppliedIndex: this.appliedIndex,
      errors,
      isLearner: this.isLearner(),
      dbSizeQuotaBytes: this.opts.quotaBackendBytes,
    };
  }

  async alarm(req: mvcc.AlarmRequest): Promise<mvcc.AlarmResponse> {
    if (req.action === AlarmAction.GET) {
      const alarms = this.sm.alarms().filter((a) => (req.memberID === 0n || a.memberID === req.memberID) && (req.alarm === AlarmType.NONE || a.alarm === req.alarm));
      return { header: { clusterId: 0n, memberId: 0n, raftTerm: 0, revision: this.sm.currentRevision() }, alarms };
    }
    return this.propose({ type: 'alarm', req });
  }

  async defragment(): Promise<void> {
    // Our store lives in memory; "defragmenting" means finishing physical compaction now.
    const r = this.opts.runtimeMetrics;
    const t0 = performance.now();
    r?.defragInflight.set(1);
    try {
      if (this.compactionRunning) await new Promise<void>((resolve) => this.compactionWaiters.push(resolve));
    } finally {
      r?.defragInflight.set(0);
      r?.defragDurationSeconds.observe((performance.now() - t0) / 1000);
    }
  }

  async hash(): Promise<mvcc.HashResponse> {
    const t0 = performance.now();
    const resp = this.sm.hash();
    this.opts.runtimeMetrics?.hashDurationSeconds.observe((performance.now() - t0) / 1000);
    return resp;
  }

  async hashKV(revision: number): Promise<mvcc.HashKVResponse> {
    const t0 = performance.now();
    const resp = this.sm.hashKV(revision);
    this.opts.runtimeMetrics?.hashRevDurationSeconds.observe((performance.now() - t0) / 1000);
    return resp;
  }

  async snapshot(): Promise<SnapshotStream> {
    // etcd's format (a bbolt database), so etcdutl and etcd itself can read it: etcd-snapshot-stream.ts.
    return etcdSnapshotStream({ store: this.sm, consistentIndex: this.appliedIndex, term: this.term, confState: this.confState, auth: this.sm.auth.toJSON() }, this.opts.snapshotTmpDir);
  }

  async moveLeader(targetId: NodeId): Promise<void> {
    if (this.role !== 'leader') throw new BackendError('notLeader', 'etcdserver: not leader');
    const target = this.membership.get(targetId);
    if (!target || target.isLearner) throw new BackendError('badLeaderTransferee', 'etcdserver: bad leader transferee');
    if (targetId === this.id) return;
    this.node.transferLeader(targetId);
    this.schedule();
    const deadline = performance.now() + Math.max(this.requestTimeoutMs, 3 * this.opts.electionTimeoutMs);
    while (this.lead !== targetId) {
      if (this.stopped) throw new BackendError('stopped', 'etcdserver: server stopped');
      if (performance.now() > deadline) throw new BackendError('timeout', 'etcdserver: request timed out, leader transfer took too long');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  // ------------------------------------------------------------------ MemberBackend: state

  header(): HeaderInfo {
    return { clusterId: this.clusterId, memberId: this.id, raftTerm: this.term, revision: this.sm.currentRevision() };
  }

  hasLeader(): boolean {
    return this.lead !== NONE;
  }

  isLearner(): boolean {
    return this.membership.get(this.id)?.isLearner ?? this.confState.learners.includes(this.id);
  }

  // ------------------------------------------------------------------ for tests and main

  leaderId(): NodeId {
    return this.lead;
  }

  appliedIndexNow(): number {
    return this.appliedIndex;
  }

  roleNow(): StateRole {
    return this.role;
  }

  members(): MemberRecord[] {
    return this.membership.records();
  }

  raftStatus(): ReturnType<RawNode['status']> {
    return this.node.status();
  }
}
