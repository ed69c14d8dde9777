// What the crash-test child and its parent agree on.
import { payload } from './helpers.js';

export const CHILD_SEGMENT_SIZE_BYTES = 64 * 1024;

export function childSnapshotData(index: number): Uint8Array {
  return payload(index, 7, 3000);
}

/** Mostly small entries; every 7th is 300 KiB, so a kill often lands inside a multi-page write. */
export function childEntrySize(index: number): number {
  if (index % 7 === 0) return 300 * 1024;
  return 200 + ((index * 2654435761) % 1800);
}
