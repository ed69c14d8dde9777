// Leader election on a coordination.k8s.io Lease, so two operator replicas can run safely: only the
// holder reconciles. Same rules as client-go's leaderelection: acquire when the Lease is free or its
// holder has not renewed within leaseDuration; renew every retryPeriod; step down (and stop) if a
// renewal has not succeeded within renewDeadline.
import type { Logger } from '../../node/log.js';
import type { Clock } from './clock.js';

export interface LeaseRecord {
  holderIdentity: string | null;
  leaseDurationSeconds: number;
  /** ms since the epoch. */
  acquireTimeMs: number | null;
  renewTimeMs: number | null;
  leaseTransitions: number;
  /** Opaque; update fails with LeaseConflictError if it changed. */
  resourceVersion: string | null;
}

export class LeaseConflictError extends Error {
  override readonly name = 'LeaseConflictError';
}

export interface LeaseApi {
  get(): Promise<LeaseRecord | null>;
  /** Creates the Lease; LeaseConflictError if it already exists. */
  create(r: LeaseRecord): Promise<void>;
  /** Replaces the Lease if r.resourceVersion still matches; LeaseConflictError otherwise. */
  update(r: LeaseRecord): Promise<void>;
}

export interface LeaderElectionOptions {
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private lastRenewMs = 0;
  private cancelTimer: (() => void) | null = null;
  /** When we last saw the record change (observed time, as client-go uses, not the holder's clock). */
  private observed: { record: LeaseRecord; atMs: number } | null = null;

  constructor(
    private readonly api: LeaseApi,
    private readonly clock: Clock,
    private readonly opts: LeaderElectionOptions,
    private readonly log: Logger,
    private readonly callbacks: { onStartedLeading: () => void; onStoppedLeading: () => void },
  ) {}

  isLeader(): boolean {
    return this.leading;
  }

  /** Runs attempts every retryPeriod until stop(). */
  start(): void {
    const loop = async (): Promise<void> => {
      await this.tick();
      if (!this.stopped) this.cancelTimer = this.clock.after(this.opts.retryPeriodMs, () => void loop());
    };
    void loop();
  }

  /** Stops trying; a leader releases the Lease so another replica can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    if (this.leading) {
      this.leading = false;
      try {
        const cur = await this.api.get();
        if (cur && cur.holderIdentity === this.opts.identity) {
          await this.api.update({ ...cur, holderIdentity: null, renewTimeMs: this.clock.nowMs(), leaseDurationSeconds: 1 });
        }
      } catch {
        // best effort
      }
      this.callbacks.onStoppedLeading();
    }
  }

  /** One attempt to acquire or renew. start() calls it periodically; tests call it directly. */
  async tick(): Promise<void> {
    if (this.stopped) return;
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (err: unknown) {
      this.log.warn('lease attempt failed', { error: err instanceof Error ? err.message : String(err) });
    }
    const now = this.clock.nowMs();
    if (ok) {
      this.lastRenewMs = now;
      if (!this.leading) {
        this.leading = true;
        this.log.info('became leader', { identity: this.opts.identity });
        this.callbacks.onStartedLeading();
      }
    } else if (this.leading && now - this.lastRenewMs >= this.opts.renewDeadlineMs) {
      this.leading = false;
      this.log.warn('lost leadership', { identity: this.opts.identity });
      this.callbacks.onStoppedLeading();
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock.nowMs();
    const me = this.opts.identity;
    const durationS = Math.ceil(this.opts.leaseDurationMs / 1000);
    const cur = await this.api.get();
    if (cur === null) {
      try {
        await this.api.create({ holderIdentity: me, leaseDurationSeconds: durationS, acquireTimeMs: now, renewTimeMs: now, leaseTransitions: 0, resourceVersion: null });
        return true;
      } catch (err: unknown) {
        if (err instanceof LeaseConflictError) return false;
        throw err;
      }
    }
    if (this.observed === null || this.observed.record.resourceVersion !== cur.resourceVersion) this.observed = { record: cur, atMs: now };
    const held = cur.holderIdentity !== null && cur.holderIdentity !== '';
    const expired = now >= this.observed.atMs + cur.leaseDurationSeconds * 1000;
    if (held && cur.holderIdentity !== me && !expired) return false;
    const next: LeaseRecord =
      cur.holderIdentity === me
        ? { ...cur, renewTimeMs: now, leaseDurationSeconds: durationS }
        : { ...cur, holderIdentity: me, acquireTimeMs: now, renewTimeMs: now, leaseDurationSeconds: durationS, leaseTransitions: cur.leaseTransitions + 1 };
    try {
      await this.api.update(next);
      return true;
    } catch (err: unknown) {
      if (err instanceof LeaseConflictError) return false;
      throw err;
    }
  }
}
