// ReadIndex batching (etcd's linearizableReadLoop): linearizable reads wait here. One ReadIndex
// round is in flight at a time; reads that arrive meanwhile share the next round. A round's reads
// are released once this member has applied up to the index the leader confirmed. A round with no
// answer is retried (etcd: every 500 ms); a leader change fails the round in flight, as etcd does.
// Every read waits at most the request timeout; one timer serves them all (fifo-timeouts.ts).

import type { NodeId, ReadState } from '../raft/index.js';
import { BackendError } from '../server/backend.js';
import { FifoTimeouts } from './fifo-timeouts.js';
import type { Scheduler } from './scheduler.js';

interface ReadWaiter {
  /** Its place in `pending` (reads are numbered as they come). */
  readonly key: number;
  readonly startedMs: number;
  resolve(): void;
  reject(e: unknown): void;
}

interface ReadBatch {
  ctx: string;
  waiters: ReadWaiter[];
  cancelRetry?: () => void;
}

export interface ReadIndexOptions {
  readonly id: NodeId;
  readonly scheduler: Scheduler;
  readonly timeoutMs: number;
  readonly retryMs: number;
  /** Hands a ReadIndex request with this context to raft (and runs the Ready loop). */
  readonly requestReadIndex: (ctx: Uint8Array) => void;
  readonly appliedIndex: () => number;
  readonly stopped: () => boolean;
  /** A round failed (leader change): etcd counts one, however many reads wait on it. */
  readonly onRoundFailed?: () => void;
  /** A round was retried for want of an answer. */
  readonly onRoundSlow?: () => void;
}

export class ReadIndexBatcher {
  private queue: ReadWaiter[] = [];
  private inflight: ReadBatch | undefined;
  private seq = 0;
  /** Rounds confirmed at an index not applied yet. */
  private appliedWaiters: Array<{ index: number; resolve: () => void }> = [];
  /** Every read not answered yet, for its timeout: a read answered or failed is taken out first. */
  private readonly pending: FifoTimeouts<ReadWaiter>;
  private readSeq = 0;

  constructor(private readonly o: ReadIndexOptions) {
    this.pending = new FifoTimeouts(o.scheduler, o.timeoutMs, (_key, w) => w.reject(new BackendError('timeout', 'etcdserver: request timed out')));
  }

  /** Reads not answered yet. */
  get waiting(): number {
    return this.pending.size;
  }

  private resolve(w: ReadWaiter): void {
    if (this.pending.take(w.key)) w.resolve();
  }

  private reject(w: ReadWaiter, err: unknown): void {
    if (this.pending.take(w.key)) w.reject(err);
  }

  /** Resolves once this member has applied everything committed before the call. */
  barrier(): Promise<void> {
    if (this.o.stopped()) return Promise.reject(new BackendError('stopped', 'etcdserver: server stopped'));
    return new Promise<void>((resolve, reject) => {
      const w: ReadWaiter = { key: ++this.readSeq, startedMs: this.o.scheduler.monoMs(), resolve, reject };
      this.pending.add(w.key, w);
      this.queue.push(w);
      if (!this.inflight) this.send();
    });
  }

  /** A ReadState from raft's Ready. */
  onReadState(rs: ReadState): void {
    const batch = this.inflight;
    if (!batch || Buffer.from(rs.requestCtx).toString('hex') !== batch.ctx) return;
    this.inflight = undefined;
    batch.cancelRetry?.();
    const done = (): void => {
      for (const w of batch.waiters) this.resolve(w);
    };
    if (rs.index <= this.o.appliedIndex()) done();
    else this.appliedWaiters.push({ index: rs.index, resolve: done });
    // Everything queued while this one was in flight goes in the next round.
    if (this.queue.length > 0) this.send();
  }

  /** The leader changed: the round in flight was confirmed by (or sent to) the old one. */
  onLeaderChange(): void {
    if (this.inflight) {
      const batch = this.inflight;
      this.inflight = undefined;
      batch.cancelRetry?.();
      const err = new BackendError('leaderChanged', 'etcdserver: leader changed');
      for (const w of batch.waiters) this.reject(w, err);
      this.o.onRoundFailed?.();
    }
    if (this.queue.length > 0) this.send();
  }

  /** Releases the rounds whose index is now applied. */
  onApplied(appliedIndex: number): void {
    if (this.appliedWaiters.length === 0) return;
    const still: typeof this.appliedWaiters = [];
    for (const w of this.appliedWaiters) {
      if (w.index <= appliedIndex) w.resolve();
      else still.push(w);
    }
    this.appliedWaiters = still;
  }

  failAll(err: unknown): void {
    if (this.inflight) {
      this.inflight.cancelRetry?.();
      for (const w of this.inflight.waiters) this.reject(w, err);
      this.inflight = undefined;
    }
    for (const w of this.queue) this.reject(w, err);
    this.queue = [];
    this.pending.release();
  }

  private nextCtx(): Buffer {
    const ctx = Buffer.alloc(16);
    ctx.writeBigUInt64LE(this.o.id, 0);
    ctx.writeDoubleLE(++this.seq, 8);
    return ctx;
  }

  private send(): void {
    if (this.queue.length === 0 || this.o.stopped()) return;
    const waiters = this.queue;
    this.queue = [];
    const ctx = this.nextCtx();
    const batch: ReadBatch = { ctx: ctx.toString('hex'), waiters };
    this.inflight = batch;
    this.o.requestReadIndex(ctx);
    // Retry if no answer comes (lost message, no leader yet).
    const retry = (): void => {
      if (this.inflight !== batch || this.o.stopped()) return;
      this.o.onRoundSlow?.();
      const c2 = this.nextCtx();
      batch.ctx = c2.toString('hex');
      this.o.requestReadIndex(c2);
      batch.cancelRetry = this.o.scheduler.after(this.o.retryMs, retry);
    };
    batch.cancelRetry = this.o.scheduler.after(this.o.retryMs, retry);
  }
}
