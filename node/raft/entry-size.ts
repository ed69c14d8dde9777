// Byte accounting for entries: what counts against maxSizePerMsg, inflight bytes and
// the uncommitted-size limit. The fixed overhead approximates the encoded header.
import type { Entry } from './types.js';

export const ENTRY_OVERHEAD_BYTES = 16;

/** Encoded-size estimate of one entry (payload plus header). */
export function entrySizeBytes(e: Entry): number {
  return e.data.byteLength + ENTRY_OVERHEAD_BYTES;
}

/** Payload bytes only: what the uncommitted-size limit counts (empty entries are free). */
export function payloadSizeBytes(ents: readonly Entry[]): number {
  let s = 0;
  for (let i = 0; i < ents.length; i++) s += (ents[i] as Entry).data.byteLength;
  return s;
}

/**
 * Returns the longest prefix of ents whose total size is within maxBytes, but always at
 * least one entry. Returns ents itself (no copy) when everything fits.
 */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySizeBytes(ents[0] as Entry);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySizeBytes(ents[n] as Entry);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}
