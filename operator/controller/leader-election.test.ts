import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../node/log.js';
import { FakeClock } from './clock.js';
import { LeaderElector, LeaseConflictError, type LeaseApi, type LeaseRecord } from './leader-election.js';

class MemoryLease implements LeaseApi {
  record: LeaseRecord | null = null;
  private rv = 0;
  async get(): Promise<LeaseRecord | null> {
    return this.record ? { ...this.record } : null;
  }
  async create(r: LeaseRecord): Promise<void> {
    if (this.record) throw new LeaseConflictError('exists');
    this.record = { ...r, resourceVersion: String(++this.rv) };
  }
  async update(r: LeaseRecord): Promise<void> {
    if (!this.record || this.record.resourceVersion !== r.resourceVersion) throw new LeaseConflictError('conflict');
    this.record = { ...r, resourceVersion: String(++this.rv) };
  }
}

const opts = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe('LeaderElector', () => {
  it('only one of two replicas leads; the other takes over after the leader stops renewing', async () => {
    const clock = new FakeClock(1_000_000);
    const lease = new MemoryLease();
    const log: string[] = [];
    const mk = (id: string) =>
      new LeaderElector(lease, clock, { ...opts, identity: id }, silentLogger, {
        onStartedLeading: () => log.push(`${id}:start`),
        onStoppedLeading: () => log.push(`${id}:stop`),
      });
    const a = mk('a');
    const b = mk('b');
    await a.tick();
    await b.tick();
    expect(a.isLeader()).toBe(true);
    expect(b.isLeader()).toBe(false);
    // a keeps renewing: b never gets it
    for (let i = 0; i < 10; i++) {
      await a.tick();
      clock.advance(2_000);
      await b.tick();
    }
    expect(b.isLeader()).toBe(false);
    // a dies (stops renewing); b takes over only once the lease duration has passed since it saw a change
    clock.advance(14_000);
    await b.tick();
    expect(b.isLeader()).toBe(false);
    clock.advance(2_000);
    await b.tick();
    expect(b.isLeader()).toBe(true);
    expect(lease.record?.holderIdentity).toBe('b');
    expect(lease.record?.leaseTransitions).toBe(1);
    // a comes back and finds it lost: its renewal fails, and after the renew deadline it steps down
    await a.tick();
    clock.advance(10_000);
    await a.tick();
    expect(a.isLeader()).toBe(false);
    expect(log).toEqual(['a:start', 'b:start', 'a:stop']);
  });

  it('a leader that stops releases the Lease for an immediate takeover', async () => {
    const clock = new FakeClock(0);
    const lease = new MemoryLease();
    const cb = { onStartedLeading: () => {}, onStoppedLeading: () => {} };
    const a = new LeaderElector(lease, clock, { ...opts, identity: 'a' }, silentLogger, cb);
    const b = new LeaderElector(lease, clock, { ...opts, identity: 'b' }, silentLogger, cb);
    a.start();
    await flush();
    expect(a.isLeader()).toBe(true);
    await a.stop();
    await b.tick();
    expect(b.isLeader()).toBe(true);
  });
});
