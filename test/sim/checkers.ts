// Safety checkers for the simulated cluster. They are fed observations as the run goes
// (every Ready a node handles, every restart) and record a violation the moment a Raft
// safety property breaks. They hold no reference to the nodes, so unit tests can feed them
// hand-made bad histories and prove each one can fail.
//
// Properties (Raft paper, figure 3, plus a few that the persistence contract implies):
// - Election Safety: at most one leader per term, over the whole history.
// - Leader Append-Only: a leader never overwrites or deletes entries in its own log.
// - Log Matching: checked incrementally in an equivalent form: every persisted entry with a
//   given (index, term) has the same payload and the same predecessor term on every node.
//   By induction over the index that gives "same (index, term) => identical prefix".
// - Leader Completeness: when a node becomes leader of term T, its log holds every entry
//   known to have been committed in a term < T. The checker does not see the exact term in
//   which an entry became committed; it records the term of the first node that reported it
//   committed, which is an upper bound (that node heard it from a leader of its own term or
//   is that leader). Checking only entries whose bound is below T keeps the check sound when
//   a stale candidate (say, stalled for a while) wins an old term late.
// - State Machine Safety: no two nodes apply different entries at one index, and the state
//   after applying index i (or restoring a snapshot at i) is the same everywhere.
// - Per node: commit never decreases within an incarnation, nor below the durable commit
//   after a restart; applied indexes are consecutive; term never decreases (even across
//   crashes), and the vote cast in a term never changes (even across crashes).
// - ReadIndex: a read's index is at least the commit index known before the read was issued.
import type { HardState, NodeId } from '../../node/raft/types.js';

export interface Violation {
  readonly property: string;
  readonly detail: string;
  /** Virtual time (ticks) when it was seen. */
  readonly tick: number;
}

/** A compact identity of an entry: its term and a fingerprint of type + payload. */
export interface EntryId {
  readonly term: number;
  readonly fp: number;
}

interface NodeTrack {
  term: number;
  /** Votes this node cast, by term (across all incarnations). */
  votes: Map<number, NodeId>;
  /** Commit index seen in this incarnation. */
  commit: number;
  applied: number;
  isLeader: boolean;
  leaderTerm: number;
}

export class SafetyChecker {
  readonly violations: Violation[] = [];
  /** Current virtual tick, set by the driver, stamped on violations. */
  tick = 0;
  private readonly leaders = new Map<number, NodeId>();
  /** (index -> term -> {fp, prevTerm}) for every entry ever persisted on any node. */
  private readonly persisted = new Map<number, Map<number, { fp: number; prevTerm: number }>>();
  /** The committed log as far as anyone has reported it: index -> id. */
  private readonly committedLog = new Map<number, EntryId>();
  /** index -> upper bound of the term in which it became committed. */
  private readonly commitTerm = new Map<number, number>();
  private maxCommitted = 0;
  /** index -> { entry, state hash after applying it }. */
  private readonly appliedAt = new Map<number, { id: EntryId; state: number }>();
  private readonly nodes = new Map<NodeId, NodeTrack>();
  private readonly reads = new Map<string, number>();
  /** Limit how many violations are kept: the first one matters. */
  private readonly maxKept = 20;

  private fail(property: string, detail: string): void {
    if (this.violations.length < this.maxKept) this.violations.push({ property, detail, tick: this.tick });
  }

  get ok(): boolean {
    return this.violations.length === 0;
  }

  /** Highest index anyone has reported committed. */
  get committedIndex(): number {
    return this.maxCommitted;
  }

  committedEntry(index: number): EntryId | undefined {
    return this.committedLog.get(index);
  }

  private track(node: NodeId): NodeTrack {
    let t = this.nodes.get(node);
    if (t === undefined) {
      t = { term: 0, votes: new Map(), commit: 0, applied: 0, isLeader: false, leaderTerm: 0 };
      this.nodes.set(node, t);
    }
    return t;
  }

  // ---- per-node persistent state ----------------------------------------------------------

  /** A hard state the node persisted. */
  hardState(node: NodeId, hs: HardState): void {
    const t = this.track(node);
    if (hs.term < t.term) this.fail('TermMonotonic', `node ${node} term went from ${t.term} back to ${hs.term}`);
    t.term = Math.max(t.term, hs.term);
    if (hs.vote !== 0n) {
      const prev = t.votes.get(hs.term);
      if (prev !== undefined && prev !== hs.vote) {
        this.fail('VoteOnce', `node ${node} voted for ${prev} and then ${hs.vote} in term ${hs.term}`);
      } else if (prev === undefined) {
        t.votes.set(hs.term, hs.vote);
      }
    }
    if (hs.commit < t.commit) {
      this.fail('CommitMonotonic', `node ${node} commit went from ${t.commit} back to ${hs.commit}`);
    }
    t.commit = Math.max(t.commit, hs.commit);
  }

  /**
   * The node restarted from its durable state. `startCommit` is the commit index the new
   * incarnation reports; `startApplied` is where its state machine resumes.
   */
  restarted(node: NodeId, durable: HardState, startCommit: number, startApplied: number): void {
    const t = this.track(node);
    if (startCommit < durable.commit) {
      this.fail('CommitMonotonic', `node ${node} restarted with commit ${startCommit} below its durable ${durable.commit}`);
    }
    t.commit = startCommit;
    t.applied = startApplied;
    t.isLeader = false;
    // Term and votes are checked against the whole history through hardState().
    this.hardState(node, { term: durable.term, vote: durable.vote, commit: startCommit });
  }

  // ---- leaders ------------------------------------------------------------------------------

  /** The node reports it is leader of `term`; termOfIndex reads its (persisted) log. */
  leaderElected(
    node: NodeId,
    term: number,
    log: { firstIndex: number; lastIndex: number; snapshotIndex: number; snapshotTerm: number; term(i: number): number | undefined },
  ): void {
    const prev = this.leaders.get(term);
    if (prev !== undefined && prev !== node) {
      this.fail('ElectionSafety', `nodes ${prev} and ${node} were both leader in term ${term}`);
    } else {
      this.leaders.set(term, node);
    }
    const t = this.track(node);
    t.isLeader = true;
    t.leaderTerm = term;
    // Leader Completeness: every entry committed before this term is in the new leader's
    // log (or under its snapshot).
    const snapC = this.committedLog.get(log.snapshotIndex);
    if (snapC !== undefined && log.snapshotIndex > 0 && snapC.term !== log.snapshotTerm) {
      this.fail(
        'LeaderCompleteness',
        `node ${node} (leader of term ${term}) has a snapshot at ${log.snapshotIndex} of term ${log.snapshotTerm}, committed term ${snapC.term}`,
      );
    }
    for (let i = Math.max(log.snapshotIndex + 1, log.firstIndex); i <= this.maxCommitted; i++) {
      const c = this.committedLog.get(i);
      if (c === undefined || (this.commitTerm.get(i) ?? Infinity) >= term) continue;
      if (i > log.lastIndex) {
        this.fail(
          'LeaderCompleteness',
          `node ${node} became leader of term ${term} with last index ${log.lastIndex}, but ${i} was committed before`,
        );
        return;
      }
      const lt = log.term(i);
      if (lt !== c.term) {
        this.fail(
          'LeaderCompleteness',
          `node ${node} became leader of term ${term} but its entry ${i} has term ${lt}, committed term ${c.term}`,
        );
        return;
      }
    }
  }

  steppedDown(node: NodeId): void {
    this.track(node).isLeader = false;
  }

  // ---- logs ---------------------------------------------------------------------------------

  /**
   * The node persisted entries (index first..), the entry before `first` having `prevTerm`.
   * `lastIndexBefore` is the node's last index before this append (to catch a leader
   * rewriting its own log).
   */
  entriesPersisted(node: NodeId, prevTerm: number, lastIndexBefore: number, entries: ReadonlyArray<{ index: number } & EntryId>): void {
    if (entries.length === 0) return;
    const t = this.track(node);
    const first = entries[0] as { index: number } & EntryId;
    if (t.isLeader && first.index <= lastIndexBefore) {
      this.fail(
        'LeaderAppendOnly',
        `leader ${node} (term ${t.leaderTerm}) overwrote its log from index ${first.index} (last was ${lastIndexBefore})`,
      );
    }
    let pt = prevTerm;
    let expectIndex = first.index;
    for (const e of entries) {
      if (e.index !== expectIndex) {
        this.fail('LogMatching', `node ${node} persisted a non-contiguous batch: ${e.index} after ${expectIndex - 1}`);
        return;
      }
      if (e.term < pt) {
        this.fail('LogMatching', `node ${node} entry ${e.index} has term ${e.term} below its predecessor's ${pt}`);
      }
      let byTerm = this.persisted.get(e.index);
      if (byTerm === undefined) {
        byTerm = new Map();
        this.persisted.set(e.index, byTerm);
      }
      const known = byTerm.get(e.term);
      if (known === undefined) {
        byTerm.set(e.term, { fp: e.fp, prevTerm: pt });
      } else if (known.fp !== e.fp) {
        this.fail('LogMatching', `two different entries at index ${e.index} term ${e.term} (node ${node})`);
        return;
      } else if (known.prevTerm !== pt) {
        this.fail(
          'LogMatching',
          `entry ${e.index}/${e.term} follows term ${pt} on node ${node} but term ${known.prevTerm} elsewhere`,
        );
        return;
      }
      pt = e.term;
      expectIndex++;
    }
  }

  // ---- commits and applies ----------------------------------------------------------------

  /**
   * An entry the node knows is committed (at or below its commit index); `nodeTerm` is the
   * node's current term (an upper bound of the term in which the entry became committed).
   */
  committed(node: NodeId, index: number, id: EntryId, nodeTerm: number): void {
    const c = this.committedLog.get(index);
    if (c === undefined) {
      this.committedLog.set(index, id);
      this.commitTerm.set(index, nodeTerm);
      if (index > this.maxCommitted) this.maxCommitted = index;
    } else if (c.term !== id.term || c.fp !== id.fp) {
      this.fail(
        'StateMachineSafety',
        `node ${node} holds committed entry ${index} with term ${id.term}, another node committed term ${c.term} there`,
      );
    }
  }

  /** The node applied entry `index`; `state` is its state machine's hash afterwards. */
  applied(node: NodeId, index: number, id: EntryId, state: number): void {
    const t = this.track(node);
    if (index !== t.applied + 1) {
      this.fail('ApplyOrder', `node ${node} applied index ${index} right after ${t.applied}`);
    }
    t.applied = index;
    if (index > t.commit) this.fail('ApplyCommitted', `node ${node} applied ${index} beyond its commit ${t.commit}`);
    this.committed(node, index, id, Infinity);
    const a = this.appliedAt.get(index);
    if (a === undefined) {
      this.appliedAt.set(index, { id, state });
    } else if (a.id.term !== id.term || a.id.fp !== id.fp) {
      this.fail('StateMachineSafety', `node ${node} applied a different entry at index ${index} (term ${id.term} vs ${a.id.term})`);
    } else if (a.state !== state) {
      this.fail('StateMachineSafety', `node ${node} has a different state after applying index ${index}`);
    }
  }

  /** The node replaced its state machine with a snapshot taken at `index`. */
  snapshotRestored(node: NodeId, index: number, term: number, state: number): void {
    const t = this.track(node);
    if (index < t.applied) this.fail('ApplyOrder', `node ${node} restored snapshot ${index} below applied ${t.applied}`);
    t.applied = index;
    const c = this.committedLog.get(index);
    if (c !== undefined && c.term !== term) {
      this.fail('StateMachineSafety', `node ${node} restored a snapshot at ${index} of term ${term}, committed term ${c.term}`);
    }
    if (index > this.maxCommitted) this.maxCommitted = index;
    const a = this.appliedAt.get(index);
    if (a !== undefined && a.state !== state) {
      this.fail('StateMachineSafety', `node ${node} restored a snapshot at ${index} whose state differs from the applied one`);
    }
  }

  // ---- ReadIndex ------------------------------------------------------------------------------

  readIssued(ctx: string): void {
    this.reads.set(ctx, this.maxCommitted);
  }

  readConfirmed(node: NodeId, ctx: string, index: number): void {
    const floor = this.reads.get(ctx);
    if (floor === undefined) return; // a duplicate confirmation of a read already checked
    this.reads.delete(ctx);
    if (index < floor) {
      this.fail('ReadIndex', `node ${node} confirmed read ${ctx} at index ${index}, but ${floor} was committed before it was issued`);
    }
  }
}
