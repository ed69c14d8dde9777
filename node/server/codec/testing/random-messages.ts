// Seeded random messages for the codec tests (kv-codec.test.ts, txn-codec.test.ts,
// watch-codec.test.ts, lease-codec.test.ts): response objects shaped as the store makes them,
// with the absent, null and zero fields real answers have, and the odd values only proto-loader
// converts.

import type { TestRng } from '../../../mvcc/testing/rng.js';
import type {
  KeyValue,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseRevokeResponse,
  PutResponse,
  RangeResponse,
  ResponseHeader,
} from '../../../mvcc/types.js';

/** "1-3" as [1, 2, 3]; "5" as [5]. */
export function seedsFrom(text: string): number[] {
  const [a, b] = text.split('-').map(Number);
  return Array.from({ length: (b ?? a!) - a! + 1 }, (_, i) => a! + i);
}

/** What a call gave: its value, or its error's message. */
export function outcome(f: () => unknown): unknown {
  try {
    return { value: f() };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

const INTS = [0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 35 + 3, 2 ** 49, 2 ** 53 - 1];

export function int(rng: TestRng, signed: boolean): number {
  const v = rng.chance(0.5) ? rng.int(100_000) : rng.pick(INTS);
  return signed && rng.chance(0.1) ? -v : v;
}

/** A lease id: small, past 2^53, or negative (etcd's are int64). */
export function lease(rng: TestRng): bigint {
  const x = rng.next();
  if (x < 0.5) return BigInt(rng.int(100_000));
  if (x < 0.8) return 2n ** 62n + BigInt(rng.int(1_000_000));
  return -BigInt(1 + rng.int(2 ** 30)) * (rng.chance(0.5) ? 1n : 2n ** 33n);
}

export function bytes(rng: TestRng): Uint8Array {
  const n = rng.chance(0.1) ? 0 : rng.chance(0.9) ? rng.int(40) : 128 + rng.int(3000);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return rng.chance(0.2) ? new Uint8Array(b) : b;
}

/** A field left out, set to undefined or null, or given a value: all three happen in real answers. */
export function maybe<T>(rng: TestRng, v: () => T): T | undefined | null {
  const x = rng.next();
  return x < 0.1 ? undefined : x < 0.15 ? null : v();
}

/** A uint64 member or cluster id, often with the top bit set. */
function id(rng: TestRng): bigint {
  return rng.next() < 0.5 ? 2n ** 64n - 1n - BigInt(Math.floor(rng.next() * 1000)) : BigInt(Math.floor(rng.next() * 2 ** 53));
}

export function header(rng: TestRng): ResponseHeader {
  return { clusterId: id(rng), memberId: id(rng), revision: int(rng, true), raftTerm: int(rng, false) };
}

/** A header as the store leaves it inside a txn: the revision alone, often 0. */
export function innerHeader(rng: TestRng): ResponseHeader {
  return { clusterId: 0n, memberId: 0n, revision: rng.chance(0.5) ? 0 : int(rng, false), raftTerm: 0 };
}

export function keyValue(rng: TestRng): KeyValue {
  const o: Record<string, unknown> = {
    key: maybe(rng, () => bytes(rng)),
    createRevision: maybe(rng, () => int(rng, true)),
    modRevision: maybe(rng, () => int(rng, true)),
    version: maybe(rng, () => int(rng, true)),
    value: maybe(rng, () => bytes(rng)),
    lease: maybe(rng, () => lease(rng)),
  };
  return o as unknown as KeyValue;
}

export function rangeResponse(rng: TestRng, head = header): RangeResponse {
  const n = rng.chance(0.9) ? rng.int(4) : rng.int(300);
  return {
    header: maybe(rng, () => head(rng)),
    kvs: rng.chance(0.05) ? undefined : Array.from({ length: n }, () => keyValue(rng)),
    more: maybe(rng, () => rng.chance(0.5)),
    count: maybe(rng, () => int(rng, true)),
  } as unknown as RangeResponse;
}

export function putResponse(rng: TestRng, head = header): PutResponse {
  return { header: maybe(rng, () => head(rng)), prevKv: maybe(rng, () => keyValue(rng)) } as unknown as PutResponse;
}

/** A lease id as requests carry it and answers echo it: none (0), as lease() gives, or at 64 bits' edges. */
export function leaseId(rng: TestRng): bigint {
  const x = rng.next();
  if (x < 0.1) return 0n;
  // 2^64-1 is no int64, but protobufjs writes its low 64 bits as it does -1's.
  if (x < 0.25) return rng.pick([1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n]);
  return lease(rng);
}

/** A TTL in seconds: 0 (a keep-alive's answer for a lease that is gone), -1, a usual one, or any. */
function ttl(rng: TestRng): number {
  return rng.pick([0, -1, 1 + rng.int(3600), int(rng, true)]);
}

export function leaseKeepAliveResponse(rng: TestRng): LeaseKeepAliveResponse {
  return {
    header: maybe(rng, () => header(rng)),
    ID: maybe(rng, () => leaseId(rng)),
    TTL: maybe(rng, () => ttl(rng)),
  } as unknown as LeaseKeepAliveResponse;
}

/** A grant's error: mostly none (the store sends ''), else text of 1 to 4 UTF-8 bytes a character, up to past 40. */
function grantError(rng: TestRng): string {
  if (rng.chance(0.6)) return '';
  if (rng.chance(0.5)) return rng.pick(['etcdserver: requested lease not found', 'etcdserver: lease already exists', 'ø']);
  return Array.from({ length: rng.int(90) }, () => rng.pick(['a', ' ', 'é', 'ß', '鍵', '—', '🔑', '𝄞'])).join('');
}

export function leaseGrantResponse(rng: TestRng): LeaseGrantResponse {
  return { ...leaseKeepAliveResponse(rng), error: maybe(rng, () => grantError(rng)) } as unknown as LeaseGrantResponse;
}

export function leaseRevokeResponse(rng: TestRng): LeaseRevokeResponse {
  return { header: maybe(rng, () => header(rng)) } as unknown as LeaseRevokeResponse;
}

/** Values proto-loader converts (a string for bytes, an unsafe or fractional number, a non-boolean). */
function oddValue(rng: TestRng): unknown {
  return rng.pick(['a2V5', 2 ** 60, 1.5, -(2 ** 63), 'x', 1, {}, [1, 2]]);
}

/** Gives one field of `o` a value only proto-loader converts. */
export function spoil(rng: TestRng, o: Record<string, unknown>): void {
  const keys = Object.keys(o);
  if (keys.length > 0) o[rng.pick(keys)] = oddValue(rng);
}

/** Every plain object in a response (the response, its headers, ops, events, nested answers and kvs). */
export function objectsIn(v: unknown, out: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return out;
  if (!Array.isArray(v)) out.push(v as Record<string, unknown>);
  for (const x of Object.values(v)) objectsIn(x, out);
  return out;
}
