// Client proposals waiting to be handed to raft. The Ready loop flushes them at the start of each
// turn, so one turn turns many client requests into one entry batch (one 'prop' message, one
// fsync, one append per peer). Membership changes go one at a time (raft allows one pending).

import { NONE, ProposalDroppedError, type ConfChange, type Message, type NodeId, type RawNode } from '../raft/index.js';
import { BackendError } from '../server/backend.js';
import { decodeConfContext } from './membership.js';

/** Client proposals handed to raft in one step. */
const MAX_PROPOSAL_BATCH = 1024;
const MAX_PROPOSAL_BATCH_BYTES = 4 * 1024 * 1024;

export interface ProposalQueueOptions {
  /** Whether someone still waits for this request id (a conf change whose caller gave up is dropped). */
  readonly waiting: (requestId: number) => boolean;
  /** Fails the waiter of a conf change raft refused. */
  readonly fail: (requestId: number, err: unknown) => void;
}

export class ProposalQueue {
  private proposals: Uint8Array[] = [];
  private confProposals: ConfChange[] = [];
  /** Entries only this member's leadership in one term may propose (lease revokes on expiry). */
  private leaderOnly: Array<{ data: Uint8Array; term: number }> = [];

  constructor(private readonly o: ProposalQueueOptions) {}

  push(data: Uint8Array): void {
    this.proposals.push(data);
  }

  /** Proposed only while this member leads in `term`; dropped otherwise (never forwarded). */
  pushLeaderOnly(data: Uint8Array, term: number): void {
    this.leaderOnly.push({ data, term });
  }

  pushConf(cc: ConfChange): void {
    this.confProposals.push(cc);
  }

  /**
   * A follower's client proposals, sent to its leader now (raft's forwarding, done outside the
   * Ready loop): the loop waits for each of its writes to be durable before it takes the next
   * Ready, and a proposal has nothing to wait for there. What raft would not forward (no leader,
   * not a follower) stays for flush(). Membership changes and leader-only proposals stay too.
   */
  forward(node: RawNode, send: (m: Message) => void): void {
    while (this.proposals.length > 0) {
      const batch = this.nextBatch();
      const m = node.forwardProposals(batch);
      if (m === undefined) return;
      send(m);
      this.taken(batch);
    }
  }

  /** The next bounded batch from the front of the queue (the queue itself when it all fits). */
  private nextBatch(): Uint8Array[] {
    let n = 0;
    let bytes = 0;
    while (n < this.proposals.length && n < MAX_PROPOSAL_BATCH && (n === 0 || bytes + this.proposals[n]!.byteLength <= MAX_PROPOSAL_BATCH_BYTES)) {
      bytes += this.proposals[n]!.byteLength;
      n++;
    }
    return n === this.proposals.length ? this.proposals : this.proposals.slice(0, n);
  }

  /** Drops a batch nextBatch() gave from the queue. */
  private taken(batch: Uint8Array[]): void {
    this.proposals = batch === this.proposals ? [] : this.proposals.slice(batch.length);
  }

  /** Hands what is queued to raft, when there is a leader to take it. `leadingTerm`: ours, if we lead. */
  flush(node: RawNode, lead: NodeId, leadingTerm: number | undefined): void {
    if (this.leaderOnly.length > 0) {
      for (const p of this.leaderOnly) if (p.term === leadingTerm) this.proposals.push(p.data);
      this.leaderOnly = [];
    }
    if (this.proposals.length > 0 && lead !== NONE) {
      // One raft step (one 'prop' message, forwarded whole by a follower) per bounded batch.
      while (this.proposals.length > 0) {
        const batch = this.nextBatch();
        try {
          node.proposeBatch(batch);
        } catch (err) {
          // No leader right now (or a transfer is under way): keep them for later.
          if (err instanceof ProposalDroppedError) break;
          throw err;
        }
        this.taken(batch);
      }
    }
    // A membership change whose caller already gave up (timed out) is dropped, never proposed late.
    while (this.confProposals.length > 0 && !this.o.waiting(decodeConfContext(this.confProposals[0]!.context).requestId)) this.confProposals.shift();
    if (this.confProposals.length > 0 && lead !== NONE) {
      const cc = this.confProposals.shift()!;
      try {
        node.proposeConfChange(cc);
      } catch (err) {
        if (!(err instanceof ProposalDroppedError)) throw err;
        const ctx = decodeConfContext(cc.context);
        this.o.fail(ctx.requestId, new BackendError(lead === NONE ? 'noLeader' : 'timeout', (err as Error).message));
      }
    }
  }
}
