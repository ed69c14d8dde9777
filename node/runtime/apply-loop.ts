// The apply loop (etcd's applyAll): applies committed entries and snapshots in order, in slices of
// at most sliceMs, yielding to the event loop between slices, so a burst of commits never delays
// a heartbeat by more than a slice. What applying one item means is the member's business
// (callbacks); this part owns the queue, the order, the slicing and the back-pressure figure.

import type { Entry, Snapshot } from '../raft/index.js';
import type { Scheduler } from './scheduler.js';

/** seq: the storage write (save number) that must be durable before the item is applied. */
export type ApplyItem = { kind: 'entry'; entry: Entry; seq: number } | { kind: 'snapshot'; snapshot: Snapshot; seq: number };

/** etcd's warnApplyDuration. */
const SLOW_APPLY_MS = 100;

export interface ApplyLoopOptions {
  readonly scheduler: Scheduler;
  readonly sliceMs: number;
  /** The last storage write known durable. */
  readonly durableSeq: () => number;
  readonly stopped: () => boolean;
  /** Applies one entry; returns the apply-duration tally of the request it carried, if any. */
  readonly applyEntry: (e: Entry) => { observe(seconds: number): void } | undefined;
  /** Restores a snapshot (may yield between chunks). */
  readonly applySnapshot: (s: Snapshot) => Promise<void>;
  /** After each slice of applies. */
  readonly afterSlice: () => void;
  /** An entry took longer than etcd's warnApplyDuration. */
  readonly onSlowApply?: () => void;
  /** A throw from applying: a broken invariant. */
  readonly onFatal: (err: unknown) => void;
  /** The loop went idle (the Ready loop may have paused on back-pressure). */
  readonly onIdle: () => void;
}

export class ApplyLoop {
  private queue: ApplyItem[] = [];
  private head = 0;
  private applying = false;

  constructor(private readonly o: ApplyLoopOptions) {}

  push(item: ApplyItem): void {
    this.queue.push(item);
  }

  /** Items waiting to be applied. */
  backlog(): number {
    return this.queue.length - this.head;
  }

  kick(): void {
    if (this.applying || !this.ready()) return;
    void this.drain();
  }

  private ready(): boolean {
    return this.head < this.queue.length && this.queue[this.head]!.seq <= this.o.durableSeq();
  }

  private async drain(): Promise<void> {
    if (this.applying) return;
    this.applying = true;
    const s = this.o.scheduler;
    try {
      while (this.ready() && !this.o.stopped()) {
        const sliceStart = s.monoMs();
        while (this.ready() && s.monoMs() - sliceStart < this.o.sliceMs) {
          const item = this.queue[this.head]!;
          this.queue[this.head] = undefined as unknown as ApplyItem;
          this.head++;
          if (item.kind === 'snapshot') {
            // A big state: restored chunk by chunk, yielding between chunks; a slice of its own.
            await this.o.applySnapshot(item.snapshot);
            break;
          }
          const t0 = s.monoMs();
          const tally = this.o.applyEntry(item.entry);
          const ms = s.monoMs() - t0;
          tally?.observe(ms / 1000);
          if (ms > SLOW_APPLY_MS) this.o.onSlowApply?.();
        }
        if (this.head > 4096 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        this.o.afterSlice();
        if (this.ready()) await s.yield();
      }
      if (this.head >= this.queue.length) {
        this.queue = [];
        this.head = 0;
      }
    } catch (err) {
      this.o.onFatal(err);
    } finally {
      this.applying = false;
    }
    this.o.onIdle();
  }
}
