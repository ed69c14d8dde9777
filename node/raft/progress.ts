// The leader's flow control for one follower: probe (one append at a time until the
// follower's position is known), replicate (optimistic pipelining, bounded by inflights),
// snapshot (waiting for an InstallSnapshot to land).
import type { ProgressStateType, ProgressStatus } from './types.js';
import { Inflights } from './inflights.js';

export class Progress {
  match = 0;
  next: number;
  state: ProgressStateType = 'probe';
  /** The snapshot index while in 'snapshot' state. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** In probe: an append is outstanding. In replicate: inflights are full. */
  msgAppFlowPaused = false;
  isLearner: boolean;
  /** Heartbeat answers received while waiting in 'snapshot' state (for the lost-snapshot retry). */
  snapshotWaitHeartbeats = 0;
  readonly inflights: Inflights;

  constructor(next: number, isLearner: boolean, maxInflightMsgs: number, maxInflightBytes: number) {
    this.next = next;
    this.isLearner = isLearner;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
  }

  private resetState(state: ProgressStateType): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.snapshotWaitHeartbeats = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** Called when an append carrying entries up to lastIndex (count entries, bytes) is sent. */
  sentEntries(count: number, lastIndex: number, bytes: number): void {
    switch (this.state) {
      case 'replicate':
        if (count > 0) {
          this.next = lastIndex + 1;
          this.inflights.add(lastIndex, bytes);
        }
        this.msgAppFlowPaused = this.inflights.full();
        return;
      case 'probe':
        this.msgAppFlowPaused = true;
        return;
      case 'snapshot':
        throw new Error(`raft: sending append in unhandled state ${this.state}`);
    }
  }

  /** An acknowledgement up to n. Returns false when it is stale. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * A rejection of the append at index rejected; matchHint is the follower's guess of the
   * last index that may match. Returns false when the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
      case 'replicate':
        return this.msgAppFlowPaused;
      case 'snapshot':
        return true;
    }
  }

  toStatus(): ProgressStatus {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      isLearner: this.isLearner,
      recentActive: this.recentActive,
      pendingSnapshot: this.pendingSnapshot,
      inflightMsgs: this.inflights.countMsgs(),
    };
  }
}
