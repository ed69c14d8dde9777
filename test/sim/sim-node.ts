// One simulated member: its store (what survives a crash: sim disk or real WAL), the MemoryStorage raft reads
// (rebuilt from the disk on every start), its RawNode while it is up, and the application
// state (a running hash, see state-machine.ts).
//
// Restart choice: the state machine is not persisted apart from snapshots. A restarted node
// restores the state from its latest durable snapshot and starts raft with
// applied = snapshot index, so raft hands it the committed entries after the snapshot again
// and they are re-applied (and re-checked against what every node applied before).
import type { ConfState, NodeId, Snapshot, StateRole } from '../../node/raft/types.js';
import type { RawNode } from '../../node/raft/raw-node.js';
import { MemoryStorage } from '../../node/raft/memory-storage.js';
import type { NodeStore } from './node-store.js';
import type { DurableState } from './sim-disk.js';
import { decodeState } from './state-machine.js';

export class SimNode {
  storage: MemoryStorage;
  raw: RawNode | undefined;
  /** Incarnation counter: stale tick events of an earlier life are ignored. */
  life = 0;
  /** Permanently gone: removed from the cluster. */
  removed = false;
  /** Virtual time (units) until which the node is stalled: its events wait. */
  pausedUntil = 0;
  /** Its tick interval in time units (clock skew between nodes). */
  tickIntervalUnits = 100;
  /** Virtual tick at which a crashed node comes back (undefined while up). */
  downUntilTick: number | undefined;
  // Application state
  state = 0;
  applied = 0;
  confState: ConfState;
  /** Highest index reported to the checker as committed from this node's log. */
  knownCommit = 0;
  // Raft's soft state as last reported
  role: StateRole = 'follower';
  lead: NodeId = 0n;
  term = 0;
  vote: NodeId = 0n;
  /** This node applied its own removal; it stops after the current Ready. */
  selfRemoved = false;

  constructor(
    readonly id: NodeId,
    initial: Snapshot,
    readonly store: NodeStore,
  ) {
    this.storage = new MemoryStorage(initial);
    this.confState = initial.metadata.confState;
  }

  get up(): boolean {
    return this.raw !== undefined;
  }

  /** Rebuild storage and application state from what is durable. */
  load(d: DurableState): void {
    // Recovery rule (as the WAL's): a durable snapshot is committed state, so the commit
    // index starts at least at its index even if the hard state written with it was lost.
    const snapIndex = d.snapshot.metadata.index;
    const hs = d.hardState.commit >= snapIndex ? d.hardState : { ...d.hardState, commit: snapIndex };
    this.storage = new MemoryStorage(d.snapshot, hs, d.entries.slice());
    this.state = decodeState(d.snapshot.data);
    this.applied = d.snapshot.metadata.index;
    this.confState = d.snapshot.metadata.confState;
    this.knownCommit = d.snapshot.metadata.index;
    this.role = 'follower';
    this.lead = 0n;
    this.term = d.hardState.term;
    this.vote = d.hardState.vote;
    this.selfRemoved = false;
  }

  isMember(): boolean {
    return this.confState.voters.includes(this.id) || this.confState.learners.includes(this.id);
  }
}
