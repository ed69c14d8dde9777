// The bytes of a raft snapshot as the runtime writes them: the membership records and the
// state machine's own snapshot chunks, framed so they come back exactly as written.
//   "TSS1" | u32 membership JSON length | JSON | (u32 chunk length | chunk)*
// The bootstrap snapshot at index 0 carries the initial membership and no chunks.
// The JSON header also carries the auth state (users, roles, enabled, auth revision) under
// `auth`; a snapshot without it (older members) holds the initial auth state.

import type { AuthStateJSON } from '../mvcc/auth-store.js';
import { idFromJson, stringifyWithIds } from './ids.js';
import { memberRecordFromJson, type MembershipJSON as MembershipOnlyJSON } from './membership.js';

/** The JSON header: membership records plus the replicated auth state. */
export type MembershipJSON = MembershipOnlyJSON & { auth?: AuthStateJSON };

const MAGIC = Buffer.from('TSS1');

export class StateSnapshotError extends Error {
  readonly code = 'ErrStateSnapshot';
}

/** Allocates the whole snapshot and writes its header; returns the offset of the first chunk. */
function beginStateSnapshot(membership: MembershipJSON, chunks: readonly Uint8Array[]): { out: Buffer; off: number } {
  const json = Buffer.from(stringifyWithIds(membership));
  let size = 4 + 4 + json.byteLength;
  for (const c of chunks) size += 4 + c.byteLength;
  const out = Buffer.allocUnsafe(size);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(json.byteLength, 4);
  json.copy(out, 8);
  return { out, off: 8 + json.byteLength };
}

function putChunk(out: Buffer, off: number, c: Uint8Array): number {
  out.writeUInt32LE(c.byteLength, off);
  out.set(c, off + 4);
  return off + 4 + c.byteLength;
}

export function encodeStateSnapshot(membership: MembershipJSON, chunks: readonly Uint8Array[]): Buffer {
  const { out, off: first } = beginStateSnapshot(membership, chunks);
  let off = first;
  for (const c of chunks) off = putChunk(out, off, c);
  return out;
}

/** The JSON header's bytes parsed, ids made bigints. */
export function parseStateSnapshotHeader(json: Uint8Array): MembershipJSON {
  const parsed = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString('utf8')) as MembershipJSON;
  // Ids are decimal strings (numbers in snapshots written before ids were 64-bit).
  return { ...parsed, members: parsed.members.map(memberRecordFromJson), removed: parsed.removed.map((id) => idFromJson(id, 'removed member id')) };
}

/** Checks the magic of the first 8 bytes; returns the JSON header's length. */
export function stateSnapshotHeaderLength(first8: Uint8Array): number {
  const b = Buffer.from(first8.buffer, first8.byteOffset, first8.byteLength);
  if (b.byteLength < 8 || !b.subarray(0, 4).equals(MAGIC)) throw new StateSnapshotError('not a tsetcd state snapshot');
  return b.readUInt32LE(4);
}

export function decodeStateSnapshot(data: Uint8Array): { membership: MembershipJSON; chunks: Uint8Array[] } {
  const b = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const jlen = stateSnapshotHeaderLength(b);
  if (8 + jlen > b.byteLength) throw new StateSnapshotError('truncated state snapshot header');
  const membership = parseStateSnapshotHeader(b.subarray(8, 8 + jlen));
  const chunks: Uint8Array[] = [];
  let off = 8 + jlen;
  while (off < b.byteLength) {
    if (off + 4 > b.byteLength) throw new StateSnapshotError('truncated state snapshot chunk');
    const n = b.readUInt32LE(off);
    if (off + 4 + n > b.byteLength) throw new StateSnapshotError('truncated state snapshot chunk');
    chunks.push(b.subarray(off + 4, off + 4 + n));
    off += 4 + n;
  }
  return { membership, chunks };
}

/**
 * The same bytes as encodeStateSnapshot, part by part (storage's saveSnapshot takes an async
 * iterable). The store's chunks may come sync or async (a store reading values from disk).
 */
export async function* stateSnapshotParts(membership: MembershipJSON, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const json = Buffer.from(stringifyWithIds(membership));
  const head = Buffer.allocUnsafe(8);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(json.byteLength, 4);
  yield head;
  yield json;
  for await (const c of chunks) {
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32LE(c.byteLength, 0);
    yield len;
    yield c;
  }
}
