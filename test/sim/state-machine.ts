// The simulated application: a state machine whose whole state is a running hash of the
// entries applied so far. Two nodes agree on the state at index i exactly when they applied
// the same entries 1..i, which is what State Machine Safety asks. Snapshots carry the hash.
import type { Entry } from '../../node/raft/types.js';
import type { EntryId } from './checkers.js';

function mix(h: number, x: number): number {
  h = Math.imul(h ^ (x & 0xffff), 0x01000193);
  h = Math.imul(h ^ (x >>> 16), 0x01000193);
  // Terms and indexes stay below 2^32 in the simulator; fold the high part anyway.
  return Math.imul(h ^ Math.floor(x / 0x100000000), 0x01000193) >>> 0;
}

/**
 * A fingerprint of an entry's type and payload. Large payloads are sampled (length, head,
 * tail): simulator payloads start with a unique proposal id, so that is enough to tell
 * them apart without hashing every byte of a 1 KiB entry on every node.
 */
export function fingerprint(e: Entry): number {
  let h = 0x811c9dc5;
  h = mix(h, e.type === 'normal' ? 1 : 2);
  const d = e.data;
  const n = d.byteLength;
  h = mix(h, n);
  if (n <= 48) {
    for (let i = 0; i < n; i++) h = Math.imul(h ^ (d[i] as number), 0x01000193);
  } else {
    for (let i = 0; i < 32; i++) h = Math.imul(h ^ (d[i] as number), 0x01000193);
    for (let i = n - 16; i < n; i++) h = Math.imul(h ^ (d[i] as number), 0x01000193);
  }
  return h >>> 0;
}

export function entryId(e: Entry): EntryId {
  return { term: e.term, fp: fingerprint(e) };
}

/** The state after applying `e` to `state`. */
export function applyToState(state: number, e: Entry, fp: number): number {
  return mix(mix(mix(state, e.index), e.term), fp);
}

export function encodeState(state: number, index: number): Uint8Array {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, state);
  dv.setUint32(4, index);
  return b;
}

/** The state hash in a snapshot's data (0 for the empty bootstrap snapshot). */
export function decodeState(data: Uint8Array): number {
  if (data.byteLength < 4) return 0;
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
}

/** A proposal payload: 8 bytes of unique id, then padding up to `size` bytes. */
export function makePayload(id: number, size: number): Uint8Array {
  const b = new Uint8Array(Math.max(8, size));
  const dv = new DataView(b.buffer);
  dv.setUint32(0, Math.floor(id / 0x100000000));
  dv.setUint32(4, id >>> 0);
  for (let i = 8; i < b.byteLength; i++) b[i] = (id + i) & 0xff;
  return b;
}

export function payloadId(data: Uint8Array): number | undefined {
  if (data.byteLength < 8) return undefined;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return dv.getUint32(0) * 0x100000000 + dv.getUint32(4);
}
