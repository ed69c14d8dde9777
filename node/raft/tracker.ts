// The membership (voters and learners) and, on a leader, each member's Progress.
import { compareNodeIds, type ConfChange, type ConfState, type NodeId } from './types.js';
import { Progress } from './progress.js';
import { committedIndex, voteResult, type VoteResult } from './quorum.js';

export class ProgressTracker {
  /** Sorted, so iteration (and thus message order) is deterministic. */
  voters: NodeId[] = [];
  learners: NodeId[] = [];
  /** Every member, sorted. */
  ids: NodeId[] = [];
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();
  readonly maxInflightMsgs: number;
  readonly maxInflightBytes: number;

  constructor(maxInflightMsgs: number, maxInflightBytes: number) {
    this.maxInflightMsgs = maxInflightMsgs;
    this.maxInflightBytes = maxInflightBytes;
  }

  /** Replaces the membership with cs (used at start and on snapshot restore). */
  reset(cs: ConfState, lastIndex: number): void {
    this.progress.clear();
    for (const id of cs.voters) this.progress.set(id, this.newProgress(lastIndex, false));
    for (const id of cs.learners) {
      if (!this.progress.has(id)) this.progress.set(id, this.newProgress(lastIndex, true));
    }
    this.rebuild();
  }

  private newProgress(lastIndex: number, isLearner: boolean): Progress {
    const pr = new Progress(lastIndex + 1, isLearner, this.maxInflightMsgs, this.maxInflightBytes);
    // A new member counts as active until the next check-quorum round, so adding a member
    // does not immediately cost the leader its quorum.
    pr.recentActive = true;
    return pr;
  }

  private rebuild(): void {
    const voters: NodeId[] = [];
    const learners: NodeId[] = [];
    for (const [id, pr] of this.progress) (pr.isLearner ? learners : voters).push(id);
    voters.sort(compareNodeIds);
    learners.sort(compareNodeIds);
    this.voters = voters;
    this.learners = learners;
    this.ids = [...voters, ...learners].sort(compareNodeIds);
  }

  /**
   * Applies one single-step change. Returns false (and changes nothing) for a change that
   * would leave no voter.
   */
  applyChange(cc: ConfChange, lastIndex: number): boolean {
    const pr = this.progress.get(cc.nodeId);
    switch (cc.type) {
      case 'addNode':
        if (pr === undefined) this.progress.set(cc.nodeId, this.newProgress(lastIndex, false));
        else pr.isLearner = false; // promotes a learner; a no-op for a voter
        break;
      case 'addLearnerNode':
        if (pr === undefined) this.progress.set(cc.nodeId, this.newProgress(lastIndex, true));
        else if (!pr.isLearner) {
          if (this.voters.length === 1) return false;
          pr.isLearner = true; // demotion of a voter
        }
        break;
      case 'removeNode':
        if (pr === undefined) return true;
        if (!pr.isLearner && this.voters.length === 1) return false;
        this.progress.delete(cc.nodeId);
        this.votes.delete(cc.nodeId);
        break;
      case 'updateNode':
        return true;
    }
    this.rebuild();
    return true;
  }

  confState(): ConfState {
    return { voters: this.voters.slice(), learners: this.learners.slice() };
  }

  isVoter(id: NodeId): boolean {
    const pr = this.progress.get(id);
    return pr !== undefined && !pr.isLearner;
  }

  isSingleton(): boolean {
    return this.voters.length === 1;
  }

  /** The highest index a majority of voters have matched. */
  committed(): number {
    return committedIndex(this.voters, (id) => (this.progress.get(id) as Progress).match);
  }

  /** Check-quorum: have a majority of voters (counting self) been heard from recently? */
  quorumActive(self: NodeId): boolean {
    let n = 0;
    for (const id of this.voters) {
      if (id === self || (this.progress.get(id) as Progress).recentActive) n++;
    }
    return n >= Math.floor(this.voters.length / 2) + 1;
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return { granted, rejected, result: voteResult(this.voters, this.votes) };
  }
}
