// The simulated cluster: raft nodes on a virtual clock, joined by the faulty network, each
// with a crashable disk. It runs the Ready loop exactly as the contract says (persist, then
// send, then apply, then advance) and feeds every observation to the safety checker.
// The fault schedule and the workload are decided by the caller (simulation.ts).
import type { ConfChange, Entry, Message, NodeId, Snapshot } from '../../node/raft/types.js';
import { ProposalDroppedError } from '../../node/raft/types.js';
import { RawNode } from '../../node/raft/raw-node.js';
import { decodeConfChange } from '../../node/raft/conf-change.js';
import { EMPTY_SNAPSHOT } from '../../node/raft/memory-storage.js';
import { SafetyChecker } from './checkers.js';
import { EventQueue } from './event-queue.js';
import { SimNetwork } from './network.js';
import { TICK_UNITS, type SimOptions } from './options.js';
import { SimRng } from './rng.js';
import { SimNode } from './sim-node.js';
import { SimDiskStore, type NodeStore, type PersistRequest } from './node-store.js';
import { WalStore } from './wal-store.js';
import { applyToState, encodeState, fingerprint, payloadId } from './state-machine.js';

type SimEvent =
  | { readonly kind: 'tick'; readonly id: NodeId; readonly life: number }
  | { readonly kind: 'deliver'; readonly msg: Message }
  | { readonly kind: 'snapStatus'; readonly from: NodeId; readonly to: NodeId; readonly ok: boolean };

export interface ClusterStats {
  proposals: number;
  proposalsDropped: number;
  confChangesProposed: number;
  confChangesApplied: number;
  crashes: number;
  midReadyCrashes: number;
  pauses: number;
  campaigns: number;
  restarts: number;
  snapshotsSent: number;
  snapshotsRestored: number;
  compactions: number;
  readsIssued: number;
  readsConfirmed: number;
  transfers: number;
  leaderChanges: number;
  appliedEntries: number;
}

/** Upper bound on Ready rounds for one event: a core that never settles is a bug. */
const MAX_READY_ROUNDS = 10_000;

export class Cluster {
  /** Virtual time in units (TICK_UNITS per tick). */
  now = 0;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly checker = new SafetyChecker();
  readonly net: SimNetwork;
  readonly stats: ClusterStats = {
    proposals: 0, proposalsDropped: 0, confChangesProposed: 0, confChangesApplied: 0, crashes: 0, midReadyCrashes: 0, pauses: 0, campaigns: 0,
    restarts: 0, snapshotsSent: 0, snapshotsRestored: 0, compactions: 0, readsIssued: 0,
    readsConfirmed: 0, transfers: 0, leaderChanges: 0, appliedEntries: 0,
  };
  /** Tick at which the first leader appeared. */
  firstLeaderTick: number | undefined;
  /** Events handled so far, and the budget for one run (bounds a run's wall time). */
  events = 0;
  maxEvents = 1_000_000;
  /** Whether faults that strike inside the Ready loop are on (off in the liveness phase). */
  faultsOn = true;
  /** The run hit an exception inside raft (recorded as a violation); stop driving it. */
  aborted = false;
  /** Payload ids the caller wants to hear about when applied: id -> index it was applied at. */
  readonly watchedPayloads = new Map<number, number>();
  /** A line per interesting event (role changes, crashes, membership...) for --trace. */
  trace: ((line: string) => void) | undefined;
  /** Called after every applied normal entry (benchmarks count commits with it). */
  onApply: ((n: SimNode, e: Entry) => void) | undefined;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly rng: SimRng;
  private readonly nodeSeeds: SimRng;

  /**
   * checks=false turns the per-entry safety bookkeeping off (log/commit/apply checkers and
   * entry fingerprints); only the benchmark uses it, to measure raft with a thin harness.
   */
  constructor(
    readonly opts: SimOptions,
    private readonly checks = true,
  ) {
    const root = new SimRng(opts.seed, 1);
    this.rng = root.fork(2);
    this.nodeSeeds = root.fork(3);
    this.net = new SimNetwork(root.fork(4), opts.net);
  }

  get tick(): number {
    return Math.floor(this.now / TICK_UNITS);
  }

  /** Create the initial members, all voters, bootstrapped from a snapshot at index 0. */
  async bootstrap(ids: readonly NodeId[]): Promise<void> {
    const snap: Snapshot = {
      data: new Uint8Array(0),
      metadata: { index: 0, term: 0, confState: { voters: ids.slice(), learners: [] } },
    };
    for (const id of ids) await this.createNode(id, snap);
  }

  /** A brand-new node that will join an existing cluster (empty conf state). */
  addJoiningNode(id: NodeId): Promise<SimNode> {
    return this.createNode(id, EMPTY_SNAPSHOT);
  }

  private async createNode(id: NodeId, initial: Snapshot): Promise<SimNode> {
    if (this.nodes.has(id)) throw new Error(`node ${id} exists`);
    const store: NodeStore = this.opts.wal ? new WalStore(initial) : new SimDiskStore(initial, { lieAboutSync: this.opts.lyingDisk });
    const n = new SimNode(id, initial, store);
    const skew = this.opts.tickSkewUnits;
    n.tickIntervalUnits = TICK_UNITS + (skew > 0 ? this.rng.range(-skew, skew) : 0);
    this.nodes.set(id, n);
    await this.start(n);
    return n;
  }

  private async start(n: SimNode): Promise<void> {
    let durable;
    try {
      durable = await n.store.recover();
    } catch (err: unknown) {
      this.checker.violations.push({
        property: 'StorageError',
        detail: `node ${n.id} cannot recover: ${err instanceof Error ? err.message : String(err)}`,
        tick: this.tick,
      });
      this.aborted = true;
      return;
    }
    n.load(durable);
    n.life++;
    n.downUntilTick = undefined;
    const raw = this.guard(n, () =>
      new RawNode({
        id: n.id,
        electionTick: this.opts.electionTick,
        heartbeatTick: this.opts.heartbeatTick,
        storage: n.storage,
        applied: n.applied,
        maxSizePerMsg: this.opts.maxSizePerMsg,
        maxInflightMsgs: this.opts.maxInflightMsgs,
        maxInflightBytes: this.opts.maxInflightBytes,
        maxCommittedSizePerReady: this.opts.maxCommittedSizePerReady > 0 ? this.opts.maxCommittedSizePerReady : undefined,
        maxUncommittedEntriesSize: this.opts.maxUncommittedEntriesSize,
        checkQuorum: this.opts.checkQuorum,
        preVote: this.opts.preVote,
        rng: this.nodeSeeds.fork(Number(n.id) * 1000 + n.life),
      }),
    );
    if (raw === undefined) return;
    n.raw = raw;
    const st = this.guard(n, () => raw.status());
    const startCommit = st?.hardState.commit ?? 0;
    this.checker.restarted(n.id, n.storage.initialState().hardState, startCommit, n.applied);
    this.noteCommitted(n, startCommit);
    // Ticks start at a random phase so nodes do not tick in lockstep.
    this.queue.push(this.now + 1 + this.rng.intn(TICK_UNITS), { kind: 'tick', id: n.id, life: n.life });
    this.processReady(n);
  }

  // ---- faults ---------------------------------------------------------------------------------

  /** Power-cut a node: unsynced writes are lost (a random prefix of them may survive). */
  crash(id: NodeId, downTicks: number): void {
    const n = this.nodes.get(id);
    if (n === undefined || !n.up) return;
    this.stats.crashes++;
    this.crashNode(n, downTicks);
  }

  private crashNode(n: SimNode, downTicks: number): void {
    const id = n.id;
    this.log(`crash node ${id} for ${downTicks} ticks (role ${n.role}, term ${n.term})`);
    if (n.role === 'leader') this.checker.steppedDown(n.id);
    n.raw = undefined;
    n.store.crash(this.rng);
    n.downUntilTick = this.tick + Math.max(1, downTicks);
  }

  async restart(id: NodeId): Promise<void> {
    const n = this.nodes.get(id);
    if (n === undefined || n.up || n.removed) return;
    this.stats.restarts++;
    await this.start(n);
    this.log(`restart node ${id}: term ${n.term} applied ${n.applied} last ${n.storage.lastIndex()} conf voters=[${n.confState.voters.join(',')}] learners=[${n.confState.learners.join(',')}]`);
  }

  /** Permanently stop a node (it was removed from the cluster). */
  private retire(n: SimNode): void {
    this.log(`retire node ${n.id} (removed from the cluster)`);
    if (n.role === 'leader') this.checker.steppedDown(n.id);
    n.removed = true;
    n.raw = undefined;
    n.downUntilTick = undefined;
  }

  // ---- client actions -------------------------------------------------------------------------

  propose(id: NodeId, data: Uint8Array): 'ok' | 'dropped' | 'down' {
    const n = this.nodes.get(id);
    if (n?.raw === undefined || n.pausedUntil > this.now) return 'down';
    this.stats.proposals++;
    const raw = n.raw;
    let dropped = false;
    this.guard(n, () => {
      try {
        raw.propose(data);
      } catch (err: unknown) {
        if (err instanceof ProposalDroppedError) dropped = true;
        else throw err;
      }
    });
    if (dropped) this.stats.proposalsDropped++;
    this.processReady(n);
    return dropped ? 'dropped' : 'ok';
  }

  /** Propose several entries before handling the Ready once (a client batch). */
  proposeBatch(id: NodeId, batch: readonly Uint8Array[]): number {
    const n = this.nodes.get(id);
    if (n?.raw === undefined || n.pausedUntil > this.now) return 0;
    const raw = n.raw;
    let accepted = 0;
    this.guard(n, () => {
      for (const data of batch) {
        this.stats.proposals++;
        try {
          raw.propose(data);
          accepted++;
        } catch (err: unknown) {
          if (err instanceof ProposalDroppedError) this.stats.proposalsDropped++;
          else throw err;
        }
      }
    });
    this.processReady(n);
    return accepted;
  }

  proposeConfChange(id: NodeId, cc: ConfChange): 'ok' | 'dropped' | 'down' {
    const n = this.nodes.get(id);
    if (n?.raw === undefined || n.pausedUntil > this.now) return 'down';
    this.stats.confChangesProposed++;
    const raw = n.raw;
    let dropped = false;
    this.guard(n, () => {
      try {
        raw.proposeConfChange(cc);
      } catch (err: unknown) {
        if (err instanceof ProposalDroppedError) dropped = true;
        else throw err;
      }
    });
    this.processReady(n);
    return dropped ? 'dropped' : 'ok';
  }

  readIndex(id: NodeId, ctx: string): void {
    const n = this.nodes.get(id);
    if (n?.raw === undefined || n.pausedUntil > this.now) return;
    this.stats.readsIssued++;
    this.checker.readIssued(ctx);
    const raw = n.raw;
    this.guard(n, () => raw.readIndex(new TextEncoder().encode(ctx)));
    this.processReady(n);
  }

  campaign(id: NodeId): void {
    const n = this.nodes.get(id);
    if (n?.raw === undefined || n.pausedUntil > this.now) return;
    this.stats.campaigns++;
    const raw = n.raw;
    this.guard(n, () => raw.campaign());
    this.processReady(n);
  }

  transferLeader(id: NodeId, to: NodeId): void {
    const n = this.nodes.get(id);
    if (n?.raw === undefined || n.pausedUntil > this.now) return;
    this.stats.transfers++;
    const raw = n.raw;
    this.guard(n, () => raw.transferLeader(to));
    this.processReady(n);
  }

  /** The up node that claims leadership with the highest term, if any. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.up && n.role === 'leader' && (best === undefined || n.term > best.term)) best = n;
    }
    return best;
  }

  /**
   * A leader that a majority of its voters currently follow (same term, same leader):
   * the cluster is usable.
   */
  stableLeader(): SimNode | undefined {
    const l = this.leader();
    if (l === undefined) return undefined;
    const voters = l.confState.voters;
    let acks = 0;
    for (const v of voters) {
      const n = this.nodes.get(v);
      if (n !== undefined && n.up && n.lead === l.id && n.term === l.term) acks++;
    }
    return acks * 2 > voters.length ? l : undefined;
  }

  upNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up);
  }

  // ---- running --------------------------------------------------------------------------------

  /** Run events until virtual time reaches `untilUnits` (exclusive), or the run aborts. */
  async runUntil(untilUnits: number): Promise<void> {
    await this.settleIo();
    for (;;) {
      if (this.aborted) return;
      const at = this.queue.peekTime();
      if (at === undefined || at >= untilUnits) break;
      if (++this.events > this.maxEvents) {
        // A message storm (or a scheduling loop) would make a bounded run unbounded in time.
        this.checker.violations.push({
          property: 'EventBudget',
          detail: `more than ${this.maxEvents} events by tick ${this.tick} (queue ${this.queue.size}): a message storm?`,
          tick: this.tick,
        });
        this.aborted = true;
        return;
      }
      const item = this.queue.pop() as { at: number; ev: SimEvent };
      this.now = item.at;
      this.checker.tick = this.tick;
      this.handle(item.ev);
      if (this.dirtyStores.size > 0) await this.settleIo();
    }
    this.now = untilUnits;
    this.checker.tick = this.tick;
  }

  /** End clock skew: every node ticks every TICK_UNITS from now on (the liveness phase). */
  evenClocks(): void {
    for (const n of this.nodes.values()) n.tickIntervalUnits = TICK_UNITS;
  }

  /** Stall a node (a long pause, not a crash): its ticks and messages wait until it resumes. */
  pause(id: NodeId, ticks: number): void {
    const n = this.nodes.get(id);
    if (n?.raw === undefined) return;
    n.pausedUntil = this.now + ticks * TICK_UNITS;
    this.stats.pauses++;
    this.log(`pause node ${id} for ${ticks} ticks (role ${n.role}, term ${n.term})`);
  }

  private handle(ev: SimEvent): void {
    const target = this.nodes.get(ev.kind === 'deliver' ? ev.msg.to : ev.kind === 'tick' ? ev.id : ev.from);
    if (target !== undefined && target.pausedUntil > this.now) {
      // A stalled process: everything addressed to it waits, in order, until it resumes.
      this.queue.push(target.pausedUntil, ev);
      return;
    }
    switch (ev.kind) {
      case 'tick': {
        const n = this.nodes.get(ev.id);
        if (n?.raw === undefined || n.life !== ev.life) return;
        const raw = n.raw;
        this.guard(n, () => raw.tick());
        this.processReady(n);
        this.queue.push(this.now + n.tickIntervalUnits, ev);
        return;
      }
      case 'deliver': {
        const m = ev.msg;
        const to = this.nodes.get(m.to);
        const from = this.nodes.get(m.from);
        const blocked = from?.removed === true || to?.removed === true;
        if (to?.raw === undefined || blocked || !this.net.admit(m.from, m.to)) {
          if (m.type === 'snap') this.reportSnapshot(m.from, m.to, false);
          else if (from?.raw !== undefined && !blocked && to !== undefined && this.net.isCut(m.from, m.to) && this.rng.chance(0.2)) {
            const fraw = from.raw;
            this.guard(from, () => fraw.reportUnreachable(m.to));
            this.processReady(from);
          }
          return;
        }
        const raw = to.raw;
        this.guard(to, () => raw.step(m));
        this.processReady(to);
        if (m.type === 'snap') this.reportSnapshot(m.from, m.to, true);
        return;
      }
      case 'snapStatus': {
        const n = this.nodes.get(ev.from);
        if (n?.raw === undefined) return;
        const raw = n.raw;
        this.guard(n, () => raw.reportSnapshot(ev.to, ev.ok));
        this.processReady(n);
        return;
      }
      default: {
        const never: never = ev;
        throw new Error(`unknown event ${String(never)}`);
      }
    }
  }

  log(line: string): void {
    if (this.trace !== undefined) this.trace(`[t${this.tick}] ${line}`);
  }

  /** Stores with asynchronous work queued since the last settle. */
  private readonly dirtyStores = new Set<SimNode>();

  private persist(n: SimNode, req: PersistRequest): void {
    n.store.persist(req);
    if (n.store.busy()) this.dirtyStores.add(n);
  }

  /** Wait until every store finished its queued writes; report storage errors. */
  async settleIo(): Promise<void> {
    if (this.dirtyStores.size === 0) return;
    const nodes = [...this.dirtyStores];
    this.dirtyStores.clear();
    for (const n of nodes) {
      const p = n.store.idle();
      if (p !== undefined) await p;
      for (const e of n.store.takeErrors()) {
        this.checker.violations.push({ property: 'StorageError', detail: `node ${n.id}: ${e}`, tick: this.tick });
        this.aborted = true;
      }
    }
  }

  private reportSnapshot(from: NodeId, to: NodeId, ok: boolean): void {
    this.queue.push(this.now + 1, { kind: 'snapStatus', from, to, ok });
  }

  private send(n: SimNode, m: Message): void {
    if (m.to === n.id) {
      this.checker.violations.push({ property: 'MessageToSelf', detail: `node ${n.id} sent ${m.type} to itself`, tick: this.tick });
      return;
    }
    if (m.type === 'snap') this.stats.snapshotsSent++;
    const deliveries = this.net.send(m, this.now);
    if (deliveries.length === 0 && m.type === 'snap') this.reportSnapshot(n.id, m.to, false);
    for (const d of deliveries) {
      // A copy per delivery, as a real transport would decode a fresh message.
      const copy: Message = { ...d.msg, entries: d.msg.entries.slice() };
      this.queue.push(d.at, { kind: 'deliver', msg: copy });
    }
  }

  /** Run fn against a node's raft; an exception from raft is a violation that ends the run. */
  private guard<T>(n: SimNode, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err: unknown) {
      const e = err instanceof Error ? err : new Error(String(err));
      const where = (e.stack ?? '').split('\n').slice(1, 1 + this.opts.stackFrames).map((s) => s.trim()).join(' < ');
      this.checker.violations.push({ property: 'RaftThrew', detail: `node ${n.id}: ${e.message} at ${where}`, tick: this.tick });
      this.aborted = true;
      return undefined;
    }
  }

  // ---- the Ready loop -------------------------------------------------------------------------

  private processReady(n: SimNode): void {
    for (let round = 0; ; round++) {
      if (this.aborted) return;
      const raw = n.raw;
      if (raw === undefined) return;
      const has = this.guard(n, () => raw.hasReady());
      if (has !== true) return;
      if (round >= MAX_READY_ROUNDS) {
        this.checker.violations.push({ property: 'ReadyLoop', detail: `node ${n.id}: Ready never settles`, tick: this.tick });
        this.aborted = true;
        return;
      }
      const rd = this.guard(n, () => raw.ready());
      if (rd === undefined) return;
      this.guard(n, () => this.handleReady(n, raw, rd));
      if (this.aborted) return;
      if (n.selfRemoved) {
        this.retire(n);
        return;
      }
    }
  }

  private handleReady(n: SimNode, raw: RawNode, rd: ReturnType<RawNode['ready']>): void {
    const c = this.checker;
    const leaderNow = rd.softState !== undefined ? rd.softState.raftState === 'leader' : n.role === 'leader';
    if (leaderNow && this.faultsOn && this.opts.midReadyCrashRate > 0 && !n.store.busy() && this.rng.chance(this.opts.midReadyCrashRate)) {
      this.crashMidReady(n, rd);
      return;
    }
    // The contract's sync rule, checked directly: new entries or a new term or vote must be
    // made durable before anything is sent (else a crash could forget a vote or an ack).
    const hsChanged = rd.hardState !== undefined && (rd.hardState.term !== n.term || rd.hardState.vote !== n.vote);
    if ((rd.entries.length > 0 || hsChanged) && !rd.mustSync) {
      c.violations.push({
        property: 'MustSync',
        detail: `node ${n.id}: Ready with ${rd.entries.length} entries${hsChanged ? ', a new term/vote' : ''} but mustSync false`,
        tick: this.tick,
      });
    }
    // A leader that stepped down in this Ready may be taking the new leader's entries in
    // the same Ready: it is no longer bound by Leader Append-Only.
    if (rd.softState !== undefined && rd.softState.raftState !== 'leader' && n.role === 'leader') c.steppedDown(n.id);
    // 1. Persist: snapshot, entries, hard state; sync when asked.
    if (rd.snapshot !== undefined) n.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) {
      const base = n.storage.snapshot().metadata.index;
      const fresh = rd.entries.filter((e) => e.index > base);
      if (fresh.length > 0 && this.checks) {
        const first = (fresh[0] as Entry).index;
        const lastBefore = n.storage.lastIndex();
        let prevTerm = 0;
        if (first - 1 <= lastBefore) prevTerm = n.storage.term(first - 1);
        else c.violations.push({ property: 'LogGap', detail: `node ${n.id} appends ${first} after ${lastBefore}`, tick: this.tick });
        c.entriesPersisted(n.id, prevTerm, lastBefore, fresh.map((e) => ({ index: e.index, term: e.term, fp: fingerprint(e) })));
      }
      n.storage.append(rd.entries);
    }
    if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
    // A snapshot is always a sync point (etcd fsyncs snapshot files), besides mustSync.
    let sync = rd.mustSync || rd.snapshot !== undefined;
    if (this.opts.skipEntrySync) {
      // Deliberately broken app (test-only): syncs a changed term or vote, not entries.
      const hs = rd.hardState;
      sync = hs !== undefined && (hs.term !== n.term || hs.vote !== n.vote);
    }
    this.persist(n, { snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState, sync });
    if (rd.hardState !== undefined) {
      c.hardState(n.id, rd.hardState);
      n.term = rd.hardState.term;
      n.vote = rd.hardState.vote;
      this.noteCommitted(n, rd.hardState.commit);
    }
    if (rd.softState !== undefined) {
      const wasLeader = n.role === 'leader';
      n.role = rd.softState.raftState;
      n.lead = rd.softState.lead;
      this.log(`node ${n.id} is ${n.role} (lead ${n.lead}, term ${rd.hardState?.term ?? n.term}, last ${n.storage.lastIndex()})`);
      if (n.role === 'leader' && !wasLeader) {
        this.stats.leaderChanges++;
        if (this.firstLeaderTick === undefined) this.firstLeaderTick = this.tick;
        const term = raw.status().hardState.term;
        n.term = term;
        c.leaderElected(n.id, term, this.logView(n));
      } else if (wasLeader && n.role !== 'leader') {
        c.steppedDown(n.id);
      }
    }
    // 2. Send.
    for (const m of rd.messages) this.send(n, m);
    // 3. Apply.
    if (rd.snapshot !== undefined) {
      const md = rd.snapshot.metadata;
      const data = rd.snapshot.data;
      n.state = data.byteLength >= 4 ? new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0) : 0;
      n.applied = md.index;
      n.confState = md.confState;
      this.stats.snapshotsRestored++;
      c.snapshotRestored(n.id, md.index, md.term, n.state);
      if (md.index > n.knownCommit) n.knownCommit = md.index;
    }
    for (const e of rd.committedEntries) this.apply(n, raw, e);
    for (const rs of rd.readStates) {
      this.stats.readsConfirmed++;
      c.readConfirmed(n.id, new TextDecoder().decode(rs.requestCtx), rs.index);
    }
    // 4. Advance.
    raw.advance();
    this.maybeCompact(n);
  }

  /**
   * The leader sends what it may send before its fsync (app, heartbeat, snap), starts its
   * write, and loses power before the write is durable (a prefix of it may survive).
   */
  private crashMidReady(n: SimNode, rd: ReturnType<RawNode['ready']>): void {
    this.stats.midReadyCrashes++;
    if (rd.softState?.raftState === 'leader' && n.role !== 'leader') {
      // It did lead (its app messages go out): record it for Election Safety.
      this.checker.leaderElected(n.id, rd.hardState?.term ?? n.term, this.logView(n));
    }
    for (const m of rd.messages) if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') this.send(n, m);
    n.store.persist({ snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState, sync: false });
    this.log(`node ${n.id} crashes in the middle of a Ready (${rd.entries.length} entries unsynced, ${rd.messages.length} messages)`);
    this.crashNode(n, this.rng.range(this.opts.downTicks[0], this.opts.downTicks[1]));
  }

  /** The node's persisted log, as the checker reads it. */
  private logView(n: SimNode): Parameters<SafetyChecker['leaderElected']>[2] {
    const s = n.storage;
    const snap = s.snapshot().metadata;
    return {
      firstIndex: s.firstIndex(),
      lastIndex: s.lastIndex(),
      snapshotIndex: snap.index,
      snapshotTerm: snap.term,
      term: (i: number) => {
        try {
          return s.term(i);
        } catch {
          return undefined;
        }
      },
    };
  }

  /** Report entries (knownCommit, commit] of the node's persisted log as committed. */
  private noteCommitted(n: SimNode, commit: number): void {
    if (commit <= n.knownCommit) return;
    if (!this.checks) {
      n.knownCommit = commit;
      return;
    }
    const s = n.storage;
    const last = s.lastIndex();
    if (commit > last) {
      this.checker.violations.push({
        property: 'CommitBeyondLog',
        detail: `node ${n.id} commit ${commit} beyond its persisted last index ${last}`,
        tick: this.tick,
      });
    }
    const lo = Math.max(n.knownCommit + 1, s.firstIndex());
    const hi = Math.min(commit, last);
    if (lo <= hi) {
      const ents = s.entries(lo, hi + 1, Number.MAX_SAFE_INTEGER);
      for (const e of ents) this.checker.committed(n.id, e.index, { term: e.term, fp: fingerprint(e) }, n.term);
    }
    n.knownCommit = commit;
  }

  private apply(n: SimNode, raw: RawNode, e: Entry): void {
    if (e.index <= n.applied) {
      this.checker.violations.push({ property: 'ApplyOrder', detail: `node ${n.id} was handed ${e.index} again (applied ${n.applied})`, tick: this.tick });
      return;
    }
    const fp = this.checks ? fingerprint(e) : e.term;
    n.state = applyToState(n.state, e, fp);
    n.applied = e.index;
    this.stats.appliedEntries++;
    if (this.checks) this.checker.applied(n.id, e.index, { term: e.term, fp }, n.state);
    if (e.type === 'confChange') {
      const cc = decodeConfChange(e.data);
      n.confState = raw.applyConfChange(cc);
      this.log(`node ${n.id} applied ${cc.type} ${cc.nodeId} at ${e.index}/${e.term}: voters ${n.confState.voters} learners ${n.confState.learners}`);
      this.stats.confChangesApplied++;
      if (cc.type === 'removeNode') {
        if (cc.nodeId === n.id) n.selfRemoved = true;
        else {
          const gone = this.nodes.get(cc.nodeId);
          // The rest of the cluster refuses a removed member (etcd's peers answer it with
          // "member removed" and it shuts down): retire it now.
          if (gone !== undefined && !gone.removed) this.retire(gone);
        }
      }
    } else if (e.data.byteLength > 0) {
      const pid = payloadId(e.data);
      if (pid !== undefined && this.watchedPayloads.has(pid) && this.watchedPayloads.get(pid) === -1) {
        this.watchedPayloads.set(pid, e.index);
      }
      if (this.onApply !== undefined) this.onApply(n, e);
    }
  }

  /** Local log compaction: snapshot the state machine every snapshotEvery applied entries. */
  private maybeCompact(n: SimNode): void {
    const s = n.storage;
    const snapIndex = s.snapshot().metadata.index;
    if (n.applied - snapIndex < this.opts.snapshotEvery) return;
    if (n.applied > s.lastIndex()) return;
    const snap = s.createSnapshot(n.applied, n.confState, encodeState(n.state, n.applied));
    const compactTo = n.applied - this.opts.compactKeep;
    if (compactTo > s.firstIndex() - 1) s.compact(compactTo);
    n.store.saveLocalSnapshot(snap);
    if (n.store.busy()) this.dirtyStores.add(n);
    this.stats.compactions++;
  }
}

