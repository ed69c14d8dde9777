// Proposal waiters (etcd's pkg/wait): a client's proposal waits here, by request id, until this
// member applies its entry (settle/fail) or the request timeout passes. The timeout error says
// whether the leader changed meanwhile, as etcd's does. One timer serves every waiter
// (fifo-timeouts.ts): they all share the timeout.

import { NONE, type NodeId } from '../raft/index.js';
import { BackendError } from '../server/backend.js';
import { FifoTimeouts } from './fifo-timeouts.js';
import type { Scheduler } from './scheduler.js';

interface Waiter {
  readonly startedMs: number;
  /** The leader when the proposal was made: the timeout error says whether it changed since. */
  readonly leader: NodeId;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

export interface ProposalWaitersOptions {
  readonly scheduler: Scheduler;
  readonly timeoutMs: number;
  /** The leader this member follows now. */
  readonly leader: () => NodeId;
  /** A proposal failed (timed out, refused, or answered with an error). */
  readonly onFailed?: () => void;
}

/** Latencies kept between two takeLatencies() calls, at most. */
const MAX_LATENCY_SAMPLES = 100_000;

export class ProposalWaiters {
  private readonly waiters: FifoTimeouts<Waiter>;
  /** propose -> applied latencies since the last takeLatencies(). */
  private latenciesMs: number[] = [];

  constructor(private readonly o: ProposalWaitersOptions) {
    this.waiters = new FifoTimeouts(o.scheduler, o.timeoutMs, (_id, w) => {
      this.o.onFailed?.();
      const leaderFailed = w.leader !== NONE && this.o.leader() !== w.leader;
      w.reject(
        leaderFailed
          ? new BackendError('timeoutDueToLeaderFail', 'etcdserver: request timed out, possibly due to previous leader failure')
          : new BackendError('timeout', 'etcdserver: request timed out'),
      );
    });
  }

  get size(): number {
    return this.waiters.size;
  }

  has(requestId: number): boolean {
    return this.waiters.has(requestId);
  }

  /** Registers a waiter for `requestId` (larger than any before it), then calls `submit` (which queues the proposal). */
  wait<T>(requestId: number, submit: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiters.add(requestId, { startedMs: this.o.scheduler.monoMs(), leader: this.o.leader(), resolve: resolve as (v: unknown) => void, reject });
      submit();
    });
  }

  /** Answers with the store's ApplyResult ({ ok: true, response } or { ok: false, error }), or a plain value. */
  settle(requestId: number, r: unknown): void {
    const w = this.take(requestId);
    if (!w) return;
    if (this.latenciesMs.length < MAX_LATENCY_SAMPLES) this.latenciesMs.push(this.o.scheduler.monoMs() - w.startedMs);
    const res = r as { ok: boolean; response?: unknown; error?: unknown };
    if (res && typeof res === 'object' && 'ok' in res) {
      if (res.ok) w.resolve(res.response);
      else {
        this.o.onFailed?.();
        w.reject(res.error);
      }
    } else {
      w.resolve(r);
    }
  }

  fail(requestId: number, err: unknown): void {
    const w = this.take(requestId);
    if (!w) return;
    this.o.onFailed?.();
    w.reject(err);
  }

  /** Rejects every waiter (the member stops); not counted as failed proposals. */
  failAll(err: unknown): void {
    for (const id of this.waiters.keys()) this.take(id)?.reject(err);
    this.waiters.release();
  }

  /** The latencies since the last call (for the periodic debug summary). */
  takeLatencies(): number[] {
    const l = this.latenciesMs;
    this.latenciesMs = [];
    return l;
  }

  private take(requestId: number): Waiter | undefined {
    return this.waiters.take(requestId);
  }
}
