// The member runtime: ties raft, storage, transport and the state machine together, and
// implements the server's MemberBackend. Its parts, each with one job:
//   - ready-loop.ts: the Ready loop (persist, send, hand committed entries on, advance);
//   - apply-loop.ts: applies committed entries in bounded slices (what applying means is here:
//     applyEntry, applyConfChangeEntry, applySnapshotItem);
//   - proposal-queue.ts / proposal-waiters.ts: client proposals on their way into raft, and the
//     callers waiting for them to apply;
//   - read-index.ts: ReadIndex batching for linearizable reads;
//   - compactor.ts: physical compaction in steps, and auto-compaction;
//   - membership-validation.ts: the request- and apply-time membership checks.
// Every part takes time, timers and "later on the loop" from the injected Scheduler
// (scheduler.ts; the real one in bin/tsetcd, a simulated one in test/sim), so the whole member
// runs on simulated time. Applying is total on bad input: a command the validator refuses gets an
// error answer, and an entry that cannot be decoded is skipped alike on every member
// (entry-decode.ts). Only a broken invariant (a throw from the store) stops the member.
// Timers: a tick every --heartbeat-interval; lease expiry/checkpoints on the leader; metrics;
// auto-compaction.

import {
  NONE,
  RawNode,
  SeededRng,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
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
import { isSerializableTxn } from '../mvcc/txn-kind.js';
import type { Transport, TransportHandler } from '../transport/types.js';
import { RpcError } from '../transport/types.js';
import type { AuthCommand, AuthInfo, AuthReply } from '../mvcc/auth-store.js';
import { encodeAuthBody } from './auth-body.js';
import { ENVELOPE_HEADER_BYTES, encodeEnvelope, RequestIds, sealEnvelope, type EnvelopeKind } from './envelope.js';
import type { JwtOptions } from './jwt-tokens.js';
import { INTERNAL_ROOT, MemberAuth } from './member-auth.js';
import { decodeConfEntry, decodeNormalEntry, SkippedEntryError, type Skipped } from './entry-decode.js';
import { ApplyDurations, applyOpName, createApplyMetrics, type ApplyMetrics } from './apply-metrics.js';
import { gaugeOnCollect, HistogramTally } from '../server/counter-tally.js';
import { Membership, encodeConfContext, memberRecordFromJson, type MemberRecord, type MemberAttrs } from './membership.js';
import { memberIdOf, hexId, stringifyWithIds } from './ids.js';
import type { StateMachine } from './state-machine.js';
import { etcdSnapshotStream } from './etcd-snapshot-stream.js';
import { decodeStateSnapshot, encodeStateSnapshot, stateSnapshotParts } from './state-snapshot.js';
import { restoreStateSnapshot } from './state-snapshot-stream.js';
import { StreamedSnapshots } from './streamed-snapshots.js';
import type { SnapshotReader } from '../storage/types.js';
import type { SnapshotBody } from '../transport/snapshot-body.js';
import { awaitExpiredLease } from './lease-renew.js';
import { realScheduler, type Scheduler } from './scheduler.js';
import { ApplyLoop } from './apply-loop.js';
import { ReadyLoop } from './ready-loop.js';
import { ProposalQueue } from './proposal-queue.js';
import { ProposalWaiters } from './proposal-waiters.js';
import { ReadIndexBatcher } from './read-index.js';
import { Compactor, type AutoCompaction } from './compactor.js';
import { PeerDiscovery } from './peer-discovery.js';
import { DEFAULT_SNAPSHOT_CATCH_UP_BYTES, DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES, DEFAULT_SNAPSHOT_LOG_BYTES, compactIndexAfterSnapshot, firstSnapshotDelay, shouldSnapshot, type SnapshotPolicy } from './snapshot-policy.js';
import { checkCanAddLearner, checkCanAddVoter, checkCanPromote, checkCanRemoveVoter, checkNewPeerUrls, checkUpdatedPeerUrls, confChangeRefusal, existingMember } from './membership-validation.js';

/** Longest stretch of applying (or compacting, snapshotting) before yielding to the event loop. */
const APPLY_SLICE_MS = 4;
/** Pending client proposals allowed (etcd: maxGapBetweenApplyAndCommitIndex-like guard). */
const MAX_PENDING_PROPOSALS = 50_000;
/** etcd's readyPercent: a learner is promotable once its match is this close to the leader's. */
const LEARNER_READY_PERCENT = 0.9;
/**
 * The store's snapshot stream comes in chunks of about this size, and the member yields to the
 * event loop between them (APPLY_SLICE_MS): in the compact form a member writes for itself (value
 * offsets, ~20 bytes a revision) 128 KiB is ~6,500 revisions, about a millisecond of work.
 */
const SNAPSHOT_CHUNK_BYTES = 128 * 1024;
/**
 * Entries of raft's log behind the applied index whose payloads stay in memory: a follower that
 * close behind is sent them from memory, one further behind from the WAL. Under etcd's benchmark
 * a follower in replication gets each entry as it is appended; a probe after a restart or a
 * rejection reads back. The rest of the log's payloads (etcd keeps up to 15,000 entries for slow
 * followers) were most of a member's live memory.
 */
const HOT_LOG_ENTRIES = 1024;
const HOT_LOG_BYTES = 4 * 2 ** 20;
const LEASE_CHECKPOINT_INTERVAL_MS = 5 * 60_000;

/** An iterable whose first step has already run (now); iterate it once. close() ends it early (its pins go). */
function startedIterable<T>(src: Iterable<T>): Iterable<T> & { close(): void } {
  const it = src[Symbol.iterator]();
  const first = it.next();
  return {
    *[Symbol.iterator]() {
      try {
        for (let r = first; !r.done; r = it.next()) yield r.value;
      } finally {
        it.return?.();
      }
    },
    close: () => void it.return?.(),
  };
}

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
  /** Applied entries whose payloads raft's log keeps in memory; older ones are read back from the WAL (default HOT_LOG_ENTRIES). */
  readonly hotLogEntries?: number;
  /** Ceiling of the byte trigger of a snapshot (snapshot-policy.ts; default 1 GiB). */
  readonly snapshotLogBytes?: number;
  /** Payload bytes kept in raft's memory log behind a snapshot for slow followers (default 128 MiB). */
  readonly snapshotCatchUpBytes?: number;
  readonly maxLearners: number;
  readonly quotaBackendBytes: number;
  readonly autoCompaction?: AutoCompaction;
  /** etcd's --experimental-watch-progress-notify-interval; default 10 min. */
  readonly progressNotifyIntervalMs?: number;
  /** Request timeout; etcd: 5 s + 2 x election timeout. */
  readonly requestTimeoutMs?: number;
  readonly logger: Logger;
  readonly metrics?: MemberMetrics;
  readonly runtimeMetrics?: RuntimeMetrics;
  readonly storage: MemberStorage;
  /** What storage recovered at open. */
  readonly recovered: { readonly snapshot?: Snapshot; readonly snapshotReader?: SnapshotReader; readonly hardState: import('../raft/types.js').HardState; readonly entries: readonly Entry[] };
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
  /** Time and timers (default: the process's own). */
  readonly scheduler?: Scheduler;
  /** Wall clock override (default: the scheduler's). */
  readonly nowMs?: () => number;
  /** --auth-token-ttl in ms (simple tokens; default 300 s). */
  readonly authTokenTtlMs?: number;
  /** --auth-token jwt,...: sign tokens as JWTs. */
  readonly authJwt?: JwtOptions;
}

/** etcd's AlarmType name (pb.AlarmType.String()). */
function alarmName(t: number): string {
  return t === AlarmType.NOSPACE ? 'NOSPACE' : t === AlarmType.CORRUPT ? 'CORRUPT' : 'NONE';
}

const ttlAnswer = (TTL: number): { TTL: number } => ({ TTL });

/**
 * The lease or member id of a peer request. Ids travel between members as decimal strings (JSON
 * has no 64-bit integers); an older member sends a number, which BigInt takes too.
 */
function peerRequestId(body: unknown): bigint {
  return BigInt((body as { ID?: string | number }).ID ?? 0);
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
  private readonly snapshotPolicy: SnapshotPolicy;
  private readonly sm: StateMachine;
  private readonly storage: MemberStorage;
  /** Snapshot data on disk and in streams, not in raft's memory (streamed-snapshots.ts). */
  private readonly snapshots: StreamedSnapshots;
  private readonly sched: Scheduler;
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
  /** A follower's proposals are to be forwarded at the end of this turn (scheduleProposal). */
  private forwardScheduled = false;

  // raft view
  private lead: NodeId = NONE;
  private role: StateRole = 'follower';
  private term = 0;
  private commitIndex = 0;
  private confState: ConfState = { voters: [], learners: [] };

  // the parts
  private readyLoop!: ReadyLoop;
  private readonly applyLoop: ApplyLoop;
  private readonly proposals: ProposalQueue;
  private readonly waiters: ProposalWaiters;
  private readonly reads: ReadIndexBatcher;
  private readonly compactor: Compactor;
  private readonly discovery: PeerDiscovery;

  // applied state
  private appliedIndex = 0;
  private snapshotIndex = 0;
  /** Whether this member has saved a snapshot of its own since it started (firstSnapshotDelay). */
  private snapshottedSinceStart = false;
  /** firstSnapshotDelay as last worked out, and the voters it was worked out for. */
  private firstDelay = 0;
  private firstDelayVoters: readonly NodeId[] | undefined;
  /** raftStorage.coldEntriesRead as last counted in tsetcd_raft_log_wal_read_entries_total. */
  private walReadsReported = 0;
  private snapshotInProgress = false;
  /** The local snapshot under way (or the last one), for callers that must wait for it. */
  private snapshotRun: Promise<void> = Promise.resolve();

  /** Peers whose connection was up at the last gauge update (etcd_network_disconnected_peers_total). */
  private activePeersSeen = new Set<NodeId>();
  private cancelTimers: Array<() => void> = [];
  private attrsPublished = false;
  /** Auth entries' apply and the member-local token table. */
  private readonly memberAuth: MemberAuth;
  readonly auth: AuthBackend;

  constructor(opts: MemberOptions) {
    this.opts = opts;
    // Made once: maybeSnapshot reads it after every apply slice.
    this.snapshotPolicy = {
      count: opts.snapshotCount,
      logBytes: opts.snapshotLogBytes ?? DEFAULT_SNAPSHOT_LOG_BYTES,
      catchUpEntries: opts.snapshotCatchUpEntries ?? DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES,
      catchUpBytes: opts.snapshotCatchUpBytes ?? DEFAULT_SNAPSHOT_CATCH_UP_BYTES,
    };
    this.id = opts.id;
    this.clusterId = opts.clusterId;
    this.log = opts.logger;
    this.applyMetrics = opts.metrics ? createApplyMetrics(opts.metrics.registry) : undefined;
    this.applyDurations = opts.metrics ? new ApplyDurations(opts.metrics.applyDurationSeconds) : undefined;
    const rd = opts.runtimeMetrics?.rangeDurationSeconds;
    this.rangeDurations = rd ? [new HistogramTally(rd, { success: 'false' }), new HistogramTally(rd, { success: 'true' })] : undefined;
    this.sm = opts.stateMachine;
    const sm = opts.stateMachine;
    this.snapshots = new StreamedSnapshots(
      opts.storage,
      opts.logger,
      // Our own snapshot files may name value-log offsets; a peer gets the values (value-log.ts).
      sm.snapshotExpander && sm.pinValues ? { snapshotExpander: (read) => sm.snapshotExpander!(read), pinValues: () => sm.pinValues!() } : undefined,
    );
    this.storage = this.snapshots.storage;
    const sched = (this.sched = opts.scheduler ?? realScheduler);
    this.nowMs = opts.nowMs ?? (() => sched.nowMs());
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
    const stopped = (): boolean => this.stopped;
    this.waiters = new ProposalWaiters({
      scheduler: sched,
      timeoutMs: this.requestTimeoutMs,
      leader: () => this.lead,
      onFailed: () => this.opts.metrics?.proposalsFailed.inc(),
    });
    this.proposals = new ProposalQueue({ waiting: (id) => this.waiters.has(id), fail: (id, err) => this.waiters.fail(id, err) });
    this.applyLoop = new ApplyLoop({
      scheduler: sched,
      sliceMs: APPLY_SLICE_MS,
      durableSeq: () => this.readyLoop?.durableSeq() ?? 0,
      stopped,
      applyEntry: (e) => this.applyEntry(e),
      applySnapshot: async (s) => {
        const r = this.opts.runtimeMetrics;
        r?.snapshotApplyInProgress.set(1);
        try {
          await this.applySnapshotItem(s);
        } finally {
          r?.snapshotApplyInProgress.set(0);
        }
      },
      afterSlice: () => this.afterApply(),
      onSlowApply: () => this.opts.metrics?.slowApplies.inc(),
      // Bad input never gets there (entry-decode.ts and the store answer it); this is a broken
      // invariant, and applying on could make this member silently disagree with the others.
      onFatal: (err) => this.die('broken invariant while applying; stopping the member', err),
      onIdle: () => this.schedule(),
    });
    this.reads = new ReadIndexBatcher({
      id: this.id,
      scheduler: sched,
      timeoutMs: this.requestTimeoutMs,
      // etcd retries every 500 ms.
      retryMs: Math.max(500, 2 * opts.heartbeatIntervalMs),
      requestReadIndex: (ctx) => {
        this.node.readIndex(ctx);
        this.schedule();
      },
      appliedIndex: () => this.appliedIndex,
      stopped,
      onRoundFailed: () => this.opts.metrics?.readIndexesFailed.inc(),
      onRoundSlow: () => this.opts.metrics?.slowReadIndexes.inc(),
    });
    this.compactor = new Compactor({
      scheduler: sched,
      sm: this.sm,
      sliceMs: APPLY_SLICE_MS,
      electionTimeoutMs: opts.electionTimeoutMs,
      metrics: opts.runtimeMetrics,
      stopped,
      isLeader: () => this.role === 'leader',
      proposeCompaction: (rev) => {
        this.log.info('auto-compaction', { revision: rev });
        // As root, like etcd's compactor (only root may compact while auth is on).
        this.propose({ type: 'compaction', req: { revision: rev } }, this.sm.auth.enabled ? INTERNAL_ROOT : undefined).catch((err: unknown) => this.log.warn('auto-compaction failed', { err, revision: rev }));
      },
      onFatal: (err) => this.die('compaction failed', err),
      onIdle: () => this.autoDefragment(),
    });
    this.discovery = new PeerDiscovery({
      self: this.id,
      scheduler: sched,
      log: this.log,
      transport: () => this.transport,
      retryMs: opts.electionTimeoutMs,
      timeoutMs: opts.electionTimeoutMs,
    });
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const rec = this.opts.recovered;
    let snap: Snapshot;
    if (rec.snapshot) {
      snap = rec.snapshot;
      await this.restoreFromSnapshot(snap, rec.snapshotReader);
    } else if (this.opts.initialMembers && this.opts.initialMembers.length > 0) {
      this.membership = Membership.fromJSON({ members: this.opts.initialMembers.map((m) => ({ ...m, peerUrls: [...m.peerUrls], clientUrls: [...m.clientUrls] })), removed: [] });
      snap = this.bootstrapSnapshot();
    } else {
      snap = { data: new Uint8Array(0), metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } } };
    }
    this.raftStorage = new MemoryStorage(snap, rec.hardState, [...rec.entries]);
    const wal = this.storage;
    if (wal.readEntries && wal.writtenIndex) this.raftStorage.setColdSource((lo, hi) => wal.readEntries!(lo, hi));
    this.appliedIndex = snap.metadata.index;
    this.snapshotIndex = snap.metadata.index;
    this.confState = snap.metadata.confState;
    this.term = rec.hardState.term;
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
    this.readyLoop = new ReadyLoop({
      scheduler: this.sched,
      node: this.node,
      raftStorage: this.raftStorage,
      storage: this.storage,
      applyLoop: this.applyLoop,
      savedTerm: rec.hardState.term,
      savedVote: rec.hardState.vote,
      send: (msgs) => {
        if (msgs.length > 0) this.transport.send(msgs);
      },
      // Under many clients the appends keep leaving at the turn's end: hurried, they made the
      // followers ack sooner and the leader commit smaller batches (more CPU per put).
      flushSends: () => {
        if (this.lightLoad()) this.transport.flushQueued?.();
      },
      role: () => this.role,
      appliedIndex: () => this.appliedIndex,
      stopped: () => this.stopped,
      fatal: () => this.fatal,
      flushProposals: () => this.proposals.flush(this.node, this.lead, this.role === 'leader' ? this.term : undefined),
      onSoftState: (ss) => this.onSoftState(ss),
      onHardState: (hs) => {
        this.term = hs.term;
        this.commitIndex = hs.commit;
      },
      onReadState: (rs) => this.reads.onReadState(rs),
      redeliver: (m) => this.receive(m),
      die: (reason, err) => this.die(reason, err),
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
      gaugeOnCollect(m.proposalsCommitted, () => this.commitIndex);
      gaugeOnCollect(m.proposalsApplied, () => this.appliedIndex);
      gaugeOnCollect(m.proposalsPending, () => this.waiters.size);
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

    // Through the Ready loop: a tick waits while a Ready's write is under way (ReadyLoop.tick).
    this.every(this.opts.heartbeatIntervalMs, () => this.readyLoop.tick());
    this.every(500, () => this.leaseHousekeeping());
    this.every(1000, () => {
      this.updateGauges();
      this.maybePublishAttrs();
    });
    this.every(5000, () => this.logProposalLatency());
    this.every(this.opts.progressNotifyIntervalMs ?? 10 * 60_000, () => this.sm.progressTick());
    const auto = this.opts.autoCompaction ? this.compactor.autoCompactionTimer(this.opts.autoCompaction) : undefined;
    if (auto) this.every(auto.intervalMs, auto.run);
    // A single voter needs nobody's vote: campaign now instead of waiting an election timeout.
    if (this.confState.voters.length === 1 && this.confState.voters[0] === this.id && this.confState.learners.length === 0) {
      this.node.campaign();
    }
    this.schedule();
  }

  private every(ms: number, f: () => void): void {
    this.cancelTimers.push(
      this.sched.every(ms, () => {
        if (this.stopped) return;
        try {
          f();
        } catch (err) {
          this.die('timer task failed', err);
        }
      }),
    );
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.readyLoop?.releaseConfWait();
    for (const cancel of this.cancelTimers) cancel();
    this.cancelTimers = [];
    const stoppedErr = (): BackendError => new BackendError('stopped', 'etcdserver: server stopped');
    this.waiters.failAll(stoppedErr());
    this.reads.failAll(stoppedErr());
    await this.transport?.stop();
    // Let an in-flight Ready finish its save before closing storage.
    const deadline = this.sched.monoMs() + 5000;
    while ((this.readyLoop?.busy() || this.snapshotInProgress) && this.sched.monoMs() < deadline) await this.sched.sleep(5);
    await this.storage.close().catch(() => {});
    this.log.info('member stopped', { id: hexId(this.id) });
  }

  private die(reason: string, err?: unknown): void {
    if (this.fatal) return;
    this.fatal = true;
    this.readyLoop?.releaseConfWait();
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
    // A sender we have no address for (we lag behind the conf change that added it): find it.
    if (this.membership.get(m.from) === undefined) this.discovery.unknownSender(m.from);
    if (m.type === 'snap' && !this.snapshotFramingOk(m)) return;
    // A snapshot waits while a committed conf change is not applied yet (ready-loop.ts).
    if (m.type === 'snap' && this.readyLoop.holdSnapshot(m)) return;
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
    if (m.snapshot?.data.byteLength === 0 && this.snapshots.holds(m)) return true; // checked at accept
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

  /** A snapshot the transport spooled to a file: kept as a stream, then stepped like any message. */
  receiveSnapshot(m: Message, body: SnapshotBody): void {
    if (this.stopped || !this.started) {
      void body.release?.();
      return;
    }
    void this.snapshots.accept(m, body).then((ok) => ok && this.receive(m));
  }

  /** The data of a snapshot this member sends: its snapshot file, streamed. */
  snapshotBody(m: Message): Promise<SnapshotBody | undefined> {
    return this.snapshots.body(m);
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
    this.sched.after(Math.max(1000, 2 * this.opts.electionTimeoutMs), () => this.die('the member has been permanently removed from the cluster'));
  }

  clusterInfo(): unknown {
    // JSON on the peer wire: ids as decimal strings (bootstrap.ts joinInfo reads them back).
    return JSON.parse(stringifyWithIds({ clusterId: this.clusterId, members: this.membership.records() })) as unknown;
  }

  handleRpc(from: NodeId, method: string, body: unknown): Promise<unknown> {
    // The common one (every keep-alive a follower forwards) without the others' frame.
    if (method === 'leaseRenew') return this.renewLease(body).then(ttlAnswer);
    return this.handleOtherRpc(from, method, body);
  }

  /** A keep-alive, on the leader (etcd's LeaseRenew): the renewed TTL, or 0 for a lease that is gone. */
  private async renewLease(body: unknown): Promise<number> {
    if (this.role !== 'leader') throw new BackendError('notLeader', 'etcdserver: not leader');
    // Confirm leadership with a quorum and apply everything committed first (a ReadIndex
    // round; etcd's ensureLeadership does one when the leader may be stale). A leader just
    // elected may hold a revoke of this lease from an earlier term that it has not
    // committed yet, and a leader resuming from a pause may no longer lead: renewing then
    // would promise a lease that is about to be revoked (whole-member simulator, W3).
    await this.linearizableBarrier();
    if (this.role !== 'leader') throw new BackendError('notLeader', 'etcdserver: not leader');
    const id = peerRequestId(body);
    const r = this.sm.leaseRenew(id, this.sched.monoMs());
    if (r.expired) {
      const exists = (): boolean => this.sm.leaseTimeToLive({ ID: id, keys: false }, this.sched.monoMs()).TTL !== -1;
      return awaitExpiredLease({ exists, isLeader: () => this.role === 'leader', scheduler: this.sched, timeoutMs: this.requestTimeoutMs, pollMs: this.opts.heartbeatIntervalMs });
    }
    this.opts.runtimeMetrics?.leaseRenewed.inc();
    if (r.clearCheckpoint) this.proposeInternal({ type: 'leaseCheckpoint', req: { checkpoints: [{ ID: id, remainingTTL: 0 }] } });
    return r.ttl;
  }

  private async handleOtherRpc(from: NodeId, method: string, body: unknown): Promise<unknown> {
    const b = body as Record<string, number>;
    const idArg = (): bigint => peerRequestId(body);
    switch (method) {
      case 'leaseTimeToLive': {
        if (this.role !== 'leader') throw new BackendError('notLeader', 'etcdserver: not leader');
        const r = this.sm.leaseTimeToLive({ ID: idArg(), keys: Boolean(b['keys']) }, this.sched.monoMs());
        return { ...r, ID: String(r.ID) };
      }
      case 'memberPromote':
        return (await this.memberPromote(idArg())).map((m) => ({ ...m, id: String(m.id) }));
      case 'peerUrls':
        // peer-discovery.ts: a lagging member asks for the address of a member it does not know.
        return this.membership.isRemoved(idArg()) ? [] : (this.membership.get(idArg())?.peerUrls ?? []);
      default:
        void from;
        throw new BackendError('notCapable', `unknown peer request ${method}`);
    }
  }


  // ------------------------------------------------------------------ Ready loop (ready-loop.ts)

  /**
   * With at most one client request waiting here (one client writing, or none), nothing would
   * join the next Ready in a later turn: it runs once this turn's microtasks are done
   * (ReadyLoop.scheduleAtOnce). With more waiting, a later turn gathers a whole poll phase of
   * proposals and peer messages into one Ready, as before.
   */
  private schedule(): void {
    if (this.lightLoad()) this.readyLoop?.scheduleAtOnce();
    else this.readyLoop?.schedule();
  }

  /** At most one client request waits here: nothing would share its Ready or its appends. */
  private lightLoad(): boolean {
    return this.waiters.size <= 1;
  }

  /**
   * Whether a WAL fdatasync may block this thread (storage's syncHere): a follower with no write
   * or linearizable read of its own waiting. A follower acknowledges an append only once it is
   * durable and has nothing else to do meanwhile. A leader has: the followers' answers, which
   * commit without its own write when its disk is the slow one.
   */
  quietFollower(): boolean {
    return this.role === 'follower' && this.waiters.size === 0 && this.reads.waiting === 0;
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
      this.reads.onLeaderChange();
    }
    if (ss.raftState === 'leader' && prevRole !== 'leader') {
      // Lease deadlines run on the monotonic clock, as etcd's lessor does (Go's time carries a
      // monotonic reading): a step of the wall clock must neither expire nor extend a lease.
      this.sm.leasePromote(this.sched.monoMs(), this.opts.electionTimeoutMs);
    } else if (ss.raftState !== 'leader' && prevRole === 'leader') {
      this.sm.leaseDemote();
    }
    if (m) {
      m.hasLeader.set(ss.lead !== NONE ? 1 : 0);
      m.isLeader.set(ss.raftState === 'leader' ? 1 : 0);
    }
  }


  // ------------------------------------------------------------------ apply (apply-loop.ts runs it)

  private kickApply(): void {
    this.applyLoop.kick();
  }

  private afterApply(): void {
    this.demoteColdEntries();
    this.readyLoop.onApplied(this.appliedIndex);
    this.sm.afterApply();
    this.kickBackgroundIfPending();
    // Linearizable reads whose index is now applied.
    this.reads.onApplied(this.appliedIndex);
    this.maybeSnapshot();
    this.compactor.kick();
  }

  /** Entries raft's log has read back from the WAL (raft/memory-storage.ts, "Cold entries"). */
  raftLogWalReads(): number {
    return this.raftStorage?.coldEntriesRead ?? 0;
  }

  /**
   * Lets raft's log drop the payloads of entries applied and written to the WAL, all but the
   * newest HOT_LOG_ENTRIES (and HOT_LOG_BYTES): the ones kept for slow followers are read back
   * from the WAL when one needs them (raft/memory-storage.ts, "Cold entries").
   */
  private demoteColdEntries(): void {
    const written = this.storage.writtenIndex?.();
    if (written === undefined) return;
    const safe = Math.min(this.appliedIndex, written);
    const upTo = Math.max(safe - (this.opts.hotLogEntries ?? HOT_LOG_ENTRIES), this.raftStorage.indexKeepingBytes(safe, HOT_LOG_BYTES));
    this.raftStorage.demote(upTo);
  }

  /** A snapshot once enough entries, or enough bytes of them, were applied since the last one. */
  private maybeSnapshot(): void {
    if (this.snapshotInProgress || this.stopped) return;
    const since = {
      entries: this.appliedIndex - this.snapshotIndex,
      bytes: this.raftStorage.bytesBetween(this.snapshotIndex, this.appliedIndex),
    };
    // The trigger grows with what a snapshot writes: the whole state, or only the index when our
    // snapshots name value-log offsets (then it sits at its 64 MiB floor, and a restart replays
    // at most about that much WAL).
    // Old value-log segments a Defragment retired wait for snapshots that no longer name them.
    const freeing = (this.sm.snapshotsToFree?.() ?? 0) > 0 && since.entries > 0;
    const count = this.snapshotPolicy.count;
    const extra = this.snapshottedSinceStart || since.entries < count ? 0 : this.firstSnapshotDelay();
    if (freeing || shouldSnapshot(this.snapshotPolicy, since, this.sm.snapshotCostBytes?.() ?? this.sm.sizeInUseBytes(), extra)) void this.startSnapshot();
  }

  /** firstSnapshotDelay for the current voters, worked out again only when they change. */
  private firstSnapshotDelay(): number {
    const voters = this.confState.voters;
    if (this.firstDelayVoters !== voters) {
      this.firstDelayVoters = voters;
      this.firstDelay = firstSnapshotDelay(this.snapshotPolicy.count, this.id, voters);
    }
    return this.firstDelay;
  }

  private startSnapshot(): Promise<void> {
    if (!this.snapshotInProgress) this.snapshotRun = this.takeSnapshot();
    return this.snapshotRun;
  }

  private async applySnapshotItem(s: Snapshot): Promise<void> {
    if (s.metadata.index > 0 && s.metadata.index <= this.appliedIndex) return;
    this.log.info('applying snapshot', { index: s.metadata.index, term: s.metadata.term });
    const started = this.sched.monoMs();
    let slice = this.sched.monoMs();
    // Data from a snapshot file is checked by its own checksum as it is read (streamed-snapshots.ts).
    const checked = s.data.byteLength === 0;
    const st = await restoreStateSnapshot(await this.snapshots.open(s), this.sm, async () => {
      if (this.sched.monoMs() - slice > APPLY_SLICE_MS) {
        await this.sched.yield();
        slice = this.sched.monoMs();
      }
    }, { checked });
    this.membership = Membership.fromJSON(st.membership);
    this.sm.auth.restore(st.membership.auth);
    this.memberAuth.tokens.clear();
    this.log.info('applied snapshot', { index: s.metadata.index, ms: Math.round(this.sched.monoMs() - started) });
    this.autoDefragment();
    this.appliedIndex = s.metadata.index;
    this.snapshotIndex = s.metadata.index;
    this.confState = s.metadata.confState;
    this.syncTransportPeers();
  }

  private async restoreFromSnapshot(s: Snapshot, reader: SnapshotReader | undefined): Promise<void> {
    // The bootstrap snapshot (index 0) carries membership only: the store stays the empty store.
    const started = this.sched.monoMs();
    // Data from a snapshot file was checked whole by recovery (storage.ts), or is checked as it is read.
    const st = await restoreStateSnapshot(await this.snapshots.open(s, reader), this.sm, async () => undefined, { checked: s.data.byteLength === 0 });
    this.membership = Membership.fromJSON(st.membership);
    this.sm.auth.restore(st.membership.auth);
    this.log.info('restored the state from the snapshot', { index: s.metadata.index, bytes: st.bytes, ms: Math.round(this.sched.monoMs() - started) });
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
          if (d.proposer === this.id) this.waiters.settle(d.requestId, { ok: false, error: denied });
          applied = durations?.tally(applyOpName('mvcc', d.cmd.type), false);
        } else {
          // Expected failures (bad requests included) come back as { ok: false }; a throw from
          // here is a broken invariant in the store and stops the member (drainApply).
          // The store answers its ApplyResult ({ ok, response } or { ok: false, error }).
          const r = this.sm.apply(d.cmd, e.index) as unknown as { ok: boolean; response?: unknown; error?: { code?: unknown } };
          this.afterMvccApply(d.cmd, r.ok ? r.response : undefined);
          if (d.proposer === this.id) this.waiters.settle(d.requestId, r);
          applied = durations?.tally(applyOpName('mvcc', d.cmd.type), r.ok || r.error?.code === 'compacted');
        }
      } else if (d.kind === 'auth') {
        const r = this.memberAuth.apply(d.cmd, d.ai, e.index);
        if (d.proposer === this.id) this.waiters.settle(d.requestId, r);
        applied = durations?.tally(applyOpName('auth', d.cmd.type), r.ok);
      } else if (d.kind === 'downgrade') {
        this.membership.setDowngrade(d.info);
        if (d.proposer === this.id) this.waiters.settle(d.requestId, { ok: true, response: undefined });
        applied = durations?.tally('DowngradeInfoSet', true);
      } else {
        this.membership.applyAttrs(d.attrs);
        if (d.proposer === this.id) this.waiters.settle(d.requestId, { ok: true, response: undefined });
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
    if (s.proposer === this.id && s.requestId !== undefined) this.waiters.fail(s.requestId, new SkippedEntryError(s.reason));
  }

  private afterMvccApply(cmd: mvcc.Command, response: unknown): void {
    if (cmd.type === 'compaction') this.compactor.kick();
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
    const refusal = confChangeRefusal(this.membership, cc, this.opts.maxLearners);
    if (refusal) {
      // Tell raft the change is over without changing the configuration: an updateNode of
      // an existing voter (or ourselves) is a no-op in raft.
      this.confState = this.node.applyConfChange({ type: 'updateNode', nodeId: this.id, context: new Uint8Array(0) });
      if (mine) this.waiters.fail(ctx.requestId, refusal);
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
    if (mine) this.waiters.settle(ctx.requestId, { ok: true, response: this.membership.list() });
    if (cc.type === 'removeNode' && cc.nodeId === this.id) {
      this.log.warn('this member has been permanently removed from the cluster; stopping');
      // Like etcd: stop after a short delay, so the answer to the client that removed us leaves first.
      this.sched.after(10 * this.opts.heartbeatIntervalMs, () => this.die('the member has been permanently removed from the cluster'));
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
    const started = this.sched.monoMs();
    const index = this.appliedIndex;
    try {
      const term = this.raftStorage.term(index);
      const confState = this.confState;
      // Captured with the store's chunks below, synchronously: both are the state at `index`.
      const membership = { ...this.membership.toJSON(), auth: this.sm.auth.toJSON() };
      // Streamed from the store into the snapshot file: no whole-state copy in memory. The store
      // pins the state the iterator started at while it runs; raft keeps the metadata only.
      let bytes = 0;
      let sliceStart = this.sched.monoMs();
      const { sm, sched } = this;
      // Over a kept value log the file names value offsets instead of carrying the values: it
      // costs the index, not the data (value-log.ts, whose header has the crash argument).
      const local = sm.localSnapshot?.(SNAPSHOT_CHUNK_BYTES);
      // The store's stream starts here, synchronously with `index` and `membership` (its first step
      // reads the revision it snapshots); started lazily inside stateSnapshotParts it would begin
      // only after saveSnapshot's first writes, and entries applied meanwhile would be in the
      // snapshot and applied again on top of it after a restart.
      const storeChunks = startedIterable(local?.chunks ?? sm.snapshotChunks(SNAPSHOT_CHUNK_BYTES));
      async function* parts(): AsyncGenerator<Uint8Array> {
        for await (const c of stateSnapshotParts(membership, storeChunks)) {
          bytes += c.byteLength;
          yield c;
          if (sched.monoMs() - sliceStart > APPLY_SLICE_MS) {
            await sched.yield();
            sliceStart = sched.monoMs();
          }
        }
        // The values it names are durable before the file is (saveSnapshot renames it after this).
        await local?.durable();
      }
      let saved = false;
      try {
        await this.storage.saveSnapshot({ metadata: { index, term, confState }, data: parts() });
        saved = true;
      } finally {
        storeChunks.close();
        local?.end(saved);
      }
      if (this.stopped) return;
      if (index > this.raftStorage.snapshot().metadata.index) {
        this.raftStorage.createSnapshot(index, confState, new Uint8Array(0));
        const compactTo = compactIndexAfterSnapshot(this.snapshotPolicy, index, (upTo, max) => this.raftStorage.indexKeepingBytes(upTo, max));
        if (compactTo > this.raftStorage.firstIndex()) this.raftStorage.compact(compactTo);
      }
      this.snapshotIndex = Math.max(this.snapshotIndex, index);
      this.snapshottedSinceStart = true;
      // Not past what raft's log still holds: its cold entries are read back from the WAL.
      await this.storage.releaseTo(Math.min(index, this.raftStorage.firstIndex() - 1));
      this.opts.metrics?.snapshotSaveTotalDurationSeconds.observe((this.sched.monoMs() - started) / 1000);
      this.log.info('saved snapshot', { index, term, bytes, ms: Math.round(this.sched.monoMs() - started) });
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

  /** kickBackground when there is catch-up to do: most applies and creates leave none. */
  private kickBackgroundIfPending(): void {
    if (this.sm.backgroundPending?.() !== false) this.kickBackground();
  }

  /** Watch catch-up (historical replay, slow watchers) in bounded steps between events. */
  private kickBackground(): void {
    if (this.backgroundRunning || this.stopped) return;
    this.backgroundRunning = true;
    void (async () => {
      try {
        for (;;) {
          const start = this.sched.monoMs();
          let idle = false;
          while (!idle && this.sched.monoMs() - start < APPLY_SLICE_MS) idle = this.sm.backgroundStep();
          if (idle || this.stopped) break;
          await this.sched.yield();
        }
      } catch (err) {
        this.log.warn('watch catch-up step failed', { err });
      } finally {
        this.backgroundRunning = false;
      }
    })();
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
    const data = as === undefined ? sealEnvelope('mvcc', this.id, requestId, encodeCommand(cmd, ENVELOPE_HEADER_BYTES)) : encodeEnvelope('mvccAs', this.id, requestId, encodeAuthBody(as, encodeCommand(cmd)));
    return this.submit<T>(requestId, data);
  }

  /** A proposal nobody waits for (lease revokes on expiry, checkpoints). */
  /** `leaderTerm`: propose only while leading in that term (never forwarded by a deposed leader). */
  private proposeInternal(cmd: mvcc.Command, leaderTerm?: number): void {
    const body = encodeCommand(cmd);
    const data = this.sm.auth.enabled ? encodeEnvelope('mvccAs', this.id, 0, encodeAuthBody(INTERNAL_ROOT, body)) : encodeEnvelope('mvcc', this.id, 0, body);
    if (leaderTerm === undefined) this.proposals.push(data);
    else this.proposals.pushLeaderOnly(data, leaderTerm);
    this.scheduleProposal();
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
    return this.submit<T>(requestId, data);
  }

  /** Queues an entry for raft and waits for this member to apply it. */
  private submit<T>(requestId: number, data: Uint8Array): Promise<T> {
    return this.waiters.wait<T>(requestId, () => {
      this.proposals.push(data);
      this.scheduleProposal();
    });
  }

  /**
   * schedule(), and on a follower whose Ready loop waits for a write, the queued proposals go to
   * the leader at the end of this turn instead of after that write (ProposalQueue.forward).
   */
  private scheduleProposal(): void {
    if (this.role === 'follower' && !this.forwardScheduled && this.readyLoop?.busy()) {
      this.forwardScheduled = true;
      this.sched.soon(() => {
        this.forwardScheduled = false;
        if (!this.stopped && !this.fatal) this.proposals.forward(this.node, (m) => this.transport.send([m]));
      });
    }
    this.schedule();
  }

  private proposeConf(type: ConfChange['type'], nodeId: NodeId, member: MemberRecord | undefined): Promise<readonly MemberInfo[]> {
    const requestId = this.requestIds.take();
    const ctx = encodeConfContext(member ? { member, proposer: this.id, requestId } : { proposer: this.id, requestId });
    const cc: ConfChange = { type, nodeId, context: ctx };
    return this.waiters.wait<readonly MemberInfo[]>(requestId, () => {
      this.proposals.pushConf(cc);
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
    this.submit(requestId, data).then(
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

  // ------------------------------------------------------------------ reads (read-index.ts)

  /** Resolves once this member has applied everything committed before the call (ReadIndex). */
  linearizableBarrier(): Promise<void> {
    return this.reads.barrier();
  }

  // ------------------------------------------------------------------ lease housekeeping

  private housekeepingRunning = false;

  /**
   * Revokes expired leases and checkpoints remaining TTLs, on a leader whose leadership a quorum
   * has just confirmed (a ReadIndex round, as etcd's revoke loop does with ensureLeadership). A
   * leader resuming from a pause sees every lease expired by its own clock; without the round it
   * queued their revokes, stepped down on the new leader's first message, and then forwarded
   * them to that leader, which committed them (whole-member simulator, W4). The revokes are also
   * proposed for this term only: if leadership moves before they reach raft, they are dropped.
   */
  private leaseHousekeeping(): void {
    if (this.role !== 'leader' || this.housekeepingRunning) return;
    this.housekeepingRunning = true;
    const term = this.term;
    void this.linearizableBarrier()
      .then(() => {
        if (this.role !== 'leader' || this.term !== term || this.stopped) return;
        const now = this.sched.monoMs();
        for (const id of this.sm.leaseExpired(now, 64)) {
          this.log.info('lease expired; revoking', { lease: hexId(id) });
          this.opts.runtimeMetrics?.leaseExpired.inc();
          this.proposeInternal({ type: 'leaseRevoke', req: { ID: id } }, term);
        }
        const due = this.sm.leaseCheckpointsDue(now, LEASE_CHECKPOINT_INTERVAL_MS, 1000);
        if (due.length > 0) this.proposeInternal({ type: 'leaseCheckpoint', req: { checkpoints: due } }, term);
      })
      .catch(() => undefined) // no confirmed leadership this round: nothing to revoke
      .finally(() => {
        this.housekeepingRunning = false;
      });
  }

  /** Debug aid: where a write's time goes inside the member (propose -> applied here). */
  private logProposalLatency(): void {
    const l = this.waiters.takeLatencies();
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
    m.isLearner.set(this.isLearner() ? 1 : 0);
    m.watchers.set(this.sm.watcherCount());
    const r = this.opts.runtimeMetrics;
    if (!r) return;
    r.mvccKeys.set(this.sm.keyCount());
    r.raftLogEntries.set(this.raftStorage.lastIndex() - this.raftStorage.firstIndex() + 1);
    r.raftLogBytes.set(this.raftStorage.bytes());
    r.raftLogMemoryBytes.set(this.raftStorage.memoryBytes());
    r.raftLogWalReads.inc(this.raftStorage.coldEntriesRead - this.walReadsReported);
    this.walReadsReported = this.raftStorage.coldEntriesRead;
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

  range(req: mvcc.RangeRequest, opts: { readonly linearizable: boolean }): Promise<mvcc.RangeResponse> {
    if (opts.linearizable) return this.linearizableBarrier().then(() => this.rangeLocal(req));
    return this.rangeLocal(req);
  }

  /** The local read after any barrier. One key is one index lookup: read at once, no async frames. */
  private rangeLocal(req: mvcc.RangeRequest): Promise<mvcc.RangeResponse> {
    const t0 = this.sched.monoMs();
    if (this.sm.rangeChunked && (req.rangeEnd?.length ?? 0) > 0) {
      return this.sm.rangeChunked(req, () => this.sched.yield()).then(
        (resp) => {
          this.observeRange(t0, true);
          return resp;
        },
        (err: unknown) => {
          this.observeRange(t0, false);
          throw err;
        },
      );
    }
    let resp: mvcc.RangeResponse;
    try {
      resp = this.sm.range(req);
    } catch (err) {
      this.observeRange(t0, false);
      return Promise.reject(err);
    }
    this.observeRange(t0, true);
    return Promise.resolve(resp);
  }

  private observeRange(t0: number, success: boolean): void {
    this.rangeDurations?.[success ? 1 : 0].observe((this.sched.monoMs() - t0) / 1000);
  }

  put(req: mvcc.PutRequest, as?: AuthInfo): Promise<mvcc.PutResponse> {
    return this.propose({ type: 'put', req }, as);
  }

  deleteRange(req: mvcc.DeleteRangeRequest, as?: AuthInfo): Promise<mvcc.DeleteRangeResponse> {
    return this.propose({ type: 'deleteRange', req }, as);
  }

  /**
   * A txn that writes goes through raft. One that only reads is served here as etcd serves it:
   * after a ReadIndex round unless all its reads are serializable, then from the local store,
   * without a log entry, a WAL write or a round of appends. The caller checked its permissions.
   */
  txn(req: mvcc.TxnRequest, opts: { readonly readOnly: boolean }, as?: AuthInfo): Promise<mvcc.TxnResponse> {
    if (!opts.readOnly) return this.propose({ type: 'txn', req }, as);
    if (isSerializableTxn(req)) return this.txnLocal(req);
    return this.linearizableBarrier().then(() => this.txnLocal(req));
  }

  private txnLocal(req: mvcc.TxnRequest): Promise<mvcc.TxnResponse> {
    try {
      return Promise.resolve(this.sm.txnRead(req));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async compact(req: mvcc.CompactionRequest, as?: AuthInfo): Promise<mvcc.CompactionResponse> {
    const r = await this.propose<mvcc.CompactionResponse>({ type: 'compaction', req: { revision: req.revision } }, as);
    if (req.physical) await this.compactor.waitIdle();
    return r;
  }

  openWatchStream(sink: WatchSink): WatchStream {
    const ws = this.sm.openWatchStream(sink);
    return {
      create: (req) => {
        ws.create(req);
        this.kickBackgroundIfPending();
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
    const deadline = this.sched.monoMs() + this.requestTimeoutMs;
    for (;;) {
      if (this.stopped) throw new BackendError('stopped', 'etcdserver: server stopped');
      const lead = this.lead;
      if (lead === this.id) {
        try {
          return await this.handleRpc(this.id, method, body);
        } catch (err) {
          // Leadership moved while the call waited (an expired lease's keep-alive): try the new leader.
          if (!(err instanceof BackendError && err.code === 'notLeader')) throw err;
        }
      } else if (lead !== NONE) {
        try {
          return await this.transport.call(lead, method, body, Math.max(100, deadline - this.sched.monoMs()));
        } catch (err) {
          if (err instanceof RpcError) {
            if (err.code !== 'notLeader' && err.code !== 'unreachable' && err.code !== 'timeout') throw new BackendError(err.code as never, err.message);
          } else throw err;
        }
      }
      if (this.sched.monoMs() > deadline) throw new BackendError(lead === NONE ? 'noLeader' : 'timeout', lead === NONE ? 'etcdserver: no leader' : 'etcdserver: request timed out');
      await this.sched.sleep(Math.min(100, this.opts.heartbeatIntervalMs));
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
    return this.sm.leaseLeases(this.sched.monoMs());
  }

  // ------------------------------------------------------------------ MemberBackend: Cluster

  private activeVoters(): number {
    let n = 0;
    for (const id of this.confState.voters) if (id === this.id || this.transport.isActive(id)) n++;
    return n;
  }

  async memberAdd(peerUrls: readonly string[], isLearner: boolean): Promise<MemberAddResult> {
    checkNewPeerUrls(this.membership, peerUrls);
    if (isLearner) checkCanAddLearner(this.membership, this.opts.maxLearners);
    else checkCanAddVoter(this.confState.voters.length, this.activeVoters());
    const id = memberIdOf(peerUrls, this.opts.clusterToken, this.nowMs());
    const member: MemberRecord = { id, name: '', peerUrls: [...peerUrls], clientUrls: [], isLearner };
    const members = await this.proposeConf(isLearner ? 'addLearnerNode' : 'addNode', id, member);
    return { member, members };
  }

  async memberRemove(id: NodeId): Promise<readonly MemberInfo[]> {
    const m = existingMember(this.membership.get(id));
    if (!m.isLearner) {
      checkCanRemoveVoter(
        this.confState.voters.filter((v) => v !== id),
        (v) => v === this.id || this.transport.isActive(v),
      );
    }
    return this.proposeConf('removeNode', id, undefined);
  }

  async memberUpdate(id: NodeId, peerUrls: readonly string[]): Promise<readonly MemberInfo[]> {
    const m = existingMember(this.membership.get(id));
    checkUpdatedPeerUrls(this.membership, id, peerUrls);
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
    const m = existingMember(this.membership.get(id));
    if (!m.isLearner) throw new BackendError('memberNotLearner', 'etcdserver: can only promote a learner member');
    const st = this.node.status();
    const leaderMatch = st.progress?.get(this.id)?.match ?? this.commitIndex;
    const pr = st.progress?.get(id);
    if (!pr || pr.match < leaderMatch * LEARNER_READY_PERCENT || !this.transport.isActive(id)) {
      const err = new BackendError('learnerNotReady', 'etcdserver: can only promote a learner member which is in sync with leader');
      this.opts.runtimeMetrics?.learnerPromoteFailures.inc({ Reason: err.message });
      throw err;
    }
    checkCanPromote(this.confState.voters.length, this.activeVoters());
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

  /** This member's applied alarms, without a round trip (health checks, like etcd's s.Alarms()). */
  activeAlarms(): readonly mvcc.AlarmMember[] {
    return this.sm.alarms();
  }

  async alarm(req: mvcc.AlarmRequest): Promise<mvcc.AlarmResponse> {
    if (req.action === AlarmAction.GET) {
      // etcd answers a GET through Raft: a list read after a disarm elsewhere must not show the alarm.
      await this.linearizableBarrier();
      const alarms = this.sm.alarms().filter((a) => (req.memberID === 0n || a.memberID === req.memberID) && (req.alarm === AlarmType.NONE || a.alarm === req.alarm));
      return { header: { clusterId: 0n, memberId: 0n, raftTerm: 0, revision: this.sm.currentRevision() }, alarms };
    }
    return this.propose({ type: 'alarm', req });
  }

  /** Defragments in the background once the value log holds more dead bytes than live ones. */
  private autoDefragment(): void {
    if (this.stopped || !this.sm.defragWanted?.()) return;
    this.defragment().catch((err: unknown) => this.die('defragment failed', err));
  }

  async defragment(): Promise<void> {
    // Finish physical compaction, then rewrite the value log's held values (mvcc-adapter.ts).
    const r = this.opts.runtimeMetrics;
    const t0 = this.sched.monoMs();
    r?.defragInflight.set(1);
    try {
      await this.compactor.waitIdle();
      const before = this.sm.sizeBytes();
      const res = await this.sm.defragment?.(() => this.sched.yield());
      this.log.info('defragmented', { reclaimedBytes: res?.reclaimedBytes ?? 0, sizeBefore: before, sizeAfter: this.sm.sizeBytes(), ms: Math.round(this.sched.monoMs() - t0) });
      await this.freeRetiredSegments();
    } finally {
      r?.defragInflight.set(0);
      r?.defragDurationSeconds.observe((this.sched.monoMs() - t0) / 1000);
    }
  }

  /**
   * The segments a Defragment retired stay on disk until the last two snapshots no longer name
   * them (value-log.ts, 3). etcd's file shrinks when its Defragment returns; so that ours does too,
   * the member takes those snapshots now, each after a no-op entry (an alarm list, as etcd sends
   * one through Raft) since a snapshot needs a newer applied index. Best effort: without a leader,
   * or on a learner, they come with the next writes instead (maybeSnapshot).
   */
  private async freeRetiredSegments(): Promise<void> {
    const noop: mvcc.Command = { type: 'alarm', req: { action: AlarmAction.GET, memberID: 0n, alarm: AlarmType.NONE } };
    try {
      for (let i = 0; i < 4 && (this.sm.snapshotsToFree?.() ?? 0) > 0 && !this.stopped && this.lead !== NONE && !this.isLearner(); i++) {
        await this.snapshotRun;
        await this.propose(noop, this.sm.auth.enabled ? INTERNAL_ROOT : undefined);
        await this.startSnapshot();
      }
    } catch (err) {
      this.log.warn('defragment: the old value-log segments wait for the next snapshots', { err });
    }
  }

  async hash(): Promise<mvcc.HashResponse> {
    const t0 = this.sched.monoMs();
    const resp = this.sm.hash();
    this.opts.runtimeMetrics?.hashDurationSeconds.observe((this.sched.monoMs() - t0) / 1000);
    return resp;
  }

  async hashKV(revision: number): Promise<mvcc.HashKVResponse> {
    const t0 = this.sched.monoMs();
    const resp = this.sm.hashKV(revision);
    this.opts.runtimeMetrics?.hashRevDurationSeconds.observe((this.sched.monoMs() - t0) / 1000);
    return resp;
  }

  async snapshot(): Promise<SnapshotStream> {
    // etcd's format (a bbolt database), so etcdutl and etcd itself can read it: etcd-snapshot-stream.ts.
    return etcdSnapshotStream({ store: this.sm, consistentIndex: this.appliedIndex, term: this.term, confState: this.confState, auth: this.sm.auth.toJSON() });
  }

  async moveLeader(targetId: NodeId): Promise<void> {
    if (this.role !== 'leader') throw new BackendError('notLeader', 'etcdserver: not leader');
    const target = this.membership.get(targetId);
    if (!target || target.isLearner) throw new BackendError('badLeaderTransferee', 'etcdserver: bad leader transferee');
    if (targetId === this.id) return;
    this.node.transferLeader(targetId);
    this.schedule();
    const deadline = this.sched.monoMs() + Math.max(this.requestTimeoutMs, 3 * this.opts.electionTimeoutMs);
    while (this.lead !== targetId) {
      if (this.stopped) throw new BackendError('stopped', 'etcdserver: server stopped');
      if (this.sched.monoMs() > deadline) throw new BackendError('timeout', 'etcdserver: request timed out, leader transfer took too long');
      await this.sched.sleep(10);
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
