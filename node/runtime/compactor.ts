// The compactor: physical compaction in bounded steps between loop turns (after a compaction
// entry is applied, the store drops old revisions a step at a time), and auto-compaction
// (etcd's v3compactor: periodic or revision retention), proposed by the leader.
//
// A long reader (a raft snapshot being written, a chunked range, an etcd-format snapshot stream)
// pins the revision it started at, and compaction stops short of it. Such held work is retried
// on a timer, not only after the next apply: on an idle member nothing else would resume it, and
// `compact --physical` and Defragment wait until it is really done (waitIdle).

import type { RuntimeMetrics } from './metrics.js';
import type { Scheduler } from './scheduler.js';
import type { StateMachine } from './state-machine.js';

/** Revisions dropped per compaction step. */
const COMPACT_STEP_REVISIONS = 2000;
/** How soon compaction held back by a pinned reader is tried again. */
export const HELD_COMPACTION_RETRY_MS = 100;

export interface AutoCompaction {
  readonly mode: 'periodic' | 'revision';
  readonly retentionMs: number;
  readonly retentionRevisions: number;
}

export interface CompactorOptions {
  readonly scheduler: Scheduler;
  readonly sm: Pick<StateMachine, 'compactStep' | 'physicalCompactionPending' | 'compactRevision' | 'currentRevision' | 'stats'>;
  /** Longest stretch of compacting before yielding to the event loop. */
  readonly sliceMs: number;
  readonly electionTimeoutMs: number;
  readonly metrics?: RuntimeMetrics | undefined;
  readonly stopped: () => boolean;
  readonly isLeader: () => boolean;
  /** Proposes a compaction to `revision` (auto-compaction). */
  readonly proposeCompaction: (revision: number) => void;
  /** Physical compaction threw: a broken invariant. */
  readonly onFatal: (err: unknown) => void;
  /** A run ended (the member may defragment now). */
  readonly onIdle?: () => void;
}

export class Compactor {
  private running = false;
  /** The retry timer's cancel while compaction is held back by a pin. */
  private heldRetry: (() => void) | undefined;
  private idleWaiters: Array<() => void> = [];
  /** The compaction revision the last measured physical compaction run finished (metrics). */
  private measuredRev = 0;
  private compactedRevisionsCounted = 0;
  private samples: Array<{ atMs: number; rev: number }> = [];
  private lastAutoCompactRev = 0;

  constructor(private readonly o: CompactorOptions) {}

  get isRunning(): boolean {
    return this.running;
  }

  /** Resolves when physical compaction has nothing left to do (held-back work included), or the member stops. */
  async waitIdle(): Promise<void> {
    if (this.running || this.heldRetry) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Runs physical compaction until nothing is left, in bounded steps. */
  kick(): void {
    if (this.running || this.o.stopped()) return;
    this.heldRetry?.();
    this.heldRetry = undefined;
    this.running = true;
    const { sm, scheduler: s } = this.o;
    const t0 = s.monoMs();
    void (async () => {
      try {
        for (;;) {
          const start = s.monoMs();
          let done = false;
          while (!done && s.monoMs() - start < this.o.sliceMs) done = sm.compactStep(COMPACT_STEP_REVISIONS);
          if (sm.compactRevision() !== this.measuredRev) this.o.metrics?.dbCompactionPauseMs.observe(s.monoMs() - start);
          if (done || this.o.stopped()) break;
          await s.yield();
        }
        // Kicked after every apply slice: only a run that followed a new compaction counts.
        const r = this.o.metrics;
        const dropped = sm.stats().compactedRevisions;
        if (r && dropped > this.compactedRevisionsCounted) r.dbCompactionKeys.inc(dropped - this.compactedRevisionsCounted);
        this.compactedRevisionsCounted = dropped;
        const rev = sm.compactRevision();
        if (r && rev !== this.measuredRev) {
          this.measuredRev = rev;
          r.dbCompactionTotalDurationMs.observe(s.monoMs() - t0);
          r.dbCompactionLast.set(s.nowMs() / 1000);
        }
      } catch (err) {
        this.o.onFatal(err);
      } finally {
        this.running = false;
        if (!this.o.stopped() && this.o.sm.physicalCompactionPending()) {
          this.heldRetry = s.after(HELD_COMPACTION_RETRY_MS, () => {
            this.heldRetry = undefined;
            this.kick();
            if (this.o.stopped()) this.releaseWaiters(); // kick() did nothing
          });
        } else {
          this.releaseWaiters();
          this.o.onIdle?.();
        }
      }
    })();
  }

  private releaseWaiters(): void {
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) w();
  }

  /** Auto-compaction's timer, as `every` schedules it (returns nothing when it is off). */
  autoCompactionTimer(ac: AutoCompaction): { intervalMs: number; run: () => void } | undefined {
    const { sm } = this.o;
    if (ac.mode === 'periodic' && ac.retentionMs > 0) {
      // Sample the revision regularly; compact (on the leader) to the newest sample that is
      // older than the retention window. etcd runs every min(retention, 1h) too.
      return {
        intervalMs: Math.max(100, Math.min(ac.retentionMs / 10, 5 * 60_000)),
        run: () => {
          const now = this.o.scheduler.nowMs();
          this.samples.push({ atMs: now, rev: sm.currentRevision() });
          let target = 0;
          while (this.samples.length > 0 && this.samples[0]!.atMs <= now - ac.retentionMs) target = this.samples.shift()!.rev;
          this.autoCompact(target);
        },
      };
    }
    if (ac.mode === 'revision' && ac.retentionRevisions > 0) {
      return {
        intervalMs: Math.min(5 * 60_000, Math.max(1000, this.o.electionTimeoutMs * 5)),
        run: () => this.autoCompact(sm.currentRevision() - ac.retentionRevisions),
      };
    }
    return undefined;
  }

  private autoCompact(rev: number): void {
    if (!this.o.isLeader() || rev <= 1 || rev <= this.lastAutoCompactRev || rev <= this.o.sm.compactRevision()) return;
    this.lastAutoCompactRev = rev;
    this.o.proposeCompaction(rev);
  }
}
