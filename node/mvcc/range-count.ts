// A range's live-key count at an older revision, without walking the range. kube-apiserver reads
// every page of a paged list at the first page's revision, and each page's answer carries the
// count of the whole rest of the range; etcd walks those keys for every page. When few keys
// changed since that revision, the index's count now, corrected key by key for what changed
// since, gives the same number.
import { inSkeyRange, type SkeyRange } from './bytes.js';
import type { RevLog } from './rev-log.js';
import type { KeyRec, Rev } from './store.js';

export interface CountSince {
  readonly log: RevLog;
  /** The revision the index's count is at (the log ends there). */
  readonly head: number;
  /** The range's live keys at head. */
  readonly liveAtHead: number;
  /** Whether a key is live at a revision (at or after the compaction revision). */
  readonly liveAt: (rec: KeyRec, rev: number) => boolean;
  /** More changes than this since `at`: undefined (walk instead), a walk costs less. */
  readonly budget: number;
}

/** Live keys of `range` at `at` (at <= head), or undefined when the log does not hold every change since, or they are over budget. */
export function liveCountSince(range: SkeyRange, at: number, o: CountSince): number | undefined {
  if (at >= o.head) return o.liveAtHead;
  if (!o.log.holds(at + 1) || !o.log.holds(o.head) || o.log.changesBetween(at + 1, o.head) > o.budget) return undefined;
  const seen = new Set<KeyRec>();
  let count = o.liveAtHead;
  const visit = (r: Rev): void => {
    const rec = r.rec;
    if (!inSkeyRange(range, rec.skey) || seen.has(rec)) return;
    seen.add(rec);
    // Each key that changed since `at` counts as it was then, not as it is now.
    count += (o.liveAt(rec, at) ? 1 : 0) - (o.liveAt(rec, o.head) ? 1 : 0);
  };
  for (let rev = at + 1; rev <= o.head; rev++) o.log.forEachAt(rev, visit);
  return count;
}
