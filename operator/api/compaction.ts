// spec.compaction: the values a member accepts as --auto-compaction-mode / --auto-compaction-retention
// (node/config.ts parses them the same way). The CRD's CEL rule carries the same two patterns.
import type { CompactionMode } from './types.js';

/** revision mode: a whole number of revisions to keep. */
export const REVISION_RETENTION_PATTERN = /^[0-9]+$/;
/** periodic mode: whole hours ("1"), or a Go-style duration of ms/s/m/h parts ("30m", "1h30m", "1.5h"). */
export const PERIODIC_RETENTION_PATTERN = /^([0-9]+|([0-9]+([.][0-9]+)?(ms|s|m|h))+)$/;

export const COMPACTION_RETENTION_MESSAGE =
  'compaction.retention must be a whole number of revisions in revision mode (e.g. 10000), or whole hours or a duration ' +
  'in periodic mode (e.g. 1, 30m, 1h30m); 0 turns auto-compaction off';

export function compactionRetentionValid(mode: CompactionMode, retention: string): boolean {
  return (mode === 'revision' ? REVISION_RETENTION_PATTERN : PERIODIC_RETENTION_PATTERN).test(retention);
}
