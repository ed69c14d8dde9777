// Compaction honoured, judged from the compactor's calls and the reads at older revisions (pure):
// - a read at revision r that answered data was not preceded by an acknowledged compaction past r
//   (etcd keeps revision C itself readable after Compact(C), and nothing before it);
// - a read refused as compacted gets etcd's answer (OUT_OF_RANGE, "etcdserver: mvcc: required
//   revision has been compacted") and some compaction past r had been sent before it answered;
// - a compaction refused as compacted had an earlier compaction at or past its revision.
// Watches canceled for compaction are judged in watch-check.ts; the final probes in run.ts.

import type { CallError } from './kv-client.js';
import type { Timed } from './lease-load.js';
import { COMPACTED_TEXT } from './watch-check.js';

export const OUT_OF_RANGE = 11;

export interface CompactCall extends Timed {
  readonly rev: number;
  /** Answered without error. */
  readonly ok: boolean;
}

/** A read at an older revision: its answer (ok) or its error. */
export interface HistoricalRead extends Timed {
  readonly rev: number;
  readonly ok: boolean;
}

const isCompacted = (e: CallError | undefined): boolean => e !== undefined && /compacted/.test(e.details);

export function checkCompaction(compactions: readonly CompactCall[], reads: readonly HistoricalRead[]): string[] {
  const problems: string[] = [];
  const wrongText = (what: string, e: CallError): void => {
    if (e.code !== OUT_OF_RANGE || e.details !== COMPACTED_TEXT) problems.push(`${what} refused with code ${e.code} ${JSON.stringify(e.details)}, not OUT_OF_RANGE ${JSON.stringify(COMPACTED_TEXT)}`);
  };
  for (const r of reads) {
    if (r.ok) {
      const c = compactions.find((c) => c.ok && c.rev > r.rev && c.ret < r.call);
      if (c) problems.push(`a read at revision ${r.rev} answered data after a compaction at ${c.rev} was acknowledged`);
      continue;
    }
    if (!isCompacted(r.error)) continue;
    wrongText(`a read at revision ${r.rev}`, r.error!);
    if (!compactions.some((c) => c.rev > r.rev && c.call < r.ret)) problems.push(`a read at revision ${r.rev} was refused as compacted before any compaction past it was sent`);
  }
  for (const c of compactions) {
    if (c.ok || !isCompacted(c.error)) continue;
    wrongText(`a compaction at ${c.rev}`, c.error!);
    if (!compactions.some((o) => o !== c && o.rev >= c.rev && o.call < c.ret)) problems.push(`a compaction at ${c.rev} was refused as compacted before any compaction at or past it was sent`);
  }
  return problems;
}
