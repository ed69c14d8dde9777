// What the crash-test child and its parent agree on.
import { payload } from './helpers.js';

export const CHILD_SEGMENT_SIZE_BYTES = 64 * 1024;

export function childSnapshotData(index: number): Uint8Array {
  return payload(index, 7, 3000);
}

export function childEntrySize(index: number): number {
  return 200 + ((index * 2654435761) % 1800);
}
