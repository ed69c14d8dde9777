// A keep-alive for a lease the leader found expired, as etcd's lessor.Renew answers it: not a new
// TTL (the revoke is due or in flight, and would break it), not "gone" yet either (the revoke may
// be lost with the leadership, and the next leader extends and renews the lease). It waits, bounded,
// until the lease is gone (TTL 0, "not found") or this member is no longer the leader (notLeader:
// a forwarding follower retries with the new leader).

import { BackendError } from '../server/backend.js';
import type { Scheduler } from './scheduler.js';

export async function awaitExpiredLease(o: {
  readonly exists: () => boolean;
  readonly isLeader: () => boolean;
  readonly scheduler: Scheduler;
  readonly timeoutMs: number;
  readonly pollMs: number;
}): Promise<0> {
  const deadline = o.scheduler.monoMs() + o.timeoutMs;
  for (;;) {
    if (!o.exists()) return 0;
    if (!o.isLeader()) throw new BackendError('notLeader', 'etcdserver: not leader');
    if (o.scheduler.monoMs() > deadline) throw new BackendError('timeout', 'etcdserver: request timed out');
    await o.scheduler.sleep(o.pollMs);
  }
}
