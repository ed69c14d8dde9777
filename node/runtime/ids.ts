// Member and cluster ids, derived like etcd's (server/etcdserver/api/membership/member.go):
// a member id is a hash of its sorted peer URLs and the cluster token (plus a time for members
// added at runtime, so a re-added member gets a fresh id); the cluster id is a hash of the
// sorted member ids. Ours use sha1 too but keep 53 bits, so ids are exact JS numbers (they
// still fit etcd's uint64), and are never 0 (0 means "none" in raft).

import { createHash } from 'node:crypto';

const MASK_53 = 2n ** 53n - 1n;

function hash53(text: string): number {
  const d = createHash('sha1').update(text).digest();
  const n = Number(d.readBigUInt64BE(0) & MASK_53);
  return n === 0 ? 1 : n;
}

export function memberIdOf(peerUrls: readonly string[], clusterToken: string, addedAtMs?: number): number {
  const parts = [...peerUrls].sort().join('');
  return hash53(parts + clusterToken + (addedAtMs === undefined ? '' : String(addedAtMs)));
}

export function clusterIdOf(memberIds: readonly number[]): number {
  const sorted = [...memberIds].sort((a, b) => a - b);
  return hash53(sorted.map((id) => id.toString(16).padStart(16, '0')).join(''));
}

export function hexId(id: number | bigint): string {
  return id.toString(16);
}
