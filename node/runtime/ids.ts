// Member and cluster ids, derived like etcd's (server/etcdserver/api/membership/member.go and
// cluster.go): a member id is the first 8 bytes (big endian) of the sha1 of its sorted peer URLs
// and the cluster token (plus a time for members added at runtime, so a re-added member gets a
// fresh id); the cluster id is the same prefix of the sha1 of the sorted member ids, each as 8
// big-endian bytes. Full uint64s, held as bigints; never 0 (0 means "none" in raft).
//
// On disk and between members, in JSON, an id is a decimal string (JSON has no 64-bit
// integers); files written when ids were numbers hold plain JSON numbers, which idFromJson reads
// too.

import { createHash } from 'node:crypto';

const UINT64_LIMIT = 2n ** 64n;

function sha1Prefix(data: string | Buffer): bigint {
  const n = createHash('sha1').update(data).digest().readBigUInt64BE(0);
  return n === 0n ? 1n : n;
}

export function memberIdOf(peerUrls: readonly string[], clusterToken: string, addedAtMs?: number): bigint {
  const parts = [...peerUrls].sort().join('');
  return sha1Prefix(parts + clusterToken + (addedAtMs === undefined ? '' : String(addedAtMs)));
}

export function clusterIdOf(memberIds: readonly bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const b = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => b.writeBigUInt64BE(id, 8 * i));
  return sha1Prefix(b);
}

export function hexId(id: number | bigint): string {
  return id.toString(16);
}

/** An id for JSON: a decimal string. */
export function idToJson(id: bigint): string {
  return id.toString();
}

/** An id from JSON: a decimal string, or a number written before ids were 64-bit. */
export function idFromJson(v: unknown, what = 'id'): bigint {
  if (typeof v === 'bigint' && v >= 0n && v < UINT64_LIMIT) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^[0-9]{1,20}$/.test(v)) {
    const n = BigInt(v);
    if (n < UINT64_LIMIT) return n;
  }
  throw new Error(`bad ${what} ${String(v)}: not a uint64`);
}

/** JSON.stringify that writes bigints (ids) as decimal strings. */
export function stringifyWithIds(v: unknown, space?: number): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), space);
}
