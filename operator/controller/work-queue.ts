// A keyed, deduplicating work queue with per-key rate-limited backoff and delayed adds
// (the shape of client-go's workqueue): a key is never processed by two workers at once; a key added
// while being processed is processed again afterwards; the number of distinct keys is bounded.
import type { Clock } from './clock.js';

export interface WorkQueueOptions {
  baseDelayMs: number;
  maxDelayMs: number;
  /** Bound on distinct keys queued or waiting; adds beyond it are dropped (and counted). */
  maxKeys: number;
}

export const DEFAULT_QUEUE_OPTIONS: WorkQueueOptions = { baseDelayMs: 250, maxDelayMs: 60_000, maxKeys: 10_000 };

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; cancel: () => void }>();
  private waiters: Array<(key: string | null) => void> = [];
  private shut = false;
  dropped = 0;

  constructor(
    private readonly clock: Clock,
    private readonly opts: WorkQueueOptions = DEFAULT_QUEUE_OPTIONS,
  ) {}

  /** Keys waiting to be processed (not counting delayed ones). */
  depth(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shut) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    if (this.queued.size + this.delayed.size >= this.opts.maxKeys && !this.delayed.has(key)) {
      this.dropped++;
      return;
    }
    const w = this.waiters.shift();
    if (w !== undefined) {
      this.processing.add(key);
      w(key);
      return;
    }
    this.queued.add(key);
    this.queue.push(key);
  }

  /** Adds the key after a delay; an earlier pending delay for the key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shut) return;
    if (delayMs <= 0) return this.add(key);
    const at = this.clock.nowMs() + delayMs;
    const prev = this.delayed.get(key);
    if (prev !== undefined && prev.at <= at) return;
    prev?.cancel();
    const cancel = this.clock.after(delayMs, () => {
      this.delayed.delete(key);
      this.add(key);
    });
    this.delayed.set(key, { at, cancel });
  }

  /** Adds the key after its exponential backoff (base * 2^failures, capped). */
  addRateLimited(key: string): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.addAfter(key, this.backoffMs(n));
  }

  backoffMs(failures: number): number {
    return Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** Math.min(failures, 30));
  }

  /** Clears the key's backoff after a success. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves with the next key, or null once shut down. The caller must call done(key). */
  get(): Promise<string | null> {
    if (this.shut) return Promise.resolve(null);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  shutDown(): void {
    this.shut = true;
    for (const d of this.delayed.values()) d.cancel();
    this.delayed.clear();
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w(null);
  }
}
