// Metrics of the apply loop that etcd has no name for. tsetcd_ prefix: a dashboard must not take
// them for etcd's.
//   tsetcd_server_apply_skipped_entries_total{kind}  committed entries that could not be decoded
//       and were skipped (entry-decode.ts). Every member skips the same entries, so this rises
//       on all members at once; any rise is worth an alert (it means a bug or a damaged log).
// ApplyDurations feeds etcd's etcd_server_apply_duration_seconds{version,op,success}: one
// observation per applied request, op named as etcd's dispatch names it (Put, Txn, AuthUserAdd,
// ClusterMemberAttrSet, DowngradeInfoSet, ...), success false for a request that failed at apply
// (a compacted revision counts as success, as in etcd). Tallied: no label lookup per entry.

import { Counter, type Histogram, type Registry } from 'prom-client';
import { HistogramTally } from '../server/counter-tally.js';

export const APPLY_SKIPPED_ENTRIES = 'tsetcd_server_apply_skipped_entries_total';

export interface ApplyMetrics {
  /** Label kind: entry-decode.ts SkipKind. */
  readonly skippedEntries: Counter<'kind'>;
}

/** Creates (or reuses, if already registered) the apply metrics on registry. */
export function createApplyMetrics(registry: Registry): ApplyMetrics {
  const existing = registry.getSingleMetric(APPLY_SKIPPED_ENTRIES);
  const skippedEntries =
    existing instanceof Counter
      ? (existing as Counter<'kind'>)
      : new Counter({ name: APPLY_SKIPPED_ENTRIES, help: 'Committed entries that could not be decoded and were skipped, alike on every member.', labelNames: ['kind'], registers: [registry] });
  return { skippedEntries };
}

type ApplyLabels = 'version' | 'op' | 'success';

/** etcd's op name for our mvcc and auth command types. */
export function applyOpName(kind: 'mvcc' | 'auth', type: string): string {
  const cap = type.charAt(0).toUpperCase() + type.slice(1);
  if (kind === 'mvcc') return cap;
  if (type.startsWith('user') || type.startsWith('role')) return `Auth${cap}`;
  return cap; // authEnable, authDisable, authStatus, authenticate
}

export class ApplyDurations {
  private readonly byOp = new Map<string, readonly [failed: HistogramTally<ApplyLabels>, ok: HistogramTally<ApplyLabels>]>();

  constructor(private readonly histogram: Histogram<ApplyLabels>) {}

  /** The tally for one op and outcome (created on first use; a tally never observed shows no series). */
  tally(op: string, success: boolean): HistogramTally<ApplyLabels> {
    let t = this.byOp.get(op);
    if (!t) {
      t = [new HistogramTally(this.histogram, { version: 'v3', op, success: 'false' }), new HistogramTally(this.histogram, { version: 'v3', op, success: 'true' })];
      this.byOp.set(op, t);
    }
    return t[success ? 1 : 0];
  }
}
