import { describe, expect, it } from 'vitest';
import { awaitExpiredLease } from './lease-renew.js';
import type { Scheduler } from './scheduler.js';

/** A scheduler whose clock moves only when slept on. */
function steppedScheduler(): Scheduler & { t: number } {
  const s = {
    t: 0,
    nowMs: () => s.t,
    monoMs: () => s.t,
    after: () => () => undefined,
    every: () => () => undefined,
    soon: (fn: () => void) => fn(),
    yield: async () => undefined,
    sleep: async (ms: number) => {
      s.t += ms;
    },
  };
  return s;
}

describe('awaitExpiredLease (etcd: Renew of an expired lease waits for its revoke)', () => {
  it('answers TTL 0 once the revoke has applied', async () => {
    const sched = steppedScheduler();
    await expect(awaitExpiredLease({ exists: () => sched.t < 300, isLeader: () => true, scheduler: sched, timeoutMs: 5000, pollMs: 50 })).resolves.toBe(0);
    expect(sched.t).toBe(300);
  });

  it('answers notLeader when the leadership is lost first (the revoke may be lost with it)', async () => {
    const sched = steppedScheduler();
    await expect(awaitExpiredLease({ exists: () => true, isLeader: () => sched.t < 200, scheduler: sched, timeoutMs: 5000, pollMs: 50 })).rejects.toMatchObject({ code: 'notLeader' });
  });

  it('gives up at the request timeout', async () => {
    const sched = steppedScheduler();
    await expect(awaitExpiredLease({ exists: () => true, isLeader: () => true, scheduler: sched, timeoutMs: 1000, pollMs: 50 })).rejects.toMatchObject({ code: 'timeout', message: 'etcdserver: request timed out' });
  });
});
