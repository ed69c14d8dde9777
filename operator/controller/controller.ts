// The controller loop: workers take keys from the queue and run one reconcile pass each; results
// requeue with a delay, errors with per-key backoff; a periodic resync enqueues every known cluster.
import type { Logger } from '../../node/log.js';
import type { OperatorMetrics } from '../metrics.js';
import type { Clock } from './clock.js';
import type { WorkQueue } from './work-queue.js';

export interface ControllerOptions {
  workers: number;
  resyncMs: number;
}

export class Controller {
  private running = false;
  private workers: Array<Promise<void>> = [];
  private cancelResync: (() => void) | null = null;

  constructor(
    private readonly reconciler: { reconcile(namespace: string, name: string): Promise<{ requeueAfterMs: number | null }> },
    private readonly queue: WorkQueue,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly metrics: OperatorMetrics | null,
    private readonly opts: ControllerOptions,
    /** Every cluster key known (from the informer cache), for the periodic resync. */
    private readonly knownKeys: () => string[],
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < this.opts.workers; i++) this.workers.push(this.worker());
    const resync = (): void => {
      for (const k of this.knownKeys()) this.queue.add(k);
      this.metrics?.workqueueDepth.set(this.queue.depth());
      if (this.running) this.cancelResync = this.clock.after(this.opts.resyncMs, resync);
    };
    resync();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.cancelResync?.();
    this.queue.shutDown();
    await Promise.all(this.workers);
    this.workers = [];
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === null) return;
      this.metrics?.workqueueDepth.set(this.queue.depth());
      const [ns, name] = splitKey(key);
      const start = this.clock.nowMs();
      try {
        const res = await this.reconciler.reconcile(ns, name);
        this.queue.forget(key);
        this.metrics?.reconcileTotal.inc({ result: res.requeueAfterMs !== null ? 'requeue' : 'success' });
        if (res.requeueAfterMs !== null) this.queue.addAfter(key, res.requeueAfterMs);
      } catch (err: unknown) {
        this.metrics?.reconcileTotal.inc({ result: 'error' });
        this.log.warn('reconcile failed', { key, error: err instanceof Error ? err.message : String(err), retries: this.queue.failuresOf(key) });
        this.queue.addRateLimited(key);
      } finally {
        this.metrics?.reconcileDuration.observe((this.clock.nowMs() - start) / 1000);
        this.queue.done(key);
        this.metrics?.workqueueDepth.set(this.queue.depth());
      }
    }
  }
}

export function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return i < 0 ? ['', key] : [key.slice(0, i), key.slice(i + 1)];
}
