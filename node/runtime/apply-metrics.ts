// Metrics of the apply loop that etcd has no name for. tsetcd_ prefix: a dashboard must not take
// them for etcd's.
//   tsetcd_server_apply_skipped_entries_total{kind}  committed entries that could not be decoded
//       and were skipped (entry-decode.ts). Every member skips the same entries, so this rises
//       on all members at once; any rise is worth an alert (it means a bug or a damaged log).

import { Counter, type Registry } from 'prom-client';

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
