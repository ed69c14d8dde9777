// The Ready loop (etcd's raftNode). Per Ready, in raft's order:
//   - the leader sends its messages first (etcd does this too: raft counts the leader's own log
//     toward a commit only after advance(), i.e. after its write), except in a Ready that changes
//     its term or vote (a single voter's election): those wait;
//   - persist: snapshot (storage.saveSnapshot), then entries + hard state with ONE storage.save
//     (one fdatasync: group commit; proposals that arrive meanwhile wait for the next Ready and
//     share its fsync);
//   - followers send their messages after persisting (they must not ack before that);
//   - committed entries and snapshots go to the apply loop; then advance();
//   - a leader does not wait for its own write before advance() (see inFlight): raft counts its
//     entries toward a commit when the write is durable (persisted()), and meanwhile the loop
//     takes Readies without new entries, so a commit that the followers alone make (2 of 3) is
//     applied and answered while the leader's fdatasync is still running;
//   - a leader's appends that carry no entries (raft's commit-index broadcast after a commit) wait
//     one turn when the Ready has entries to apply, so the answers leave first (see deferredCommits).
// Raft's clock (tick) moves only while the loop is free to take a Ready, as in etcd: see tick().
// Like etcd, raft is advanced before the application catches up, except that a Ready whose
// committed entries hold a conf change waits (before advance) until the apply loop has applied it
// (etcd's waitApply): raft's applied index must never run ahead of its membership. A 'snap'
// message waits for that too (a restore would be undone by it): see holdSnapshot.

import type { Message, MemoryStorage, RawNode, Ready, Entry, HardState, ReadState, SoftState, StateRole } from '../raft/index.js';
import type { MemberStorage } from '../storage/types.js';
import type { ApplyLoop } from './apply-loop.js';
import type { Scheduler } from './scheduler.js';

/** Follower messages that do not acknowledge persisted state and may leave before the fsync. */
const SEND_BEFORE_PERSIST: ReadonlySet<Message['type']> = new Set(['prop', 'readIndex', 'heartbeatResp', 'transferLeader']);
/** Stop taking Ready while this many committed entries wait to be applied (back-pressure). */
const MAX_APPLY_BACKLOG = 50_000;

const NO_MESSAGES: readonly Message[] = [];

/** Whether msgs[i + 1..] holds another message to msgs[i]'s peer. */
function laterTo(msgs: readonly Message[], i: number): boolean {
  const to = msgs[i]!.to;
  for (let j = i + 1; j < msgs.length; j++) if (msgs[j]!.to === to) return true;
  return false;
}

export interface ReadyLoopOptions {
  readonly scheduler: Scheduler;
  readonly node: RawNode;
  readonly raftStorage: MemoryStorage;
  readonly storage: MemberStorage;
  readonly applyLoop: ApplyLoop;
  /** Term and vote recovered at start. */
  readonly savedTerm: number;
  readonly savedVote: bigint;
  readonly send: (msgs: readonly Message[]) => void;
  /** Writes the messages send() queued now (the transport otherwise writes them at the turn's end). */
  readonly flushSends?: () => void;
  /** This member's role as of the last soft state. */
  readonly role: () => StateRole;
  readonly appliedIndex: () => number;
  readonly stopped: () => boolean;
  readonly fatal: () => boolean;
  /** Hands queued client proposals to raft (start of each turn and after each Ready). */
  readonly flushProposals: () => void;
  readonly onSoftState: (ss: SoftState) => void;
  readonly onHardState: (hs: HardState) => void;
  readonly onReadState: (rs: ReadState) => void;
  /** Gives a held-back 'snap' message to raft again. */
  readonly redeliver: (m: Message) => void;
  readonly die: (reason: string, err?: unknown) => void;
}

export class ReadyLoop {
  private running = false;
  private again = false;
  private scheduled = false;
  /** Storage writes issued / known durable (in call order; storage resolves them in order). */
  private saveSeq = 0;
  private durable = 0;
  /** The last write that carried entries or a term/vote change (mustSync). */
  private lastSyncSeq = 0;
  private saveWaiters: Array<{ seq: number; resolve: () => void }> = [];
  /** A follower's messages wait until the Ready they came with is durable. */
  private pendingSends: Array<{ seq: number; msgs: readonly Message[] }> = [];
  /** Term and vote of the last hard state handed to storage.save (or recovered). */
  private savedTerm: number;
  private savedVote: bigint;
  /**
   * The last conf change handed out by raft (in a Ready's committedEntries) that the apply loop
   * has not applied yet (0: none). The loop waits for it before advance(); 'snap' messages too.
   */
  private confPendingIndex = 0;
  private confApplyWaiter: (() => void) | undefined;
  /** A 'snap' message held back until confPendingIndex is applied (the newest one only). */
  private deferredSnap: Message | undefined;
  /**
   * A leader's entry-less appends held until the next turn (or until anything else is sent, so
   * each peer still gets its messages in raft's order). In a Ready that commits, raft tells every
   * follower the new commit index; sent at once, those writes (and the followers they wake, on a
   * machine with fewer cores than members) go ahead of applying and answering the client. etcd
   * sends and applies in parallel goroutines; here the answers go first and the followers learn
   * the commit a turn later, which raft allows (a follower's commit index may lag the leader's).
   */
  private deferredCommits: Message[] = [];
  private deferredScheduled = false;
  /** A tick came while a Ready was being handled: raft gets it before the next Ready (one at most). */
  private tickOwed = false;
  /**
   * The leader's entry writes not yet durable (one at most: new entries wait for it, to share the
   * next write), with the last entry raft is told about (persisted()) once the write is.
   */
  private inFlight: Array<{ seq: number; index: number; term: number }> = [];

  constructor(private readonly o: ReadyLoopOptions) {
    this.savedTerm = o.savedTerm;
    this.savedVote = o.savedVote;
  }

  /** The last storage write known durable. */
  durableSeq(): number {
    return this.durable;
  }

  /** A Ready is being handled or a write is not durable yet. */
  busy(): boolean {
    return this.running || this.durable < this.saveSeq;
  }

  /**
   * One heartbeat interval passed. Raft's clock moves only while this loop is free to take a
   * Ready: a tick that comes while a Ready is being handled (its write waits for the disk, or a
   * conf change for the apply loop) is owed and given to raft before the next Ready, and several
   * such ticks count as one. That is etcd's raftNode: it takes its ticker's ticks in the same
   * select as the Readies, so while a Save blocks it in fdatasync raft's clock stands still, and
   * the ticker keeps one tick at most. On a shared disk a stall holds every member's write at
   * once: the leader's heartbeats cannot leave until its write ends, and its followers' answers
   * wait behind theirs. Ticking on regardless, followers campaigned for want of heartbeats and
   * the leader stepped down for want of answers (check-quorum), and each new term lost the
   * proposals followers had forwarded to the old leader ('request timed out' for 58 of 131,072
   * puts at 8 GiB, a CI rehearsal loading the disk beside it; etcd 3.6 lost none).
   */
  tick(): void {
    if (this.o.stopped()) return;
    // The leader's own write in flight counts as a Ready being handled (it did before the leader
    // stopped waiting for it), so a stall still stops its clock.
    if (this.running || this.inFlight.length > 0) {
      this.tickOwed = true;
      return;
    }
    this.o.node.tick();
    this.schedule();
  }

  /** Gives raft the tick owed since a Ready began (tick()); true if there was one. */
  private payOwedTick(): boolean {
    if (!this.tickOwed || this.inFlight.length > 0) return false;
    this.tickOwed = false;
    this.o.node.tick();
    return true;
  }

  /** Runs the loop on a later turn (or again, if it is running now). */
  schedule(): void {
    this.arrange((fn) => this.o.scheduler.soon(fn));
  }

  /**
   * Runs the loop once this turn's microtasks are done instead of on a later turn, if nothing is
   * scheduled yet. For a member under light load (Member.schedule): a later turn only makes a
   * lone proposal wait for the rest of the poll phase and the check phase (55 µs median on the
   * leader under one client). Under many clients schedule() still gathers a whole poll phase of
   * proposals into one Ready.
   */
  scheduleAtOnce(): void {
    this.arrange(queueMicrotask);
  }

  /** One run through `later`, unless one is pending already (or the loop runs: then again). */
  private arrange(later: (fn: () => void) => void): void {
    if (this.o.stopped()) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    later(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  /**
   * Whether a 'snap' message must wait: restoring a snapshot resets raft's membership to the
   * snapshot's; the conf change still waiting in the apply queue would then be applied on top of
   * it, leaving raft with a membership nobody has. Held (as a slow network would) until applied.
   */
  holdSnapshot(m: Message): boolean {
    if (this.confPendingIndex <= this.o.appliedIndex()) return false;
    if (this.deferredSnap === undefined || (m.snapshot?.metadata.index ?? 0) >= (this.deferredSnap.snapshot?.metadata.index ?? 0)) this.deferredSnap = m;
    return true;
  }

  /** After each apply slice: releases the loop once the pending conf change is applied. */
  onApplied(appliedIndex: number): void {
    if (this.confPendingIndex > 0 && this.confPendingIndex <= appliedIndex) this.releaseConfWait();
  }

  /** The pending conf change is applied (or the member is stopping): release the waiters. */
  releaseConfWait(): void {
    this.confPendingIndex = 0;
    const w = this.confApplyWaiter;
    this.confApplyWaiter = undefined;
    const snap = this.deferredSnap;
    this.deferredSnap = undefined;
    w?.();
    if (snap && !this.o.stopped() && !this.o.fatal()) this.o.redeliver(snap);
  }

  private async run(): Promise<void> {
    const { node } = this.o;
    if (this.running || this.o.stopped()) return;
    this.running = true;
    try {
      do {
        this.again = false;
        this.o.flushProposals();
        if (this.o.applyLoop.backlog() > MAX_APPLY_BACKLOG) break;
        while (node.hasReady(this.inFlight.length > 0) && !this.o.stopped()) {
          const rd = node.ready(this.inFlight.length > 0);
          this.noteConfChanges(rd.committedEntries);
          const persistedLater = await this.handle(rd);
          // etcd's waitApply: raft's applied index moves to the end of committedEntries at
          // advance(), and raft's guards (no campaign with unapplied conf changes, one pending
          // conf change at a time) and its vote/commit quorums trust that. So a conf change
          // among them must have reached applyConfChange before advance(); otherwise a slow
          // apply loop lets raft count votes and commits with a stale membership.
          const confApplied = this.waitConfChangesApplied();
          if (confApplied) await confApplied;
          if (this.o.stopped() || this.o.fatal()) break;
          node.advance({ persistedLater });
          this.o.applyLoop.kick();
          this.o.flushProposals();
          this.payOwedTick();
        }
      } while (this.again && !this.o.stopped());
    } catch (err) {
      this.o.die('ready loop failed; stopping the member', err);
    } finally {
      this.running = false;
    }
    // Left by a break (apply backlog, stop) with a tick still owed: raft gets it now.
    if (!this.o.stopped() && this.payOwedTick()) this.again = true;
    if (this.again && !this.o.stopped()) this.schedule();
  }

  /**
   * One Ready, in raft's order. The leader's messages leave at once (Raft thesis 10.2.1: raft
   * counts the leader's own log toward a commit only after advance() reports it persisted).
   * Then the storage write; we wait for it before advance(), so advance() really means
   * "persisted". A follower's (or candidate's) messages leave only once the write is durable,
   * so no append or vote is acknowledged before it is on disk. Proposals that arrive during the
   * fsync wait for the next Ready and share its fsync (group commit). A leader's Ready does not
   * wait for its write: true means its entries are reported to raft later (inFlight).
   */
  private async handle(rd: Ready): Promise<boolean> {
    const { raftStorage, storage, applyLoop } = this.o;
    if (rd.softState) this.o.onSoftState(rd.softState);
    if (rd.hardState) this.o.onHardState(rd.hardState);
    for (const rs of rd.readStates) this.o.onReadState(rs);
    // A leader's messages may leave before its write (raft counts its own log only after
    // advance), but not in a Ready that also changes term or vote: a single voter campaigns
    // and wins in one step, and its first appends must not carry a term that a crash could
    // lose (it would win that term again and could write other entries under the same
    // index and term the receivers hold).
    const termOrVoteChanged = rd.hardState !== undefined && (rd.hardState.term !== this.savedTerm || rd.hardState.vote !== this.savedVote);
    const sendEarly = this.o.role() === 'leader' && !termOrVoteChanged;
    // Such a Ready does not wait for its write either (unless it restores a snapshot): see inFlight.
    const persistLater = sendEarly && !rd.snapshot;
    if (sendEarly) {
      // Not while a conf change waits to be applied: a member it removes must still hear of the
      // commit (its peer entry goes away when the change is applied).
      if (rd.committedEntries.length > 0 && this.confPendingIndex === 0) this.sendDeferringCommits(rd.messages);
      else this.sendNow(rd.messages);
      // On the wire before this member encodes and writes its own copy: a follower's write and
      // ack is the longer road to the commit (the WAL encode and write took 40 µs before them).
      if (rd.entries.length > 0) this.o.flushSends?.();
    }
    if (rd.snapshot) {
      await this.waitDurable(this.saveSeq);
      await storage.saveSnapshot(rd.snapshot, { fromLeader: true });
      raftStorage.applySnapshot(rd.snapshot);
      this.lastSyncSeq = this.saveSeq;
    }
    if (rd.hardState || rd.entries.length > 0) {
      if (rd.hardState) {
        raftStorage.setHardState(rd.hardState);
        this.savedTerm = rd.hardState.term;
        this.savedVote = rd.hardState.vote;
      }
      if (rd.entries.length > 0) raftStorage.append(rd.entries);
      const seq = ++this.saveSeq;
      if (rd.mustSync) this.lastSyncSeq = seq;
      const last = rd.entries[rd.entries.length - 1];
      if (persistLater && last !== undefined) this.inFlight.push({ seq, index: last.index, term: last.term });
      storage.save(rd.hardState, rd.entries, rd.mustSync).then(
        () => this.onDurable(seq),
        (err: unknown) => this.o.die('storage write failed; stopping the member', err),
      );
    }
    // What must be durable before this Ready's messages leave (follower): the last write with
    // entries or a term/vote change. A commit-index-only write (mustSync false) holds nothing up.
    const seq = this.lastSyncSeq;
    if (!sendEarly && rd.messages.length > 0) {
      // Messages that acknowledge nothing on disk (a forwarded proposal or read, a heartbeat
      // answer) leave at once; appends' and votes' answers wait for the write.
      const now: Message[] = [];
      const later: Message[] = [];
      for (const msg of rd.messages) (SEND_BEFORE_PERSIST.has(msg.type) ? now : later).push(msg);
      if (now.length > 0) this.sendNow(now);
      if (later.length > 0) {
        if (seq <= this.durable && this.pendingSends.length === 0) this.sendNow(later);
        else this.pendingSends.push({ seq, msgs: later });
      }
    }
    // Committed entries need no local durability before they apply: raft commits an entry
    // only once a quorum has it on disk (the leader's own copy counts only after advance(),
    // i.e. after its write), so applying now cannot acknowledge anything a crash could lose.
    if (rd.snapshot) applyLoop.push({ kind: 'snapshot', snapshot: rd.snapshot, seq: 0 });
    for (const e of rd.committedEntries) applyLoop.push({ kind: 'entry', entry: e, seq: 0 });
    applyLoop.kick();
    // A leader's entries and commit index need not be durable before advance(): raft counts its
    // entries once persisted() says so, and a commit index is never acknowledged to anyone.
    if (persistLater) return true;
    await this.waitDurable(this.saveSeq);
    return false;
  }

  /** Sends `msgs`, after any held commit-index appends (so each peer gets raft's order). */
  private sendNow(msgs: readonly Message[]): void {
    if (this.deferredCommits.length > 0) {
      const held = this.deferredCommits;
      this.deferredCommits = [];
      this.o.send(msgs.length > 0 ? held.concat(msgs) : held);
    } else if (msgs.length > 0) this.o.send(msgs);
  }

  /**
   * A leader's Ready with entries to apply: an entry-less append that is the last message of
   * the Ready to its peer waits for the next turn (see deferredCommits); the rest leave now.
   */
  private sendDeferringCommits(msgs: readonly Message[]): void {
    const now: Message[] = [];
    const hold: Message[] = [];
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      (m.type === 'app' && m.entries.length === 0 && !laterTo(msgs, i) ? hold : now).push(m);
    }
    this.sendNow(now);
    if (hold.length === 0) return;
    this.deferredCommits.push(...hold);
    if (this.deferredScheduled) return;
    this.deferredScheduled = true;
    this.o.scheduler.soon(() => {
      this.deferredScheduled = false;
      if (!this.o.stopped()) this.sendNow(NO_MESSAGES);
    });
  }

  /** Records the last conf change among a Ready's committed entries (see confPendingIndex). */
  private noteConfChanges(ents: readonly Entry[]): void {
    for (let i = ents.length - 1; i >= 0; i--) {
      const e = ents[i]!;
      if (e.type === 'confChange') {
        if (e.index > this.o.appliedIndex()) this.confPendingIndex = e.index;
        return;
      }
    }
  }

  /** Resolves once confPendingIndex is applied (undefined: nothing to wait for). */
  private waitConfChangesApplied(): Promise<void> | undefined {
    if (this.confPendingIndex === 0 || this.o.stopped() || this.o.fatal()) return undefined;
    return new Promise<void>((resolve) => {
      this.confApplyWaiter = resolve;
      this.o.applyLoop.kick();
    });
  }

  private onDurable(seq: number): void {
    if (seq > this.durable) this.durable = seq;
    if (this.inFlight.length > 0 && this.inFlight[0]!.seq <= this.durable) this.reportPersisted();
    while (this.pendingSends.length > 0 && this.pendingSends[0]!.seq <= this.durable) this.sendNow(this.pendingSends.shift()!.msgs);
    if (this.saveWaiters.length > 0) {
      const still: typeof this.saveWaiters = [];
      for (const w of this.saveWaiters) (w.seq <= this.durable ? w.resolve() : still.push(w));
      this.saveWaiters = still;
    }
    this.o.applyLoop.kick();
  }

  /** Tells raft the leader's durable entries (inFlight) are persisted, and runs the loop for the commit. */
  private reportPersisted(): void {
    while (this.inFlight.length > 0 && this.inFlight[0]!.seq <= this.durable) {
      const w = this.inFlight.shift()!;
      if (!this.o.stopped() && !this.o.fatal()) this.o.node.persisted(w.index, w.term);
    }
    if (this.o.stopped() || this.o.fatal()) return;
    if (!this.running) this.payOwedTick();
    this.scheduleAtOnce();
  }

  private waitDurable(seq: number): Promise<void> {
    if (seq <= this.durable) return Promise.resolve();
    return new Promise((resolve) => this.saveWaiters.push({ seq, resolve }));
  }
}
