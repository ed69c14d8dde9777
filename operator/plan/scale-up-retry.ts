// After a failed scale-up or replacement the next one waits: 1 min after the first failure, doubling,
// at most 30 min; a spec change retries at once. A try that fails costs one MemberAdd and one
// MemberRemove of a learner, which never votes, so trying again is safe; a cluster left short of its
// members (e.g. one removed out of band, then a slow disk) is not.
import type { ScaleUpRetry } from '../api/types.js';
import type { Plan } from './action.js';
import { utcIso } from './cron.js';
import type { ObservedCluster } from './observed.js';

export const FIRST_RETRY_MS = 60_000;
export const MAX_RETRY_MS = 30 * 60_000;

export function retryDelayMs(failures: number): number {
  return Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(Math.max(failures - 1, 0), 16));
}

/** The plan, with one more failed scale-up at this generation recorded. */
export function recordScaleUpFailure(o: ObservedCluster, plan: Plan): Plan {
  const failures = (o.scaleUpBlockedGeneration === o.generation ? (o.scaleUpRetry?.failures ?? 0) : 0) + 1;
  return { ...plan, scaleUpBlockedGeneration: o.generation, scaleUpRetry: { failures, retryTime: utcIso(o.nowMs + retryDelayMs(failures)) } };
}

/** The next scale-up must wait: it failed at this generation and its retry time has not come. */
export function scaleUpWaiting(o: ObservedCluster): ScaleUpRetry | null {
  if (o.scaleUpBlockedGeneration !== o.generation) return null;
  // Recorded by an operator without retries: try again now (and record the backoff if it fails).
  if (o.scaleUpRetry === null) return null;
  return o.nowMs < Date.parse(o.scaleUpRetry.retryTime) ? o.scaleUpRetry : null;
}
